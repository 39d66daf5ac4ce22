package io.sluice.storage.chunks;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class HourFoldTest {

    private static final long H = 3_600_000L * 500_000;
    private static final long M = 60_000;

    private final List<List<Object>> hours = new ArrayList<>();
    private final HourFold fold = new HourFold((series, hourMs, s, run) -> hours.add(List.of(series, hourMs, s.min(),
            s.max(), s.sum(), s.count(), run.known() ? List.of(run.points(), run.firstMs(), run.first(), run.lastMs(),
                    run.last(), run.resets()) : "unknown")));

    @Test
    void minutesOfOneSeriesAndHourJoinIntoOneRowHandedOnWhenTheSeriesOrHourChanges() {
        // series 1, hour H: a counter 5 -> 8, then (next minute) 2 -> 4: one reset of 8
        fold.minute(1, H, 5, 8, 13, 2, 2, H + 1_000, 5, H + 2_000, 8, 0);
        fold.minute(1, H + M, 2, 4, 6, 2, 2, H + M + 1_000, 2, H + M + 2_000, 4, 0);
        fold.minute(1, H + 3_600_000, 1, 1, 1, 1, 1, H + 3_600_000, 1, H + 3_600_000, 1, 0);
        assertThat(hours).hasSize(1);
        fold.minute(2, H, 7, 7, 7, 1, 1, H + 5, 7, H + 5, 7, 0);
        fold.finish();
        fold.finish(); // nothing open: nothing more
        assertThat(hours).containsExactly(
                List.of(1L, H, 2.0, 8.0, 19.0, 4L, List.of(4L, H + 1_000, 5.0, H + M + 2_000, 4.0, 8.0)),
                List.of(1L, H + 3_600_000, 1.0, 1.0, 1.0, 1L, List.of(1L, H + 3_600_000, 1.0, H + 3_600_000, 1.0, 0.0)),
                List.of(2L, H, 7.0, 7.0, 7.0, 1L, List.of(1L, H + 5, 7.0, H + 5, 7.0, 0.0)));
    }

    @Test
    void anHourWithAMinuteOfUnknownCountersIsUnknownAndItsSumAddsTheMinutesSumsInOrder() {
        double max = Double.MAX_VALUE;
        fold.minute(1, H, max, max, max, 1, 1, H, max, H, max, 0);
        fold.storedMinute(1, H + M, -max, max, 0.0, 2, 2L, null, null, null, null, null);
        fold.finish();
        // MAX + (MAX + -MAX): the minutes' sums, not the values in time order (which would overflow to +Inf)
        assertThat(hours).containsExactly(List.of(1L, H, -max, max, max, 3L, "unknown"));
    }
}
