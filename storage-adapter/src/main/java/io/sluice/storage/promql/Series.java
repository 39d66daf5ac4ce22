package io.sluice.storage.promql;

import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;

/**
 * One time series: its labels (the metric name under {@code __name__} where it has one) and its points, ascending by
 * time with one value per timestamp. What a {@link SampleSource} reads and what a range query answers.
 *
 * <p>A value may be Prometheus' staleness marker ({@link #STALE_NAN_BITS}): sources keep it as stored; the engine
 * never returns it.
 *
 * @param labels     sorted by name, unmodifiable
 * @param timestamps milliseconds since the Unix epoch, ascending, no duplicates
 * @param values     one per timestamp
 */
public record Series(SortedMap<String, String> labels, long[] timestamps, double[] values) {

    /** The bits of the NaN that Prometheus writes as a staleness marker (a series ended). */
    public static final long STALE_NAN_BITS = 0x7ff0000000000002L;

    public Series {
        Objects.requireNonNull(labels);
        if (timestamps.length != values.length) {
            throw new IllegalArgumentException(timestamps.length + " timestamps but " + values.length + " values");
        }
    }

    /** Whether a value is the staleness marker (and not any other NaN). */
    public static boolean isStale(double value) {
        return Double.doubleToRawLongBits(value) == STALE_NAN_BITS;
    }

    /** The metric name, or null when the series has none. */
    public String name() {
        return labels.get("__name__");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Series s && labels.equals(s.labels) && Arrays.equals(timestamps, s.timestamps)
                && Arrays.equals(values, s.values);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * labels.hashCode() + Arrays.hashCode(timestamps)) + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder().append(labels).append(' ');
        for (int i = 0; i < timestamps.length; i++) {
            out.append(i == 0 ? "" : " ").append(values[i]).append('@').append(timestamps[i]);
        }
        return out.toString();
    }

    /** Labels as a copy sorted by name. */
    public static SortedMap<String, String> sorted(Map<String, String> labels) {
        return java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(labels));
    }
}
