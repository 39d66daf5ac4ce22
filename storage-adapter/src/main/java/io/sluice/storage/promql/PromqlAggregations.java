package io.sluice.storage.promql;

import io.sluice.storage.promql.Expr.Aggregate;
import io.sluice.storage.promql.Values.Sample;
import io.sluice.storage.promql.Values.ScalarV;
import io.sluice.storage.promql.Values.StringV;
import io.sluice.storage.promql.Values.VectorV;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** Aggregation operators ({@code sum by (job) (...)} and the others), as Prometheus computes them. */
final class PromqlAggregations {

    private PromqlAggregations() {
    }

    /** Neumaier-compensated summation, as Prometheus sums floats: {@code [sum, compensation]}. */
    static void kahanInc(double inc, double[] acc) {
        double sum = acc[0];
        double t = sum + inc;
        if (Double.isInfinite(t)) {
            acc[1] = 0;
        } else if (Math.abs(sum) >= Math.abs(inc)) {
            acc[1] += (sum - t) + inc;
        } else {
            acc[1] += (inc - t) + sum;
        }
        acc[0] = t;
    }

    /** Running mean as Prometheus keeps it: a compensated sum, switching to an incremental mean on overflow. */
    static final class Mean {
        private final double[] sum = new double[2];
        private double mean;
        private double meanC;
        private double count;
        private boolean incremental;

        void add(double v) {
            count++;
            if (!incremental) {
                double[] next = {sum[0], sum[1]};
                kahanInc(v, next);
                if (count == 1 || !Double.isInfinite(next[0])) {
                    sum[0] = next[0];
                    sum[1] = next[1];
                    return;
                }
                incremental = true;
                mean = sum[0] / (count - 1);
                meanC = sum[1] / (count - 1);
            }
            double q = (count - 1) / count;
            double[] acc = {q * mean, q * meanC};
            kahanInc(v / count, acc);
            mean = acc[0];
            meanC = acc[1];
        }

        double value() {
            if (incremental) {
                return mean + meanC;
            }
            return sum[0] / count + sum[1] / count;
        }
    }

    /** Prometheus' quantile over values: linear interpolation between the closest ranks; NaN sorts first. */
    static double quantile(double q, List<Double> values) {
        if (values.isEmpty() || Double.isNaN(q)) {
            return Double.NaN;
        }
        if (q < 0) {
            return Double.NEGATIVE_INFINITY;
        }
        if (q > 1) {
            return Double.POSITIVE_INFINITY;
        }
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(NAN_FIRST);
        double n = sorted.size();
        double rank = q * (n - 1);
        double lower = Math.max(0, Math.floor(rank));
        double upper = Math.min(n - 1, lower + 1);
        double weight = rank - Math.floor(rank);
        return sorted.get((int) lower) * (1 - weight) + sorted.get((int) upper) * weight;
    }

    static final Comparator<Double> NAN_FIRST = (a, b) -> {
        if (Double.isNaN(a)) {
            return Double.isNaN(b) ? 0 : -1;
        }
        if (Double.isNaN(b)) {
            return 1;
        }
        return Double.compare(a, b) == 0 || a.doubleValue() == b.doubleValue() ? 0 : (a < b ? -1 : 1);
    };

    static SortedMap<String, String> groupLabels(SortedMap<String, String> labels, List<String> grouping,
                                                 boolean without) {
        TreeMap<String, String> out = new TreeMap<>();
        if (without) {
            out.putAll(labels);
            out.remove("__name__");
            for (String l : grouping) {
                out.remove(l);
            }
        } else {
            for (String l : grouping) {
                String v = labels.get(l);
                if (v != null) {
                    out.put(l, v);
                }
            }
        }
        return Values.freeze(out);
    }

