package io.sluice.loadtest.gatling;

import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntFunction;
import java.util.random.RandomGenerator;

/**
 * An endless Gatling feeder whose records follow a Zipf distribution: of {@code n} ranks, rank {@code k}
 * (0-based) is drawn with probability proportional to {@code 1 / (k + 1)^s}. With {@code s = 1} the most popular
 * record of 10,000 is drawn about 10 % of the time and half of all draws go to the top 1 %; {@code s = 0} is
 * uniform. The cumulative distribution is computed once; each draw is one binary search.
 *
 * <p>Records come from {@code recordOfRank}, called on each draw, so the feeder can be built before the records
 * exist (Gatling builds scenarios before the {@code before()} hook that creates the fixtures). It is stateless
 * apart from its table and safe to use from any thread.
 */
public final class ZipfFeeder implements Iterator<Map<String, Object>> {

    private final double[] cdf;
    private final IntFunction<Map<String, Object>> recordOfRank;

    /**
     * @param n            how many ranks, at least 1
     * @param exponent     the skew {@code s}, at least 0
     * @param recordOfRank the record of a rank in {@code [0, n)}
     */
    public ZipfFeeder(int n, double exponent, IntFunction<Map<String, Object>> recordOfRank) {
        this.cdf = cdf(n, exponent);
        this.recordOfRank = recordOfRank;
    }

    /** The cumulative probabilities of ranks {@code 0..n-1}; the last is exactly 1. */
    static double[] cdf(int n, double exponent) {
        if (n < 1) {
            throw new IllegalArgumentException("n: " + n + " (expected: at least 1)");
        }
        if (!(exponent >= 0) || Double.isInfinite(exponent)) {
            throw new IllegalArgumentException("exponent: " + exponent + " (expected: a finite number >= 0)");
        }
        double[] cdf = new double[n];
        double sum = 0;
        for (int k = 0; k < n; k++) {
            sum += 1.0 / Math.pow(k + 1, exponent);
            cdf[k] = sum;
        }
        for (int k = 0; k < n; k++) {
            cdf[k] /= sum;
        }
        cdf[n - 1] = 1.0;
        return cdf;
    }

    /** How many ranks there are. */
    public int size() {
        return cdf.length;
    }

    /** A rank in {@code [0, size())}, drawn with {@code random}. */
    public int nextRank(RandomGenerator random) {
        double u = random.nextDouble();
        int i = Arrays.binarySearch(cdf, u);
        return i >= 0 ? i : -i - 1;
    }

    @Override
    public boolean hasNext() {
        return true;
    }

    @Override
    public Map<String, Object> next() {
        return recordOfRank.apply(nextRank(ThreadLocalRandom.current()));
    }
}
