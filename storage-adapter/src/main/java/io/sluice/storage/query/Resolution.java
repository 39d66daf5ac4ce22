package io.sluice.storage.query;

import java.time.Duration;

/** Which table a query reads: raw samples, or the 1-minute or 1-hour rollups. */
public enum Resolution {
    RAW("raw", Duration.ZERO, "sample_chunks"),
    MINUTE("1m", Duration.ofMinutes(1), "rollups_1m"),
    HOUR("1h", Duration.ofHours(1), "rollups_1h");

    private final String wireName;
    private final Duration size;
    private final String table;

    Resolution(String wireName, Duration size, String table) {
        this.wireName = wireName;
        this.size = size;
        this.table = table;
    }

    public String wireName() {
        return wireName;
    }

    /** The width of one stored row (zero for raw samples). */
    public Duration size() {
        return size;
    }

    String table() {
        return table;
    }

    /** Raw for steps under a minute, 1-minute rollups under an hour, 1-hour rollups beyond. */
    public static Resolution forStep(Duration step) {
        if (step.compareTo(Duration.ofMinutes(1)) < 0) {
            return RAW;
        }
        return step.compareTo(Duration.ofHours(1)) < 0 ? MINUTE : HOUR;
    }
}
