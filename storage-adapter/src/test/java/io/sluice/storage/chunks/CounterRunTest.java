package io.sluice.storage.chunks;

import io.sluice.storage.promql.Series;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link CounterRun}: one run of samples, or parts of it joined in time order, give the same figures. */
class CounterRunTest {

    private static final double STALE = Double.longBitsToDouble(Series.STALE_NAN_BITS);

    @Test
    void aRunKeepsFirstLastCountAndTheValueBeforeEachDropLeavingOutStalenessMarkers() {
        CounterRun run = new CounterRun();
        long[] ts = {1, 2, 3, 4, 5, 6, 7};
        double[] vs = {5, 7, 2, STALE, 4, 1, Double.NaN};
        for (int i = 0; i < ts.length; i++) {
            run.add(ts[i], vs[i]);
        }
        // drops: 7 -> 2 and 4 -> 1; a NaN never compares lower, so 1 -> NaN is no drop
        assertThat(run.points()).isEqualTo(6);
        assertThat(run.firstMs()).isEqualTo(1);
        assertThat(run.first()).isEqualTo(5);
        assertThat(run.lastMs()).isEqualTo(7);
        assertThat(run.last()).isNaN();
        assertThat(run.resets()).isEqualTo(11);
        assertThat(run.known()).isTrue();
    }

    @Test
    void partsJoinedInTimeOrderGiveWhatTheWholeRunGives() {
        SplittableRandom random = new SplittableRandom(42);
        for (int round = 0; round < 2_000; round++) {
            int n = 1 + random.nextInt(40);
            long[] ts = new long[n];
            double[] vs = new double[n];
            long t = random.nextLong(1_000);
            for (int i = 0; i < n; i++) {
                t += 1 + random.nextInt(20_000);
                ts[i] = t;
                int kind = random.nextInt(20);
                vs[i] = kind == 0 ? STALE : kind == 1 ? Double.NaN : random.nextInt(100);
            }
            CounterRun whole = new CounterRun();
            for (int i = 0; i < n; i++) {
                whole.add(ts[i], vs[i]);
            }
            CounterRun joined = new CounterRun();
            int i = 0;
            while (i < n) {
                int end = Math.min(n, i + 1 + random.nextInt(6));
                CounterRun part = new CounterRun();
                for (; i < end; i++) {
                    part.add(ts[i], vs[i]);
                }
                joined.append(part.points(), part.firstMs(), part.first(), part.lastMs(), part.last(), part.resets());
            }
            assertThat(joined.known()).isTrue();
            assertThat(joined.points()).isEqualTo(whole.points());
            if (whole.points() > 0) {
                assertThat(joined.firstMs()).isEqualTo(whole.firstMs());
                assertThat(joined.lastMs()).isEqualTo(whole.lastMs());
                assertThat(Double.doubleToRawLongBits(joined.first())).isEqualTo(Double.doubleToRawLongBits(whole.first()));
                assertThat(Double.doubleToRawLongBits(joined.last())).isEqualTo(Double.doubleToRawLongBits(whole.last()));
                // whole numbers below 2^53: the sums are exact whatever the order
                assertThat(joined.resets()).isEqualTo(whole.resets());
            }
        }
    }

    @Test
    void partsThatInterleaveOrAnUnknownPartMakeTheRunUnknownForGood() {
        CounterRun run = new CounterRun();
        run.append(2, 10, 1, 30, 3, 0);
        run.append(2, 20, 2, 40, 4, 0); // starts before the last one ended
        assertThat(run.known()).isFalse();
        run.append(1, 50, 5, 50, 5, 0);
        assertThat(run.known()).as("unknown stays unknown").isFalse();

        CounterRun other = new CounterRun();
        other.append(1, 10, 1, 10, 1, 0);
        other.append(-1, 0, Double.NaN, 0, Double.NaN, Double.NaN);
        assertThat(other.known()).isFalse();
        other.clear();
        assertThat(other.known()).isTrue();
        assertThat(other.points()).isZero();
    }

    @Test
    void aPartWithoutPointsChangesNothing() {
        CounterRun run = new CounterRun();
        run.append(2, 10, 4, 20, 6, 0);
        run.append(0, 0, Double.NaN, 0, Double.NaN, 0);
        run.append(1, 30, 1, 30, 1, 0);
        assertThat(run.points()).isEqualTo(3);
        assertThat(run.resets()).isEqualTo(6);
        assertThat(run.last()).isEqualTo(1);
    }
}
