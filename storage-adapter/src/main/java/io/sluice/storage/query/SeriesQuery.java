package io.sluice.storage.query;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * One normalised query: matchers and group-by labels sorted, {@code from}/{@code to} aligned to the step,
 * the step a whole multiple of the resolution. Equal queries are equal records, so this is the cache key.
 */
public record SeriesQuery(String tenant, String metric, List<Matcher> matchers, Instant from, Instant to,
                          Duration step, Aggregation aggregation, List<String> groupBy, Resolution resolution) {

    public SeriesQuery {
        matchers = List.copyOf(matchers);
        groupBy = List.copyOf(groupBy);
    }

    /** Number of points one series can have. */
    public long pointsPerSeries() {
        return Duration.between(from, to).toMillis() / step.toMillis();
    }
}
