package io.sluice.protocol.record;

import static io.sluice.protocol.codec.Checks.checkPositive;

/**
 * The limits a reader of the record encoding enforces, so that one batch or segment cannot make it
 * allocate or loop without bound.
 *
 * <table>
 *   <caption>Limits</caption>
 *   <tr><th>setting</th><th>default</th><th>rejected with</th></tr>
 *   <tr><td>maxStringBytes</td><td>{@value #DEFAULT_MAX_STRING_BYTES}</td><td>LIMIT_EXCEEDED</td></tr>
 *   <tr><td>maxLabelsPerSeries</td><td>{@value #DEFAULT_MAX_LABELS_PER_SERIES}</td><td>LIMIT_EXCEEDED</td></tr>
 *   <tr><td>maxAttributesPerEvent</td><td>{@value #DEFAULT_MAX_ATTRIBUTES_PER_EVENT}</td><td>LIMIT_EXCEEDED</td></tr>
 *   <tr><td>maxSeriesPerDictionary</td><td>{@value #DEFAULT_MAX_SERIES_PER_DICTIONARY}</td><td>LIMIT_EXCEEDED</td></tr>
 *   <tr><td>maxRecordsPerBlock</td><td>{@value #DEFAULT_MAX_RECORDS_PER_BLOCK}</td><td>LIMIT_EXCEEDED</td></tr>
 *   <tr><td>maxBlockBytes (uncompressed)</td><td>{@value #DEFAULT_MAX_BLOCK_BYTES}</td><td>FRAME_TOO_LARGE</td></tr>
 * </table>
 */
public final class RecordLimits {

    public static final int DEFAULT_MAX_STRING_BYTES = 4096;
    public static final int DEFAULT_MAX_LABELS_PER_SERIES = 32;
    public static final int DEFAULT_MAX_ATTRIBUTES_PER_EVENT = 64;
    public static final int DEFAULT_MAX_SERIES_PER_DICTIONARY = 100_000;
    public static final int DEFAULT_MAX_RECORDS_PER_BLOCK = 1_000_000;
    public static final int DEFAULT_MAX_BLOCK_BYTES = 16 * 1024 * 1024;

    /** The defaults above. */
    public static final RecordLimits DEFAULTS = builder().build();

    private final int maxStringBytes;
    private final int maxLabelsPerSeries;
    private final int maxAttributesPerEvent;
    private final int maxSeriesPerDictionary;
    private final int maxRecordsPerBlock;
    private final int maxBlockBytes;

    private RecordLimits(Builder b) {
        maxStringBytes = b.maxStringBytes;
        maxLabelsPerSeries = b.maxLabelsPerSeries;
        maxAttributesPerEvent = b.maxAttributesPerEvent;
        maxSeriesPerDictionary = b.maxSeriesPerDictionary;
        maxRecordsPerBlock = b.maxRecordsPerBlock;
        maxBlockBytes = b.maxBlockBytes;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Longest string (metric name, label, event field) in UTF-8 bytes. */
    public int maxStringBytes() {
        return maxStringBytes;
    }

    public int maxLabelsPerSeries() {
        return maxLabelsPerSeries;
    }

    public int maxAttributesPerEvent() {
        return maxAttributesPerEvent;
    }

    /** Most series one dictionary (one connection, or one segment) may define. */
    public int maxSeriesPerDictionary() {
        return maxSeriesPerDictionary;
    }

    /** Most samples plus events in one block. */
    public int maxRecordsPerBlock() {
        return maxRecordsPerBlock;
    }

    /** Largest uncompressed records block; bounds what an LZ4 block may decompress to. */
    public int maxBlockBytes() {
        return maxBlockBytes;
    }

    @Override
    public String toString() {
        return "RecordLimits{maxStringBytes=" + maxStringBytes + ", maxLabelsPerSeries=" + maxLabelsPerSeries
                + ", maxAttributesPerEvent=" + maxAttributesPerEvent + ", maxSeriesPerDictionary="
                + maxSeriesPerDictionary + ", maxRecordsPerBlock=" + maxRecordsPerBlock + ", maxBlockBytes="
                + maxBlockBytes + '}';
    }

    /** Builds {@link RecordLimits}; every setter rejects values that are not positive. */
    public static final class Builder {
        private int maxStringBytes = DEFAULT_MAX_STRING_BYTES;
        private int maxLabelsPerSeries = DEFAULT_MAX_LABELS_PER_SERIES;
        private int maxAttributesPerEvent = DEFAULT_MAX_ATTRIBUTES_PER_EVENT;
        private int maxSeriesPerDictionary = DEFAULT_MAX_SERIES_PER_DICTIONARY;
        private int maxRecordsPerBlock = DEFAULT_MAX_RECORDS_PER_BLOCK;
        private int maxBlockBytes = DEFAULT_MAX_BLOCK_BYTES;

        private Builder() {
        }

        public Builder maxStringBytes(int v) {
            maxStringBytes = checkPositive(v, "maxStringBytes");
            return this;
        }

        public Builder maxLabelsPerSeries(int v) {
            maxLabelsPerSeries = checkPositive(v, "maxLabelsPerSeries");
            return this;
        }

        public Builder maxAttributesPerEvent(int v) {
            maxAttributesPerEvent = checkPositive(v, "maxAttributesPerEvent");
            return this;
        }

        public Builder maxSeriesPerDictionary(int v) {
            maxSeriesPerDictionary = checkPositive(v, "maxSeriesPerDictionary");
            return this;
        }

        public Builder maxRecordsPerBlock(int v) {
            maxRecordsPerBlock = checkPositive(v, "maxRecordsPerBlock");
            return this;
        }

        public Builder maxBlockBytes(int v) {
            maxBlockBytes = checkPositive(v, "maxBlockBytes");
            if (v < RecordFormat.HEADER_BYTES) {
                throw new IllegalArgumentException("maxBlockBytes: " + v + " (expected: >= " + RecordFormat.HEADER_BYTES + ")");
            }
            return this;
        }

        public RecordLimits build() {
            return new RecordLimits(this);
        }
    }
}
