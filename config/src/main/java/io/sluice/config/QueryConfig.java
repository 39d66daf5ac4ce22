package io.sluice.config;

import java.time.Duration;

/**
 * Limits and caching of time-series queries, when PromQL reads the rollups ({@code query.rollup-min-step}), and the
 * most samples one PromQL query may load into memory ({@code query.max-samples}).
 */
public record QueryConfig(int maxPointsPerSeries, int maxSeries, Duration maxRange, Duration statementTimeout,
                          long cacheMaxBytes, Duration rollupMinStep, long maxSamples) {

    /** {@code query.max-samples}' default. */
    public static final long DEFAULT_MAX_SAMPLES = 5_000_000;

    public QueryConfig {
        if (maxSamples < 1) {
            throw new IllegalArgumentException("maxSamples must be positive: " + maxSamples);
        }
    }

    /** With the defaults of {@code query.rollup-min-step} (1 hour) and {@code query.max-samples}. */
    public QueryConfig(int maxPointsPerSeries, int maxSeries, Duration maxRange, Duration statementTimeout,
                       long cacheMaxBytes) {
        this(maxPointsPerSeries, maxSeries, maxRange, statementTimeout, cacheMaxBytes, Duration.ofHours(1),
                DEFAULT_MAX_SAMPLES);
    }

    /** The same limits with another {@code query.max-samples}. */
    public QueryConfig withMaxSamples(long samples) {
        return new QueryConfig(maxPointsPerSeries, maxSeries, maxRange, statementTimeout, cacheMaxBytes, rollupMinStep,
                samples);
    }
}
