package io.sluice.storage.chunks;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The one rule for min, max, sum and count: IEEE sum in the order added (overflow is ±Infinity), min and max
 * skipping NaN unless every value is NaN, -0 and +0 equal with the first kept, count counting everything.
 */
class SummaryTest {

    private static final double STALE_NAN = Double.longBitsToDouble(0x7ff0000000000002L);

    @Test
    void anEmptySummaryCountsNothing() {
        Summary s = new Summary();
        assertThat(s.isEmpty()).isTrue();
        assertThat(s.count()).isZero();
        assertThat(s.sum()).isEqualTo(0.0);
        assertThat(s.min()).isNaN();
        assertThat(s.max()).isNaN();
    }

    @Test
    void aSumThatOverflowsIsInfinityNotAnError() {
        Summary up = of(Double.MAX_VALUE, Double.MAX_VALUE);
        assertThat(up.sum()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(up.min()).isEqualTo(Double.MAX_VALUE);
        assertThat(up.max()).isEqualTo(Double.MAX_VALUE);
        assertThat(up.count()).isEqualTo(2);
        assertThat(of(-Double.MAX_VALUE, -Double.MAX_VALUE).sum()).isEqualTo(Double.NEGATIVE_INFINITY);
        // once infinite, it stays infinite: values are added in order, not re-associated
        assertThat(of(Double.MAX_VALUE, Double.MAX_VALUE, -Double.MAX_VALUE).sum()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(of(Double.MAX_VALUE, -Double.MAX_VALUE, Double.MAX_VALUE).sum()).isEqualTo(Double.MAX_VALUE);
    }

    @Test
    void theSumIsIeeeAdditionInTheOrderAdded() {
        assertThat(of(0x1p53, 1, 1).sum()).isEqualTo((0x1p53 + 1) + 1);
        assertThat(of(1, 1, 0x1p53).sum()).isEqualTo((1 + 1) + 0x1p53);
        assertThat(of(0x1p53, 1, 1).sum()).isNotEqualTo(of(1, 1, 0x1p53).sum());
        assertThat(of(Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY).sum()).isNaN();
        assertThat(of(1, Double.NaN, 2).sum()).isNaN();
        assertThat(bits(of(-0.0, -0.0).sum())).isEqualTo(bits(-0.0));
        assertThat(bits(of(-0.0, 0.0).sum())).isEqualTo(bits(0.0));
        assertThat(bits(of(-0.0).sum())).as("one value: the sum is that value").isEqualTo(bits(-0.0));
        assertThat(of(Double.MIN_VALUE, Double.MIN_VALUE).sum()).isEqualTo(2 * Double.MIN_VALUE);
    }

    @Test
    void minAndMaxSkipNanUnlessEveryValueIsNan() {
        Summary s = of(Double.NaN, 3, STALE_NAN, -2, Double.NaN);
        assertThat(s.min()).isEqualTo(-2);
        assertThat(s.max()).isEqualTo(3);
        assertThat(s.count()).as("NaN counted").isEqualTo(5);
        assertThat(s.sum()).isNaN();
        Summary allNan = of(Double.NaN, STALE_NAN);
        assertThat(allNan.min()).isNaN();
        assertThat(allNan.max()).isNaN();
        assertThat(allNan.count()).isEqualTo(2);
        Summary infinities = of(Double.NaN, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY);
        assertThat(infinities.min()).isEqualTo(Double.NEGATIVE_INFINITY);
        assertThat(infinities.max()).isEqualTo(Double.POSITIVE_INFINITY);
    }

    @Test
    void minusZeroAndPlusZeroCompareEqualAndTheFirstIsKept() {
        assertThat(bits(of(-0.0, 0.0).min())).isEqualTo(bits(-0.0));
        assertThat(bits(of(-0.0, 0.0).max())).isEqualTo(bits(-0.0));
        assertThat(bits(of(0.0, -0.0).min())).isEqualTo(bits(0.0));
        assertThat(bits(of(0.0, -0.0).max())).isEqualTo(bits(0.0));
        assertThat(bits(of(Double.NaN, 0.0, -0.0).min())).isEqualTo(bits(0.0));
        assertThat(bits(Summary.min(-0.0, 0.0))).isEqualTo(bits(-0.0));
        assertThat(bits(Summary.max(0.0, -0.0))).isEqualTo(bits(0.0));
        assertThat(Summary.min(Double.NaN, 1)).isEqualTo(1);
        assertThat(Summary.min(1, Double.NaN)).isEqualTo(1);
        assertThat(Summary.max(Double.NaN, Double.NaN)).isNaN();
    }

    @Test
    void addingASummaryIsAddingItsFiguresAfterTheOnesAlreadyAdded() {
        Summary rollup = of(5, Double.NaN);
        rollup.add(new Summary(-1, 9, 8, 3));
        assertThat(rollup.min()).isEqualTo(-1);
        assertThat(rollup.max()).isEqualTo(9);
        assertThat(rollup.sum()).isNaN();
        assertThat(rollup.count()).isEqualTo(5);

        Summary empty = new Summary();
        empty.add(new Summary(-0.0, 0.0, -0.0, 2));
        assertThat(bits(empty.min())).as("into an empty summary: its figures as they are").isEqualTo(bits(-0.0));
        assertThat(bits(empty.sum())).isEqualTo(bits(-0.0));
        assertThat(empty.count()).isEqualTo(2);

        Summary unchanged = of(1, 2);
        unchanged.add(new Summary());
        unchanged.add(Double.NaN, Double.NaN, 123, 0);
        assertThat(unchanged.sum()).as("an empty summary adds nothing").isEqualTo(3);
        assertThat(unchanged.count()).isEqualTo(2);

        Summary max = of(Double.MAX_VALUE);
        max.add(of(Double.MAX_VALUE));
        assertThat(max.sum()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(max.count()).isEqualTo(2);
    }

    /** Against a reference written out here from the rule's words, for random values of every kind. */
    @Test
    void randomValuesFollowTheRule() {
        for (long seed = 1; seed <= 500; seed++) {
            Random random = new Random(seed);
            int n = 1 + random.nextInt(40);
            double[] values = SampleChunksTest.randomValues(random, n);
            if (random.nextBoolean()) {
                for (int i = 0; i < n; i++) {
                    if (random.nextInt(3) == 0) {
                        values[i] = (random.nextBoolean() ? 1 : -1) * Double.MAX_VALUE * random.nextDouble();
                    }
                }
            }
            Summary s = of(values);
            double sum = values[0];
            for (int i = 1; i < n; i++) {
                sum = sum + values[i];
            }
            Double min = null;
            Double max = null;
            for (double v : values) {
                if (!Double.isNaN(v)) {
                    min = min == null || v < min ? Double.valueOf(v) : min;
                    max = max == null || v > max ? Double.valueOf(v) : max;
                }
            }
            String as = "seed " + seed;
            assertThat(s.count()).as(as).isEqualTo(n);
            assertThat(Double.doubleToLongBits(s.sum())).as(as).isEqualTo(Double.doubleToLongBits(sum));
            assertThat(Double.doubleToLongBits(s.min())).as(as)
                    .isEqualTo(Double.doubleToLongBits(min == null ? Double.NaN : min));
            assertThat(Double.doubleToLongBits(s.max())).as(as)
                    .isEqualTo(Double.doubleToLongBits(max == null ? Double.NaN : max));

            // split anywhere: the first part's summary plus the second's has the same min, max and count
            int cut = random.nextInt(n + 1);
            Summary first = of(java.util.Arrays.copyOfRange(values, 0, cut));
            first.add(of(java.util.Arrays.copyOfRange(values, cut, n)));
            assertThat(first.count()).as(as).isEqualTo(n);
            assertThat(Double.doubleToLongBits(first.min())).as(as).isEqualTo(Double.doubleToLongBits(s.min()));
            assertThat(Double.doubleToLongBits(first.max())).as(as).isEqualTo(Double.doubleToLongBits(s.max()));
        }
    }

    private static Summary of(double... values) {
        Summary s = new Summary();
        for (double v : values) {
            s.add(v);
        }
        return s;
    }

    private static long bits(double v) {
        return Double.doubleToRawLongBits(v);
    }
}
