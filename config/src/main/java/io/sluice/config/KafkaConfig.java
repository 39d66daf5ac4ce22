package io.sluice.config;

import java.time.Duration;
import java.util.List;

/** How to reach Kafka. */
public record KafkaConfig(List<String> bootstrapServers, String clientId, Duration requestTimeout) {

    public KafkaConfig {
        bootstrapServers = List.copyOf(bootstrapServers);
    }

    /** Bootstrap servers as Kafka's clients take them: {@code host:port,host:port}. */
    public String bootstrapString() {
        return String.join(",", bootstrapServers);
    }

    public KafkaConfig withBootstrapServers(String bootstrap) {
        return new KafkaConfig(Values.list(bootstrap), clientId, requestTimeout);
    }
}
