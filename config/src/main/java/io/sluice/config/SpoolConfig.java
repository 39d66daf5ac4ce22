package io.sluice.config;

import java.nio.file.Path;
import java.time.Duration;

/** The local disk spool that holds accepted data while Kafka is unavailable. */
public record SpoolConfig(Path dir, long maxBytes, int segmentBytes, Duration fsyncInterval) {

    public SpoolConfig withDir(Path newDir) {
        return new SpoolConfig(newDir, maxBytes, segmentBytes, fsyncInterval);
    }
}
