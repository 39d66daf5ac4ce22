package io.sluice.config;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The local disk spool that holds accepted data while Kafka is unavailable, and how long an ingest waits
 * for Kafka before it spools instead.
 */
public record SpoolConfig(Path dir, long maxBytes, int segmentBytes, Duration fsyncInterval, Duration kafkaSendTimeout) {

    /** Default time an ingest waits for Kafka before spooling ({@code kafka.send-timeout}). */
    public static final Duration DEFAULT_KAFKA_SEND_TIMEOUT = Duration.ofSeconds(5);

    public SpoolConfig(Path dir, long maxBytes, int segmentBytes, Duration fsyncInterval) {
        this(dir, maxBytes, segmentBytes, fsyncInterval, DEFAULT_KAFKA_SEND_TIMEOUT);
    }

    public SpoolConfig withDir(Path newDir) {
        return new SpoolConfig(newDir, maxBytes, segmentBytes, fsyncInterval, kafkaSendTimeout);
    }
}
