package io.sluice.config;

import java.time.Duration;
import java.util.List;

/**
 * How to reach Kafka. {@code adminTimeout} is the deadline of one admin call (topic checks and creation,
 * the readiness check), shorter than {@code requestTimeout} so that nothing waits long on a frozen broker.
 */
public record KafkaConfig(List<String> bootstrapServers, String clientId, Duration requestTimeout, String topicPrefix,
                          int partitions, int replicationFactor, Duration adminTimeout) {

    /** Default deadline of one Kafka admin call ({@code kafka.admin-timeout}). */
    public static final Duration DEFAULT_ADMIN_TIMEOUT = Duration.ofSeconds(5);

    public KafkaConfig {
        bootstrapServers = List.copyOf(bootstrapServers);
    }

    public KafkaConfig(List<String> bootstrapServers, String clientId, Duration requestTimeout, String topicPrefix,
                       int partitions, int replicationFactor) {
        this(bootstrapServers, clientId, requestTimeout, topicPrefix, partitions, replicationFactor,
                DEFAULT_ADMIN_TIMEOUT);
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
                replicationFactor, adminTimeout);
    }
}
