package io.sluice.storage.promql;

import io.sluice.storage.promql.Values.Points;

import java.util.ArrayList;
import java.util.List;

/** The functions over one series' points in a range ({@code rate}, {@code *_over_time}, ...), as Prometheus computes them. */
final class PromqlRangeFunctions {

    private PromqlRangeFunctions() {
    }

    /**
     * The function's value over one series' points in the window {@code (windowStart, windowEnd]}, into
     * {@code result[0]}; false when it has none (too few points).
     */
    static boolean apply(String name, Points p, long windowStart, long windowEnd, double param, long t,
                         double[] result) {
        int n = p.size();
        switch (name) {
            case "rate":
                return extrapolated(p, windowStart, windowEnd, true, true, result);
            case "increase":
                return extrapolated(p, windowStart, windowEnd, true, false, result);
            case "delta":
                return extrapolated(p, windowStart, windowEnd, false, false, result);
            case "irate":
            case "idelta": {
                if (n < 2) {
                    return false;
                }
                double last = p.v(n - 1);
                double prev = p.v(n - 2);
                double change = name.equals("irate") && last < prev ? last : last - prev;
                if (name.equals("irate")) {
                    long interval = p.t(n - 1) - p.t(n - 2);
                    if (interval == 0) {
                        return false;
                    }
                    change /= interval / 1000.0;
                }
                result[0] = change;
                return true;
            }
            case "sum_over_time": {
                double[] acc = new double[2];
                for (int i = 0; i < n; i++) {
                    PromqlAggregations.kahanInc(p.v(i), acc);
                }
                result[0] = acc[0] + acc[1];
                return true;
            }
            case "avg_over_time": {
                PromqlAggregations.Mean mean = new PromqlAggregations.Mean();
                for (int i = 0; i < n; i++) {
                    mean.add(p.v(i));
                }
                result[0] = mean.value();
                return true;
            }
            case "count_over_time":
                result[0] = (double) n;
                return true;
            case "present_over_time":
                result[0] = 1.0;
                return true;
            case "last_over_time":
                result[0] = p.v(n - 1);
                return true;
            case "first_over_time":
                result[0] = p.v(0);
                return true;
            case "ts_of_first_over_time":
                result[0] = p.t(0) / 1000.0;
                return true;
            case "ts_of_last_over_time":
                result[0] = p.t(n - 1) / 1000.0;
                return true;
            case "ts_of_min_over_time":
            case "ts_of_max_over_time": {
                double r = p.v(0);
                long at = p.t(0);
                boolean min = name.equals("ts_of_min_over_time");
                for (int i = 0; i < n; i++) {
                    double x = p.v(i);
                    if (Double.isNaN(r) || (min ? x <= r : x >= r)) {
                        r = x;
                        at = p.t(i);
                    }
                }
                result[0] = at / 1000.0;
                return true;
            }
            case "mad_over_time": {
                List<Double> values = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    double x = p.v(i);
                    if (Double.isNaN(x)) {
                        result[0] = Double.NaN;
                        return true;
                    }
                    values.add(x);
                }
                double median = PromqlAggregations.quantile(0.5, values);
                List<Double> deviations = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    deviations.add(Math.abs(p.v(i) - median));
                }
                result[0] = PromqlAggregations.quantile(0.5, deviations);
                return true;
            }
            case "min_over_time":
            case "max_over_time": {
                double r = p.v(0);
                boolean min = name.equals("min_over_time");
                for (int i = 0; i < n; i++) {
                    double x = p.v(i);
                    if (Double.isNaN(r) || (min ? x < r : x > r)) {
                        r = x;
                    }
                }
                result[0] = r;
                return true;
            }
            case "quantile_over_time": {
                List<Double> values = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    values.add(p.v(i));
                }
                result[0] = PromqlAggregations.quantile(param, values);
                return true;
            }
            case "stddev_over_time":
            case "stdvar_over_time": {
                double count = 0;
                double[] mean = new double[2];
                double[] aux = new double[2];
                for (int i = 0; i < n; i++) {
                    double x = p.v(i);
                    count++;
                    double delta = x - (mean[0] + mean[1]);
                    PromqlAggregations.kahanInc(delta / count, mean);
                    PromqlAggregations.kahanInc(delta * (x - (mean[0] + mean[1])), aux);
                }
                double var = (aux[0] + aux[1]) / count;
                result[0] = name.equals("stddev_over_time") ? Math.sqrt(var) : var;
                return true;
            }
            case "changes": {
                double changes = 0;
                for (int i = 1; i < n; i++) {
                    double x = p.v(i);
                    double before = p.v(i - 1);
                    if (x != before && !(Double.isNaN(x) && Double.isNaN(before))) {
                        changes++;
                    }
                }
                result[0] = changes;
                return true;
            }
            case "resets": {
                double resets = 0;
                for (int i = 1; i < n; i++) {
                    if (p.v(i) < p.v(i - 1)) {
                        resets++;
                    }
                }
                result[0] = resets;
                return true;
            }
            case "deriv": {
                if (n < 2) {
                    return false;
                }
                result[0] = regression(p, p.t(0))[0];
                return true;
            }
            case "predict_linear": {
                if (n < 2) {
                    return false;
                }
                double[] r = regression(p, t);
                result[0] = r[1] + r[0] * param;
                return true;
            }
            default:
                throw new UnsupportedPromqlException("function " + name);
        }
    }

    /**
     * {@code rate}, {@code increase} and {@code delta}: the change over the points, corrected for counter resets,
     * extrapolated to the range's edges where the points come close enough to them (within 1.1 times the average
     * interval; else by half an interval), and for counters never to below zero; into {@code out[0]}, false with
     * fewer than two points.
     */
    static boolean extrapolated(Points p, long windowStart, long windowEnd, boolean counter, boolean rate,
                                double[] out) {
        int n = p.size();
        if (n < 2) {
            return false;
        }
        double first = p.v(0);
        double result = p.v(n - 1) - first;
        if (counter) {
            double before = first;
            for (int i = 1; i < n; i++) {
                double x = p.v(i);
                if (x < before) {
                    result += before;
                }
                before = x;
            }
        }
        out[0] = extrapolate(result, p.t(0), first, p.t(n - 1), n, windowStart, windowEnd, counter, rate);
        return true;
    }

    /**
     * {@link #extrapolated}'s second half, from what it needs of the points (also what a rollup bucket keeps of
     * them): the change corrected for resets, the first point, the last point's time and how many there are.
     */
    static double extrapolate(double result, long firstMs, double first, long lastMs, long n, long windowStart,
                              long windowEnd, boolean counter, boolean rate) {
        double durationToStart = (firstMs - windowStart) / 1000.0;
        double durationToEnd = (windowEnd - lastMs) / 1000.0;
        double sampled = (lastMs - firstMs) / 1000.0;
        double average = sampled / (n - 1);
        double threshold = average * 1.1;
        if (durationToStart >= threshold) {
            durationToStart = average / 2;
        }
        if (counter && result > 0 && first >= 0) {
            double durationToZero = sampled * (first / result);
            if (durationToZero < durationToStart) {
                durationToStart = durationToZero;
            }
        }
        if (durationToEnd >= threshold) {
            durationToEnd = average / 2;
        }
        double factor = (sampled + durationToStart + durationToEnd) / sampled;
        if (rate) {
            factor /= (windowEnd - windowStart) / 1000.0;
        }
        return result * factor;
    }

    /** Holt's linear smoothing: the smoothed value after the last point, with smoothing and trend factors. */
    static double doubleExponentialSmoothing(double[] v, double sf, double tf) {
        double s0 = 0;
        double s1 = v[0];
        double b = v[1] - v[0];
        for (int i = 1; i < v.length; i++) {
            double x = sf * v[i];
            if (i > 1) {
                b = tf * (s1 - s0) + (1 - tf) * b;
            }
            double y = (1 - sf) * (s1 + b);
            s0 = s1;
            s1 = x + y;
        }
        return s1;
    }

    /** Least-squares line through the points, x in seconds from {@code interceptMs}: {slope, intercept}. */
    static double[] regression(Points p, long interceptMs) {
        double n = 0;
        double[] sumX = new double[2];
        double[] sumY = new double[2];
        double[] sumXY = new double[2];
        double[] sumX2 = new double[2];
        double initY = p.v(0);
        boolean constY = true;
        for (int i = 0; i < p.size(); i++) {
            double y = p.v(i);
            if (constY && i > 0 && y != initY) {
                constY = false;
            }
            n++;
            double x = (p.t(i) - interceptMs) / 1000.0;
            PromqlAggregations.kahanInc(x, sumX);
            PromqlAggregations.kahanInc(y, sumY);
            PromqlAggregations.kahanInc(x * y, sumXY);
            PromqlAggregations.kahanInc(x * x, sumX2);
        }
        if (constY) {
            if (Double.isInfinite(initY)) {
                return new double[] {Double.NaN, Double.NaN};
            }
            return new double[] {0, initY};
        }
        double sx = sumX[0] + sumX[1];
        double sy = sumY[0] + sumY[1];
        double sxy = sumXY[0] + sumXY[1];
        double sx2 = sumX2[0] + sumX2[1];
        double covXY = sxy - sx * sy / n;
        double varX = sx2 - sx * sx / n;
        double slope = covXY / varX;
        double intercept = sy / n - slope * sx / n;
        return new double[] {slope, intercept};
    }
}
