package io.sluice.config;

import java.time.Duration;

/** Limits and caching of time-series queries, and when PromQL reads the rollups ({@code query.rollup-min-step}). */
public record QueryConfig(int maxPointsPerSeries, int maxSeries, Duration maxRange, Duration statementTimeout,
                          long cacheMaxBytes, Duration rollupMinStep) {

    /** With {@code query.rollup-min-step}'s default, 1 hour. */
    public QueryConfig(int maxPointsPerSeries, int maxSeries, Duration maxRange, Duration statementTimeout,
                       long cacheMaxBytes) {
        this(maxPointsPerSeries, maxSeries, maxRange, statementTimeout, cacheMaxBytes, Duration.ofHours(1));
    }
}
