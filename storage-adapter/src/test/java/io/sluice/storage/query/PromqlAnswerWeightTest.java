package io.sluice.storage.query;

import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.promql.Series;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** What a PromQL answer weighs in the answer cache: its points' arrays as held, shared times once. */
class PromqlAnswerWeightTest {

    private static Series series(String instance, long[] ts) {
        return new Series(new TreeMap<>(Map.of("instance", instance)), ts, new double[ts.length]);
    }

    @Test
    void timesSharedBySeriesWeighOnce() {
        long[] grid = new long[100];
        PromqlResult shared = new PromqlResult.Matrix(List.of(series("a", grid), series("b", grid), series("c", grid)));
        PromqlResult own = new PromqlResult.Matrix(List.of(series("a", new long[100]), series("b", new long[100]),
                series("c", new long[100])));
        Queries.PromqlKeys keys = new Queries.PromqlKeys();
        assertThat(keys.weight(own) - keys.weight(shared)).isEqualTo(2 * 100 * 8);
        assertThat(keys.weight(own)).isGreaterThan(3 * 100 * 16);
    }
}
