package io.sluice.storage.query;

import io.sluice.storage.chunks.Summary;

import java.util.Locale;

/**
 * How the values in one step bucket (and across the series of one group) become one point. A bucket's partials
 * are merged by {@link Summary}'s rule, the one every stored rollup follows too.
 */
public enum Aggregation {
    AVG, MIN, MAX, SUM, COUNT;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The point for a merged bucket; an average is sum / count, also over rollups. */
    double apply(Summary s) {
        return switch (this) {
            case AVG -> s.sum() / s.count();
            case MIN -> s.min();
            case MAX -> s.max();
            case SUM -> s.sum();
            case COUNT -> s.count();
        };
    }
}
