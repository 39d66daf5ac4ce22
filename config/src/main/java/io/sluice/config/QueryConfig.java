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

    /**
     * Of {@code query.cache-max-bytes}, what each of a node's two answer caches (Sluice's range answers, PromQL
     * answers) may hold, its fresh answers and their stale copies together: three eighths each. The rest is
     * {@link #renderedCacheBytes()}: the whole setting bounds everything a node keeps of query answers.
     */
    public long answerCacheBytes() {
        return cacheMaxBytes / 8 * 3;
    }

    /** Of {@code query.cache-max-bytes}, the PromQL answers kept rendered as Prometheus' JSON: the quarter left. */
    public long renderedCacheBytes() {
        return cacheMaxBytes - 2 * answerCacheBytes();
    }

    /** The same limits with another {@code query.max-samples}. */
    public QueryConfig withMaxSamples(long samples) {
        return new QueryConfig(maxPointsPerSeries, maxSeries, maxRange, statementTimeout, cacheMaxBytes, rollupMinStep,
                samples);
    }
}
