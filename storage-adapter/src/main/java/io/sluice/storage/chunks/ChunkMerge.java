package io.sluice.storage.chunks;

import java.util.Arrays;
import java.util.Comparator;

/**
 * The samples of one series' chunks merged into timestamp order with each timestamp once: the one duplicate rule,
 * applied the same way by compaction and by every query that reads raw samples.
 *
 * <p><b>The rule.</b> The writer stores a (series, timestamp) at most once, so a duplicate should never exist; when
 * one does (a damaged or hand-made row), the value of the chunk that comes first in {@code (min_ms, ctid)} order
 * wins, and within one chunk the first in the chunk. Callers {@link #add} the chunks in that order; values are kept
 * bit-exact (NaN payloads such as Prometheus' staleness marker included).
 *
 * <p>Not thread-safe; reusable after {@link #clear()}.
 */
public final class ChunkMerge {

    private long[] timestamps = new long[256];
    private double[] values = new double[256];
    private int size;
    private boolean sorted = true;
    private boolean merged;
    private long duplicates;

    /** Adds the samples of the next chunk, which must come after every chunk added before in (min_ms, ctid) order. */
    public void add(byte[] chunk) {
        append(chunk);
    }

    /**
     * {@link #add(byte[])}, and how many of the chunk's samples lie in {@code [fromMs, toMs]} (a reader's share of
     * its budget).
     */
    public long add(byte[] chunk, long fromMs, long toMs) {
        int before = size;
        append(chunk);
        long inRange = 0;
        for (int i = before; i < size; i++) {
            if (timestamps[i] >= fromMs && timestamps[i] <= toMs) {
                inRange++;
            }
        }
        return inRange;
    }

    private void append(byte[] chunk) {
        if (merged) {
            throw new IllegalStateException("merged already; clear() first");
        }
        int n = SampleChunks.count(chunk);
        if (size + n > timestamps.length) {
            int capacity = Math.max(size + n, timestamps.length * 2);
            timestamps = Arrays.copyOf(timestamps, capacity);
            values = Arrays.copyOf(values, capacity);
        }
        SampleChunks.decodeInto(chunk, timestamps, values, size);
        for (int i = Math.max(size, 1); i < size + n && sorted; i++) {
            if (timestamps[i] <= timestamps[i - 1]) {
                sorted = false;
            }
        }
        size += n;
    }

    /**
     * Sorts the samples added by timestamp (stably: what came first stays first) and keeps the first of each
     * timestamp. After it, {@link #size()}, {@link #timestamp(int)}, {@link #value(int)} and {@link #duplicates()}
     * describe the merged samples.
     */
    public ChunkMerge merge() {
        if (merged) {
            return this;
        }
        merged = true;
        if (sorted) {
            return this; // strictly increasing: nothing to sort, no duplicate
        }
        Integer[] order = new Integer[size];
        for (int i = 0; i < size; i++) {
            order[i] = i;
        }
        long[] ts = timestamps;
        Arrays.sort(order, Comparator.comparingLong(i -> ts[i])); // a stable sort for objects
        long[] t = new long[size];
        double[] v = new double[size];
        int out = 0;
        for (int i : order) {
            if (out > 0 && t[out - 1] == ts[i]) {
                duplicates++;
                continue;
            }
            t[out] = ts[i];
            v[out] = values[i];
            out++;
        }
        timestamps = t;
        values = v;
        size = out;
        return this;
    }

    private void requireMerged() {
        if (!merged) {
            throw new IllegalStateException("merge() first");
        }
    }

    /** How many samples there are (after {@link #merge()}: each timestamp once). */
    public int size() {
        return size;
    }

    public long timestamp(int i) {
        requireMerged();
        return timestamps[i];
    }

    public double value(int i) {
        requireMerged();
        return values[i];
    }

    /** The merged timestamps (a copy), ascending. */
    public long[] timestamps() {
        requireMerged();
        return Arrays.copyOf(timestamps, size);
    }

    /** The merged timestamps {@code [from, to)} (a copy). */
    public long[] timestamps(int from, int to) {
        requireMerged();
        return Arrays.copyOfRange(timestamps, from, Math.min(to, size));
    }

    /** The merged values {@code [from, to)} (a copy). */
    public double[] values(int from, int to) {
        requireMerged();
        return Arrays.copyOfRange(values, from, Math.min(to, size));
    }

    /** The merged values (a copy), one per timestamp. */
    public double[] values() {
        requireMerged();
        return Arrays.copyOf(values, size);
    }

    /** How many samples {@link #merge()} dropped because their timestamp came earlier. */
    public long duplicates() {
        requireMerged();
        return duplicates;
    }

    /** Forgets every sample, for the next series. */
    public void clear() {
        size = 0;
        sorted = true;
        merged = false;
        duplicates = 0;
    }
}
