package io.sluice.storage.writer;

import java.util.Arrays;
import java.util.Comparator;

/** The samples of one series in one writer batch, in log order until {@link #sortKeepingFirst()}. */
final class SeriesSamples {

    final long id;
    long[] timestamps = new long[8];
    double[] values = new double[8];
    int size;

    /** The written range of the series' metric in the batch ({@code WrittenRanges#slot}), widened by each sample. */
    final long[] writtenRange;

    SeriesSamples(long id, long[] writtenRange) {
        this.id = id;
        this.writtenRange = writtenRange;
    }

    void add(long timestampMs, double value) {
        if (size == timestamps.length) {
            timestamps = Arrays.copyOf(timestamps, size * 2);
            values = Arrays.copyOf(values, size * 2);
        }
        timestamps[size] = timestampMs;
        values[size] = value;
        size++;
    }

    /**
     * Orders the samples by timestamp and keeps, of samples with the same timestamp, the first in log order (the
     * first write wins). Returns how many were dropped.
     */
    int sortKeepingFirst() {
        boolean sorted = true;
        for (int i = 1; i < size && sorted; i++) {
            sorted = timestamps[i] > timestamps[i - 1];
        }
        if (sorted) {
            return 0;
        }
        Integer[] order = new Integer[size];
        for (int i = 0; i < size; i++) {
            order[i] = i;
        }
        // stable: equal timestamps stay in log order
        Arrays.sort(order, Comparator.comparingLong(i -> timestamps[i]));
        long[] ts = new long[size];
        double[] vs = new double[size];
        int kept = 0;
        for (Integer i : order) {
            if (kept > 0 && ts[kept - 1] == timestamps[i]) {
                continue;
            }
            ts[kept] = timestamps[i];
            vs[kept] = values[i];
            kept++;
        }
        int dropped = size - kept;
        timestamps = ts;
        values = vs;
        size = kept;
        return dropped;
    }

    /** Keeps only the samples {@code keep} accepts (their order unchanged); returns how many were dropped. */
    int retain(java.util.function.LongPredicate keep) {
        int kept = 0;
        for (int i = 0; i < size; i++) {
            if (keep.test(timestamps[i])) {
                timestamps[kept] = timestamps[i];
                values[kept] = values[i];
                kept++;
            }
        }
        int dropped = size - kept;
        size = kept;
        return dropped;
    }
}
