package io.sluice.storage.invalidation;

import java.util.Set;

/**
 * What a cached answer was computed from: samples of {@code tenant}, of the metrics named in {@code metrics} (empty:
 * any metric, for an answer whose metrics are not known in advance, such as a PromQL selector without a name),
 * with timestamps in {@code [fromMs, toMs]} (both inclusive). A cache registers each entry's footprint with
 * {@link Invalidations}; a {@link DataChange} that overlaps it drops the entry.
 */
public record CacheFootprint(String tenant, Set<String> metrics, long fromMs, long toMs) {

    public CacheFootprint {
        if (tenant == null) {
            throw new IllegalArgumentException("a footprint belongs to one tenant");
        }
        if (fromMs > toMs) {
            throw new IllegalArgumentException("fromMs " + fromMs + " is after toMs " + toMs);
        }
        metrics = Set.copyOf(metrics);
    }

    /** An answer about one metric. */
    public static CacheFootprint of(String tenant, String metric, long fromMs, long toMs) {
        return new CacheFootprint(tenant, Set.of(metric), fromMs, toMs);
    }

    /** An answer that may have read any metric of the tenant. */
    public static CacheFootprint anyMetric(String tenant, long fromMs, long toMs) {
        return new CacheFootprint(tenant, Set.of(), fromMs, toMs);
    }

    public boolean anyMetric() {
        return metrics.isEmpty();
    }
}
