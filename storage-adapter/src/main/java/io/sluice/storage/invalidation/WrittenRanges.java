package io.sluice.storage.invalidation;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Accumulates what writes touched, per tenant and metric, as one time range each (from the oldest to the newest
 * sample, in whole minutes), and turns it into a bounded list of {@link DataChange}s: at most {@link #MAX_RANGES}
 * ranges and {@link #MAX_NAME_CHARS} characters of tenant and metric names; beyond that, one range per tenant for
 * any metric, and beyond that again one range for every tenant. Not thread-safe.
 */
public final class WrittenRanges {

    /**
     * Most (tenant, metric) ranges one announcement lists. A constant, not a setting: it only bounds the size of a
     * control message (with {@link #MAX_NAME_CHARS}, well under Kafka's default 1 MB record limit), and past it the
     * announcement is coarser (per tenant), never lost.
     */
    public static final int MAX_RANGES = 1_000;
    /** Most characters of tenant and metric names one announcement carries. */
    public static final int MAX_NAME_CHARS = 256 * 1024;
    static final long MINUTE_MS = 60_000;

    /** Per tenant, per metric (null: any metric), {min, max} sample timestamp. */
    private final Map<String, Map<String, long[]>> ranges = new HashMap<>();
    private int count;

    /**
     * The slot of one tenant's metric, to {@link #touch} once per sample (a caller looks it up once per series).
     */
    public long[] slot(String tenant, String metric) {
        return ranges.computeIfAbsent(tenant, t -> new HashMap<>()).computeIfAbsent(metric, m -> {
            count++;
            return new long[] {Long.MAX_VALUE, Long.MIN_VALUE};
        });
    }

    /** Widens a slot to cover {@code timestampMs}. */
    public static void touch(long[] slot, long timestampMs) {
        if (timestampMs < slot[0]) {
            slot[0] = timestampMs;
        }
        if (timestampMs > slot[1]) {
            slot[1] = timestampMs;
        }
    }

    /** Adds a change (merged into what is there). */
    public void add(DataChange change) {
        if (change.tenant() == null) {
            if (every == null) {
                every = new long[] {Long.MAX_VALUE, Long.MIN_VALUE};
            }
            touch(every, change.fromMs());
            touch(every, change.toMs());
            return;
        }
        long[] slot = slot(change.tenant(), change.metric());
        touch(slot, change.fromMs());
        touch(slot, change.toMs());
    }

    /** The range of the changes of every tenant added, null while there is none. */
    private long[] every;

    public boolean isEmpty() {
        return count == 0 && every == null;
    }

    /** The ranges, bounded as the class describes, widened to whole minutes. */
    public List<DataChange> changes() {
        List<DataChange> exact = new ArrayList<>();
        long from = Long.MAX_VALUE;
        long to = Long.MIN_VALUE;
        long chars = 0;
        for (Map.Entry<String, Map<String, long[]>> tenant : ranges.entrySet()) {
            for (Map.Entry<String, long[]> metric : tenant.getValue().entrySet()) {
                long[] r = metric.getValue();
                if (r[0] > r[1]) {
                    continue; // a slot never touched
                }
                from = Math.min(from, r[0]);
                to = Math.max(to, r[1]);
                chars += tenant.getKey().length() + (metric.getKey() == null ? 0 : metric.getKey().length());
                exact.add(change(tenant.getKey(), metric.getKey(), r[0], r[1]));
            }
        }
        if (every != null) {
            return List.of(change(null, null, Math.min(from, every[0]), Math.max(to, every[1])));
        }
        if (exact.isEmpty()) {
            return List.of();
        }
        if (exact.size() <= MAX_RANGES && chars <= MAX_NAME_CHARS) {
            return exact;
        }
        Map<String, long[]> perTenant = new HashMap<>();
        long tenantChars = 0;
        for (DataChange c : exact) {
            long[] r = perTenant.get(c.tenant());
            if (r == null) {
                r = new long[] {Long.MAX_VALUE, Long.MIN_VALUE};
                perTenant.put(c.tenant(), r);
                tenantChars += c.tenant().length();
            }
            touch(r, c.fromMs());
            touch(r, c.toMs());
        }
        if (perTenant.size() > MAX_RANGES || tenantChars > MAX_NAME_CHARS) {
            return List.of(change(null, null, from, to));
        }
        List<DataChange> coarse = new ArrayList<>(perTenant.size());
        perTenant.forEach((tenant, r) -> coarse.add(change(tenant, null, r[0], r[1])));
        return coarse;
    }

    private static DataChange change(String tenant, String metric, long fromMs, long toMs) {
        return new DataChange(tenant, metric, floorMinute(fromMs), ceilMinuteEnd(toMs));
    }

    private static long floorMinute(long ms) {
        return ms == Long.MIN_VALUE ? ms : Math.floorDiv(ms, MINUTE_MS) * MINUTE_MS;
    }

    /** The last millisecond of ms's minute. */
    private static long ceilMinuteEnd(long ms) {
        if (ms >= Long.MAX_VALUE - MINUTE_MS) {
            return Long.MAX_VALUE;
        }
        return Math.floorDiv(ms, MINUTE_MS) * MINUTE_MS + MINUTE_MS - 1;
    }
}