    static VectorV aggregate(PromqlEvaluator ev, Aggregate a, long t) {
        double param = Double.NaN;
        String label = null;
        if (a.param() != null) {
            Values.Value p = ev.eval(a.param(), t);
            if (p instanceof ScalarV s) {
                param = s.value();
            } else {
                label = ((StringV) p).value();
            }
        }
        List<Sample> input = ((VectorV) ev.eval(a.expr(), t)).samples();
        Map<SortedMap<String, String>, List<Sample>> groups = new LinkedHashMap<>();
        Map<SortedMap<String, String>, SortedMap<String, String>> groupOf = ev.groupCache(a);
        for (Sample s : input) {
            SortedMap<String, String> group = groupOf.computeIfAbsent(s.labels(),
                    l -> groupLabels(l, a.grouping(), a.without()));
            groups.computeIfAbsent(group, k -> new ArrayList<>()).add(s);
        }
        List<Sample> out = new ArrayList<>();
        switch (a.op()) {
            case "topk", "bottomk" -> {
                if (Double.isNaN(param)) {
                    throw PromqlEvaluator.execution("Parameter value is NaN");
                }
                long k = param >= 9.2e18 ? Long.MAX_VALUE : (long) param;
                if (k < 1) {
                    return new VectorV(List.of());
                }
                boolean top = a.op().equals("topk");
                for (List<Sample> group : groups.values()) {
                    List<Sample> sorted = new ArrayList<>(group);
                    sorted.sort((x, y) -> {
                        boolean xn = Double.isNaN(x.value());
                        boolean yn = Double.isNaN(y.value());
                        if (xn || yn) {
                            return Boolean.compare(xn, yn);
                        }
                        return top ? Double.compare(y.value(), x.value()) : Double.compare(x.value(), y.value());
                    });
                    for (int i = 0; i < sorted.size() && i < k; i++) {
                        Sample s = sorted.get(i);
                        out.add(new Sample(s.labels(), s.value(), t));
                    }
                }
            }
            case "count_values" -> {
                if (!isLabelName(label)) {
                    throw PromqlEvaluator.execution("invalid label name " + PromqlLexer.goQuote(label));
                }
                Map<SortedMap<String, String>, double[]> counts = new LinkedHashMap<>();
                for (Sample s : input) {
                    TreeMap<String, String> l = new TreeMap<>(groupLabels(s.labels(), a.grouping(), a.without()));
                    l.put(label, formatValue(s.value()));
                    counts.computeIfAbsent(Values.freeze(l), k -> new double[1])[0]++;
                }
                for (Map.Entry<SortedMap<String, String>, double[]> e : counts.entrySet()) {
                    out.add(new Sample(e.getKey(), e.getValue()[0], t));
                }
            }
            default -> {
                for (Map.Entry<SortedMap<String, String>, List<Sample>> e : groups.entrySet()) {
                    out.add(new Sample(e.getKey(), simple(a.op(), param, e.getValue()), t));
                }
            }
        }
        return new VectorV(out);
    }

    private static double simple(String op, double param, List<Sample> group) {
        switch (op) {
            case "sum" -> {
                double[] acc = new double[2];
                for (Sample s : group) {
                    kahanInc(s.value(), acc);
                }
                return acc[0] + acc[1];
            }
            case "avg" -> {
                Mean m = new Mean();
                for (Sample s : group) {
                    m.add(s.value());
                }
                return m.value();
            }
            case "count" -> {
                return group.size();
            }
            case "group" -> {
                return 1;
            }
            case "min", "max" -> {
                double v = group.get(0).value();
                boolean min = op.equals("min");
                for (Sample s : group) {
                    v = minOrMax(min, v, s.value());
                }
                return v;
            }
            case "stddev", "stdvar" -> {
                double count = 0;
                double mean = 0;
                double m2 = 0;
                for (Sample s : group) {
                    count++;
                    double delta = s.value() - mean;
                    mean += delta / count;
                    m2 += delta * (s.value() - mean);
                }
                double var = m2 / count;
                return op.equals("stddev") ? Math.sqrt(var) : var;
            }
            case "quantile" -> {
                List<Double> values = new ArrayList<>();
                for (Sample s : group) {
                    values.add(s.value());
                }
                return quantile(param, values);
            }
            default -> throw new UnsupportedPromqlException("aggregation " + op);
        }
    }

    /**
     * {@code min} or {@code max} so far after {@code x}: {@code x} when it is smaller (larger), or when the value so far
     * is NaN (a NaN is kept only while every value is NaN, as Prometheus does).
     */
    static double minOrMax(boolean min, double soFar, double x) {
        return Double.isNaN(soFar) || (min ? x < soFar : x > soFar) ? x : soFar;
    }

    /** A label name as Prometheus 3 accepts one: any non-empty valid UTF-8. */
    static boolean isLabelName(String s) {
        return s != null && !s.isEmpty() && PromqlLexer.isValidUtf8(s);
    }

    /** A float as Go's {@code strconv.FormatFloat(v, 'f', -1, 64)} writes it. */
    static String formatValue(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == 0) {
            return (1 / v < 0) ? "-0" : "0";
        }
        return new BigDecimal(Double.toString(v)).stripTrailingZeros().toPlainString();
    }
}
