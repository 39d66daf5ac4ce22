package io.sluice.storage.query;

import io.sluice.storage.chunks.CounterRun;
import io.sluice.storage.chunks.Summary;

import java.util.Arrays;

/**
 * One series' rollup rows (1-minute or 1-hour buckets), ascending by bucket, column by column: {@code min}, {@code max},
 * {@code sum} and {@code count} as {@link Summary} keeps them (staleness markers counted), and the bucket's
 * {@link CounterRun} ({@code points} is -1 where that run is unknown).
 */
public final class SeriesRollups {

    private final long seriesId;
    private int size;
    private long[] buckets = new long[16];
    private double[] min = new double[16];
    private double[] max = new double[16];
    private double[] sum = new double[16];
    private long[] count = new long[16];
    private long[] points = new long[16];
    private long[] firstMs = new long[16];
    private double[] first = new double[16];
    private long[] lastMs = new long[16];
    private double[] last = new double[16];
    private double[] resets = new double[16];

    public SeriesRollups(long seriesId) {
        this.seriesId = seriesId;
    }

    /** Adds the next bucket (later than every bucket so far); {@code points} -1 when its run is unknown. */
    public void add(long bucketMs, double mn, double mx, double sm, long n, long pts, long fMs, double f, long lMs,
                    double l, double r) {
        if (size == buckets.length) {
            int c = size * 2;
            buckets = Arrays.copyOf(buckets, c);
            min = Arrays.copyOf(min, c);
            max = Arrays.copyOf(max, c);
            sum = Arrays.copyOf(sum, c);
            count = Arrays.copyOf(count, c);
            points = Arrays.copyOf(points, c);
            firstMs = Arrays.copyOf(firstMs, c);
            first = Arrays.copyOf(first, c);
            lastMs = Arrays.copyOf(lastMs, c);
            last = Arrays.copyOf(last, c);
            resets = Arrays.copyOf(resets, c);
        }
        buckets[size] = bucketMs;
        min[size] = mn;
        max[size] = mx;
        sum[size] = sm;
        count[size] = n;
        points[size] = pts;
        firstMs[size] = fMs;
        first[size] = f;
        lastMs[size] = lMs;
        last[size] = l;
        resets[size] = r;
        size++;
    }

    /** Adds the next bucket from its summary and run (a run that is not {@link CounterRun#known} is unknown). */
    public void add(long bucketMs, Summary s, CounterRun run) {
        add(bucketMs, s.min(), s.max(), s.sum(), s.count(), run.known() ? run.points() : -1, run.firstMs(),
                run.first(), run.lastMs(), run.last(), run.resets());
    }

    public long seriesId() {
        return seriesId;
    }

    public int size() {
        return size;
    }

    /** The buckets' start times, ms since the epoch, ascending; only the first {@link #size} count. */
    public long[] buckets() {
        return buckets;
    }

    public double min(int i) {
        return min[i];
    }

    public double max(int i) {
        return max[i];
    }

    public double sum(int i) {
        return sum[i];
    }

    public long count(int i) {
        return count[i];
    }

    /** Values that are not staleness markers, or -1 when the bucket's run is unknown. */
    public long points(int i) {
        return points[i];
    }

    public long firstMs(int i) {
        return firstMs[i];
    }

    public double first(int i) {
        return first[i];
    }

    public long lastMs(int i) {
        return lastMs[i];
    }

    public double last(int i) {
        return last[i];
    }

    public double resets(int i) {
        return resets[i];
    }
}
