package io.sluice.storage.query;

import java.util.Locale;

/** How the values in one step bucket (and across the series of one group) become one point. */
public enum Aggregation {
    AVG, MIN, MAX, SUM, COUNT;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The point for an accumulated bucket; an average is sum / count, also over rollups. */
    double apply(Accumulator a) {
        return switch (this) {
            case AVG -> a.sum / a.count;
            case MIN -> a.min;
            case MAX -> a.max;
            case SUM -> a.sum;
            case COUNT -> a.count;
        };
    }

    /** min, max, sum and count of one bucket, merged from per-series partials. */
    static final class Accumulator {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        double sum;
        long count;

        void add(double pMin, double pMax, double pSum, long pCount) {
            min = Math.min(min, pMin);
            max = Math.max(max, pMax);
            sum += pSum;
            count += pCount;
        }
    }
}
