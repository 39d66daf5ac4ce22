package io.sluice.storage.invalidation;

/**
 * What one writer commit (or several, merged) changed: samples of {@code metric} of {@code tenant} with timestamps
 * in {@code [fromMs, toMs]} (both inclusive, widened to whole minutes by the writer). A null {@code metric} is any
 * metric of the tenant, a null {@code tenant} every tenant (the fallbacks that keep an announcement bounded).
 */
public record DataChange(String tenant, String metric, long fromMs, long toMs) {

    public DataChange {
        if (fromMs > toMs) {
            throw new IllegalArgumentException("fromMs " + fromMs + " is after toMs " + toMs);
        }
        if (tenant == null && metric != null) {
            throw new IllegalArgumentException("a change of every tenant covers every metric");
        }
    }

    /** Everything, at any time: what a gap in the announcements stands for. */
    public static DataChange everything() {
        return new DataChange(null, null, Long.MIN_VALUE, Long.MAX_VALUE);
    }

    /** Whether this change can alter an answer with that footprint. */
    public boolean overlaps(CacheFootprint footprint) {
        if (tenant != null && !tenant.equals(footprint.tenant())) {
            return false;
        }
        if (metric != null && !footprint.anyMetric() && !footprint.metrics().contains(metric)) {
            return false;
        }
        return fromMs <= footprint.toMs() && footprint.fromMs() <= toMs;
    }
}
