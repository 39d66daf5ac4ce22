package io.sluice.storage.chunks;

/**
 * Folds 1-minute rollup rows into 1-hour rows, as the 1-hour rollups are made (migration V14): the rows of one series
 * and UTC hour, in bucket order, join into one. Min, max, sum and count join as {@link Summary#add(double, double,
 * double, long)} does, so an hour's sum is its minutes' sums added in minute order; the counters join as
 * {@link CounterRun#append} does (unknown when any minute's is). Rows must come ordered by series, then bucket; an
 * hour is handed on when a row of another series or hour comes, and the last one by {@link #finish()}. Both the
 * fold that writes {@code rollups_1h} and a query reading hours not folded yet use this, so the two agree exactly.
 * Mutable; not thread-safe.
 */
public final class HourFold {

    private static final long HOUR_MS = 3_600_000;

    /** Receives each folded hour; {@code summary} and {@code run} are reused afterwards, so read them here. */
    @FunctionalInterface
    public interface Sink {
        void hour(long seriesId, long hourMs, Summary summary, CounterRun run);
    }

    private final Sink sink;
    private boolean open;
    private long seriesId;
    private long hourMs;
    private Summary summary = new Summary();
    private final CounterRun run = new CounterRun();

    public HourFold(Sink sink) {
        this.sink = sink;
    }

    /** The UTC hour a bucket (ms since the epoch) falls in. */
    public static long hourOf(long bucketMs) {
        return Math.floorDiv(bucketMs, HOUR_MS) * HOUR_MS;
    }

    /**
     * The next 1-minute row ({@code points} -1 where its counters are unknown). Rows of a series come in bucket order,
     * series after series.
     */
    public void minute(long series, long bucketMs, double min, double max, double sum, long count, long points,
                       long firstMs, double first, long lastMs, double last, double resets) {
        long hour = hourOf(bucketMs);
        if (!open || series != seriesId || hour != hourMs) {
            finish();
            open = true;
            seriesId = series;
            hourMs = hour;
        }
        summary.add(min, max, sum, count);
        run.append(points, firstMs, first, lastMs, last, resets);
    }

    /**
     * The next 1-minute row as stored: its counter columns unknown when {@code points} or {@code resets} is NULL (a
     * late batch interleaved with a stored one; a row from before migration V12), as every reader of the rollups takes
     * them.
     */
    public void storedMinute(long series, long bucketMs, double min, double max, double sum, long count, Long points,
                             Long firstMs, Double first, Long lastMs, Double last, Double resets) {
        boolean known = points != null && resets != null;
        minute(series, bucketMs, min, max, sum, count, known ? points : -1, known ? firstMs : 0,
                known ? first : Double.NaN, known ? lastMs : 0, known ? last : Double.NaN, known ? resets : Double.NaN);
    }

    /** Hands on the hour being folded, if any. */
    public void finish() {
        if (open) {
            sink.hour(seriesId, hourMs, summary, run);
            open = false;
            summary = new Summary();
            run.clear();
        }
    }
}
