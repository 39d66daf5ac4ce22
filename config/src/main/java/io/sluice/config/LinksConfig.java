package io.sluice.config;

import java.time.Duration;

/** Short links: how they are written, cached and limited. */
public record LinksConfig(String baseUrl, int cacheMaxEntries, Duration cacheTtl, Duration negativeTtl,
                          Duration permanentMaxAge, long redirectsPerMinutePerClient, int clickQueue,
                          Duration clickFlushInterval) {
}
