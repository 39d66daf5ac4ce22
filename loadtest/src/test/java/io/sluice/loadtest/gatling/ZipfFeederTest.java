package io.sluice.loadtest.gatling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ZipfFeederTest {

    private static final int DRAWS = 400_000;

    private static int[] histogram(ZipfFeeder zipf, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] counts = new int[zipf.size()];
        for (int i = 0; i < DRAWS; i++) {
            counts[zipf.nextRank(random)]++;
        }
        return counts;
    }

    private static double harmonic(int n, double s) {
        double h = 0;
        for (int k = 1; k <= n; k++) {
            h += 1 / Math.pow(k, s);
        }
        return h;
    }

    @Test
    void cdfRisesToExactlyOne() {
        double[] cdf = ZipfFeeder.cdf(10_000, 1.0);
        assertThat(cdf).hasSize(10_000);
        for (int k = 1; k < cdf.length; k++) {
            assertThat(cdf[k]).isGreaterThan(cdf[k - 1]);
        }
        assertThat(cdf[cdf.length - 1]).isEqualTo(1.0);
        assertThat(cdf[0]).isCloseTo(1 / harmonic(10_000, 1.0), within(1e-12));
    }

    @Test
    void ranksFollowZipfWithExponentOne() {
        int n = 10_000;
        int[] counts = histogram(new ZipfFeeder(n, 1.0, rank -> Map.of()), 42);
        double h = harmonic(n, 1.0);
        for (int rank : new int[] {0, 1, 9, 99}) {
            double expected = DRAWS / ((rank + 1) * h);
            assertThat((double) counts[rank]).as("rank %d", rank).isCloseTo(expected, within(5 * Math.sqrt(expected)));
        }
        long top1Percent = 0;
        for (int k = 0; k < n / 100; k++) {
            top1Percent += counts[k];
        }
        assertThat(top1Percent / (double) DRAWS).isCloseTo(harmonic(n / 100, 1.0) / h, within(0.01));
    }

    @Test
    void exponentZeroIsUniformAndLargerIsMoreSkewed() {
        int[] uniform = histogram(new ZipfFeeder(4, 0.0, rank -> Map.of()), 7);
        for (int count : uniform) {
            assertThat((double) count).isCloseTo(DRAWS / 4.0, within(DRAWS * 0.01));
        }
        int[] skewed = histogram(new ZipfFeeder(4, 2.0, rank -> Map.of()), 7);
        assertThat((double) skewed[0] / DRAWS).isCloseTo(1 / harmonic(4, 2.0), within(0.01));
    }

    @Test
    void aSingleRankIsAlwaysDrawn() {
        assertThat(histogram(new ZipfFeeder(1, 1.0, rank -> Map.of()), 1)).containsExactly(DRAWS);
    }

    @Test
    void recordsComeFromTheRankFunction() {
        ZipfFeeder feeder = new ZipfFeeder(3, 1.0, rank -> Map.of("code", "c" + rank));
        assertThat(feeder.hasNext()).isTrue();
        for (int i = 0; i < 100; i++) {
            assertThat(feeder.next().get("code")).isIn("c0", "c1", "c2");
        }
    }

    @Test
    void rejectsBadParameters() {
        assertThatThrownBy(() -> ZipfFeeder.cdf(0, 1.0)).hasMessageContaining("n: 0");
        assertThatThrownBy(() -> ZipfFeeder.cdf(10, -0.5)).hasMessageContaining("exponent: -0.5");
        assertThatThrownBy(() -> ZipfFeeder.cdf(10, Double.NaN)).hasMessageContaining("exponent: NaN");
    }
}
