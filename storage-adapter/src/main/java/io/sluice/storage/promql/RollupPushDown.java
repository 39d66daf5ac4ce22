package io.sluice.storage.promql;

import io.sluice.storage.query.Resolution;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * When a range query's {@code rate}, {@code increase}, {@code delta} and {@code sum|count|avg|min|max_over_time} over
 * a range selector read the 1-minute or 1-hour rollups instead of raw samples (see {@link PromqlRollups}).
 *
 * @param minStep      {@code query.rollup-min-step}: at this step or longer, while raw samples still cover the range,
 *                     rollups are read when they give exactly what raw samples would
 * @param rawRetention {@code retention.raw}: a range reaching further back than this is read from the rollups at any
 *                     step (raw samples are gone there)
 * @param rollupRetention {@code retention.rollup-1m} and {@code retention.rollup-1h}, in that order: while raw
 *                     samples cover a range, its rollups are read only if they cover it too
 * @param clock        what "now" is
 * @param fewerRows    while raw samples cover the range, read rollups only where that means fewer rows: raw samples
 *                     are at least one chunk row per series and hour, a window {@code range / bucket + 1} rollup rows
 *                     per series (false: wherever they answer exactly, which tests of that use)
 */
public record RollupPushDown(Duration minStep, Duration rawRetention, List<Duration> rollupRetention, Clock clock,
                             boolean fewerRows) {

    public RollupPushDown {
        Objects.requireNonNull(minStep);
        Objects.requireNonNull(rawRetention);
        Objects.requireNonNull(clock);
        if (rollupRetention.size() != 2) {
            throw new IllegalArgumentException("the 1-minute and the 1-hour rollups' retention: " + rollupRetention);
        }
        rollupRetention = List.copyOf(rollupRetention);
    }

    /** Rollups where raw samples are gone, and where raw samples are kept when they answer exactly in fewer rows. */
    public RollupPushDown(Duration minStep, Duration rawRetention, Duration minuteRetention, Duration hourRetention,
                          Clock clock) {
        this(minStep, rawRetention, List.of(minuteRetention, hourRetention), clock, true);
    }

    /** How long rollups of this resolution are kept. */
    Duration retention(Resolution resolution) {
        return rollupRetention.get(resolution == Resolution.MINUTE ? 0 : 1);
    }
}
