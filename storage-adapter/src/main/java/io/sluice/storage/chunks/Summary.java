package io.sluice.storage.chunks;

/**
 * min, max, sum and count of some samples: the one rule the writer's rollups, the SQL that merges them
 * ({@code sluice_add}, {@code sluice_min}, {@code sluice_max} of migrations V7 and V11) and every query apply.
 *
 * <ul>
 *   <li>{@code sum} is IEEE 754 addition in the order values are added: a sum that overflows is ±Infinity
 *       (never an error), any NaN makes it NaN, +Inf plus -Inf is NaN.</li>
 *   <li>{@code min} and {@code max} skip NaN unless every value is NaN (Prometheus' {@code min_over_time} /
 *       {@code max_over_time} rule); -0 and +0 compare equal, and the one seen first is kept.</li>
 *   <li>{@code count} counts every value, NaN included.</li>
 * </ul>
 * Mutable; not thread-safe.
 */
public final class Summary {

    private double min = Double.NaN;
    private double max = Double.NaN;
    private double sum;
    private long count;

    public Summary() {
    }

    /** A summary of already summarised values (a rollup row). */
    public Summary(double min, double max, double sum, long count) {
        this.min = min;
        this.max = max;
        this.sum = sum;
        this.count = count;
    }

    public void add(double value) {
        add(value, value, value, 1);
    }

    /**
     * Merges another summary (rows of the same bucket from two batches): min, max and count as if its values had
     * been added here one by one; the sum adds the other's sum, which for IEEE doubles is not always what adding
     * its values one by one would give (the writer sums a batch's samples value by value, in timestamp order).
     */
    public void add(Summary other) {
        add(other.min, other.max, other.sum, other.count);
    }

    /** Adds a summary given as its four figures (a rollup row, a query's partial). */
    public void add(double oMin, double oMax, double oSum, long oCount) {
        if (oCount == 0) {
            return;
        }
        if (count == 0) {
            min = oMin;
            max = oMax;
            sum = oSum;
        } else {
            min = min(min, oMin);
            max = max(max, oMax);
            sum += oSum;
        }
        count += oCount;
    }

    /** The smaller, NaN only when both are NaN, the first when they compare equal (-0 and +0). */
    public static double min(double a, double b) {
        if (Double.isNaN(a)) {
            return b;
        }
        return b < a ? b : a;
    }

    /** The larger, NaN only when both are NaN, the first when they compare equal (-0 and +0). */
    public static double max(double a, double b) {
        if (Double.isNaN(a)) {
            return b;
        }
        return b > a ? b : a;
    }

    public double min() {
        return min;
    }

    public double max() {
        return max;
    }

    public double sum() {
        return sum;
    }

    public long count() {
        return count;
    }

    public boolean isEmpty() {
        return count == 0;
    }

    @Override
    public String toString() {
        return "Summary[min=" + min + ", max=" + max + ", sum=" + sum + ", count=" + count + "]";
    }
}
