package io.sluice.storage.promql;

import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * When a range query's {@code rate}, {@code increase}, {@code delta} and {@code sum|count|avg|min|max_over_time} over
 * a range selector read the 1-minute or 1-hour rollups instead of raw samples (see {@link PromqlRollups}).
 *
 * @param minStep      {@code query.rollup-min-step}: at this step or longer, while raw samples still cover the range,
 *                     rollups are read when they give exactly what raw samples would
 * @param rawRetention {@code retention.raw}: a range reaching further back than this is read from the rollups at any
 *                     step (raw samples are gone there)
 * @param clock        what "now" is
 */
public record RollupPushDown(Duration minStep, Duration rawRetention, Clock clock) {

    public RollupPushDown {
        Objects.requireNonNull(minStep);
        Objects.requireNonNull(rawRetention);
        Objects.requireNonNull(clock);
    }
}
