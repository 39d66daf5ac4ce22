package io.sluice.storage.chunks;

import io.sluice.storage.promql.Series;

/**
 * What PromQL's {@code rate}, {@code increase} and {@code delta} need of some samples of one series, in time order,
 * staleness markers left out: how many there are, the first and the last, and the sum of the value before each drop
 * (Prometheus' counter-reset correction: {@code last - first + resets} is the counter's increase). The writer keeps
 * one per rollup bucket (columns {@code points, first_ms, first_val, last_ms, last_val, resets} of migration V12,
 * merged by its {@code sluice_resets}: the same rule), and a query joins the buckets of a window with {@link #append}.
 *
 * <p>A run may be unknown: a rollup row from before V12, or one whose parts interleave in time. Joining anything to an
 * unknown run gives an unknown run. Mutable; not thread-safe.
 */
public final class CounterRun {

    private long points;
    private long firstMs;
    private double first = Double.NaN;
    private long lastMs;
    private double last = Double.NaN;
    private double resets;
    private boolean known = true;

    /** Adds a sample later than every sample added so far; a staleness marker is left out. */
    public void add(long timestampMs, double value) {
        if (Series.isStale(value)) {
            return;
        }
        if (points == 0) {
            firstMs = timestampMs;
            first = value;
        } else if (value < last) {
            resets += last;
        }
        lastMs = timestampMs;
        last = value;
        points++;
    }

    /**
     * Joins a run of samples all later than this run's (the next bucket of a window), or marks this run unknown when
     * that one is (its {@code points} negative) or when the two interleave.
     */
    public void append(long oPoints, long oFirstMs, double oFirst, long oLastMs, double oLast, double oResets) {
        if (!known || oPoints < 0) {
            known = false;
            return;
        }
        if (oPoints == 0) {
            return;
        }
        if (points == 0) {
            firstMs = oFirstMs;
            first = oFirst;
            resets = oResets;
        } else if (oFirstMs <= lastMs) {
            known = false;
            return;
        } else {
            resets = resets + oResets + (oFirst < last ? last : 0); // in sluice_resets' order
        }
        lastMs = oLastMs;
        last = oLast;
        points += oPoints;
    }

    /** Back to no samples, known. */
    public void clear() {
        points = 0;
        first = Double.NaN;
        last = Double.NaN;
        resets = 0;
        known = true;
    }

    public boolean known() {
        return known;
    }

    public long points() {
        return points;
    }

    public long firstMs() {
        return firstMs;
    }

    public double first() {
        return first;
    }

    public long lastMs() {
        return lastMs;
    }

    public double last() {
        return last;
    }

    public double resets() {
        return resets;
    }
}
