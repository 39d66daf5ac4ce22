package io.sluice.config;

import java.time.Duration;

/** Limits and caching of time-series queries. */
public record QueryConfig(int maxPointsPerSeries, int maxSeries, Duration maxRange, Duration statementTimeout,
                          long cacheMaxBytes) {
}
