package io.sluice.config;

import java.time.Duration;
import java.util.List;

/** How to reach Kafka. */
public record KafkaConfig(List<String> bootstrapServers, String clientId, Duration requestTimeout, String topicPrefix,
                          int partitions, int replicationFactor) {

    public KafkaConfig {
        bootstrapServers = List.copyOf(bootstrapServers);
    }

    /** Bootstrap servers as Kafka's clients take them: {@code host:port,host:port}. */
    public String bootstrapString() {
        return String.join(",", bootstrapServers);
    }

    /** The topic's full name: {@code metrics} → {@code sluice.metrics}. */
    public String topic(String name) {
        return topicPrefix + name;
    }

    public KafkaConfig withBootstrapServers(String bootstrap) {
        return new KafkaConfig(Values.list(bootstrap), clientId, requestTimeout, topicPrefix, partitions,
                replicationFactor);
    }
}
