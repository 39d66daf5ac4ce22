package io.sluice.storage.promql;

import io.sluice.storage.promql.Expr.Aggregate;
import io.sluice.storage.promql.Expr.Call;
import io.sluice.storage.promql.Expr.MatrixSel;
import io.sluice.storage.promql.Expr.Paren;
import io.sluice.storage.promql.Values.Points;
import io.sluice.storage.query.Matcher;
import io.sluice.storage.query.SampleBudget;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;

/**
 * A range query of a range function over a range selector read from raw samples ({@code rate(x[5m])},
 * {@code avg_over_time(x[10m])}: the shape of most dashboard panels), or of {@code sum}, {@code avg}, {@code min},
 * {@code max}, {@code count} or {@code group} over one ({@code sum by (job) (rate(x[5m]))}), evaluated series by
 * series instead of step by step: each series' windows are walked forward once and its values written straight into
 * its answer's arrays, or folded into its group's, with no vector of samples made at each step. The values are the
 * step-by-step evaluation's (the same windows, the same {@link PromqlRangeFunctions}, the same folds in the same
 * order); a function's series are split among runs at once, an aggregation's steps.
 *
 * <p>Not taken where the step-by-step evaluation has more to do: a call read from the rollups, a function with
 * another argument, {@code absent_over_time}, and selected series that would have the same labels once the function
 * drops the metric name (Prometheus' error names the step where both have a value).
 */
final class SeriesWise {

    private final Call call;
    private final MatrixSel selector;
    /** The selected series without staleness markers (a window never holds one). */
    private final List<Series> series;
    /** Each series' labels in the function's answer. */
    private final List<SortedMap<String, String>> labels;
    /** The aggregation over the function, or null. */
    private final Aggregate aggregation;
    /** With an aggregation: each series' group, an index into {@link #groupLabels}. */
    private final int[] groupOf;
    private final List<SortedMap<String, String>> groupLabels;

    private SeriesWise(Call call, MatrixSel selector, List<Series> series, List<SortedMap<String, String>> labels,
                       Aggregate aggregation) {
        this.call = call;
        this.selector = selector;
        this.series = series;
        this.labels = labels;
        this.aggregation = aggregation;
        this.groupOf = new int[series.size()];
        this.groupLabels = new ArrayList<>();
        if (aggregation != null) {
            Map<SortedMap<String, String>, Integer> groups = new HashMap<>();
            for (int k = 0; k < series.size(); k++) {
                SortedMap<String, String> group = PromqlAggregations.groupLabels(labels.get(k), aggregation.grouping(),
                        aggregation.without());
                groupOf[k] = groups.computeIfAbsent(group, g -> {
                    groupLabels.add(g);
                    return groupLabels.size() - 1;
                });
            }
        }
    }

    /** How {@code e} is evaluated series by series over the fetched {@code data}, or null when it is not. */
    static SeriesWise of(Expr e, Map<List<Matcher>, List<Series>> data, Map<Call, PromqlRollups.Pushed> pushed) {
        e = unwrap(e);
        Aggregate aggregation = null;
        if (e instanceof Aggregate a && a.param() == null && FOLDED.contains(a.op())) {
            aggregation = a;
            e = unwrap(a.expr());
        }
        if (!(e instanceof Call c) || c.args().size() != 1 || !(c.args().get(0) instanceof MatrixSel ms)
                || c.function().name().equals("absent_over_time") || pushed.containsKey(c)) {
            return null;
        }
        List<Series> live = PromqlEvaluator.withoutStaleMarkers(
                data.getOrDefault(PromqlEngine.key(ms.selector().matchers()), List.of()));
        boolean keepName = PromqlFunctionEval.keepsName(c.function().name());
        List<SortedMap<String, String>> labels = new ArrayList<>(live.size());
        Set<SortedMap<String, String>> seen = new HashSet<>();
        for (Series s : live) {
            SortedMap<String, String> out = keepName ? s.labels() : Values.withoutName(s.labels());
            if (!seen.add(out)) {
                return null;
            }
            labels.add(out);
        }
        return new SeriesWise(c, ms, live, labels, aggregation);
    }

    /** The aggregations folded value by value here (the others need a step's whole vector). */
    private static final Set<String> FOLDED = Set.of("sum", "avg", "min", "max", "count", "group");

    private static Expr unwrap(Expr e) {
        while (e instanceof Paren p) {
            e = p.expr();
        }
        return e;
    }

    /** How many series there are to evaluate. */
    int size() {
        return series.size();
    }

    /**
     * Series {@code [from, to)}'s answers at the {@code steps} steps from {@code start}: each series with a value at
     * some step, its points at those steps. Each such series takes {@code steps} points from the budget before its
     * arrays are made, as the step-by-step evaluation's do. The series with a value at every step share one array
     * of times (half of a dashboard answer's memory, in the query cache too).
     */
    List<Series> eval(PromqlEvaluator ev, long start, long step, int steps, int from, int to, SampleBudget budget) {
        List<Series> out = new ArrayList<>(to - from);
        Walk walk = new Walk(ev, start, step);
        long[] grid = null; // the steps' times: one array for every series with a value at each step
        long[] spare = null; // times written, then not kept: the next series writes its own there
        for (int k = from; k < to; k++) {
            io.sluice.storage.query.DeadlineText.check(ev.deadlineNanos);
            long[] outTs = null;
            double[] outVs = null;
            int n = 0;
            walk.series(k);
            for (int i = 0; i < steps; i++) {
                if (!walk.step(i)) {
                    continue;
                }
                if (outTs == null) {
                    budget.take(steps); // the answer's points, before they are held
                    outTs = spare != null ? spare : new long[steps];
                    spare = null;
                    outVs = new double[steps];
                }
                outTs[n] = walk.t;
                outVs[n++] = walk.value[0];
            }
            if (n == steps) {
                if (grid == null) {
                    grid = outTs;
                } else {
                    spare = outTs;
                }
                out.add(new Series(labels.get(k), grid, outVs)); // answers' arrays are never written to
            } else if (n > 0) {
                out.add(new Series(labels.get(k), Arrays.copyOf(outTs, n), Arrays.copyOf(outVs, n)));
                spare = outTs;
            }
        }
        return out;
    }

    /**
     * Steps {@code [from, to)} of the aggregation over the function's values: each group's points there, in the order
     * the groups were first met. Every series is walked in the selection's order, as each step's vector holds them,
     * and each group's value at a step is folded as {@link PromqlAggregations} folds that vector's samples (the same
     * compensated sums and running means, in the same order): the same numbers. Each group takes the run's steps from
     * the budget when it gets its first point, as the step-by-step evaluation's runs do.
     */
    List<Series> aggregate(PromqlEvaluator ev, long start, long step, int from, int to, SampleBudget budget) {
        int steps = to - from;
        Walk walk = new Walk(ev, start, step);
        Fold[] folds = new Fold[groupLabels.size()];
        for (int k = 0; k < series.size(); k++) {
            io.sluice.storage.query.DeadlineText.check(ev.deadlineNanos);
            int g = groupOf[k];
            walk.series(k);
            for (int i = from; i < to; i++) {
                if (!walk.step(i)) {
                    continue;
                }
                if (folds[g] == null) {
                    budget.take(steps); // the group's points, before they are held
                    folds[g] = new Fold(aggregation.op(), steps);
                }
                folds[g].add(i - from, walk.value[0]);
            }
        }
        List<Series> out = new ArrayList<>();
        for (int g = 0; g < folds.length; g++) {
            if (folds[g] != null) {
                out.add(folds[g].series(groupLabels.get(g), start, step, from));
            }
        }
        return out;
    }

    /** Whether this is an aggregation over the function (evaluated by {@link #aggregate}) rather than the function. */
    boolean aggregates() {
        return aggregation != null;
    }

    /** One series' windows, walked forward step by step: the function's value at each. */
    private final class Walk {
        private final PromqlEvaluator ev;
        private final long start;
        private final long step;
        private final String name = call.function().name();
        private final long range = selector.rangeMs();
        final double[] value = new double[1];
        long t;
        private Series s;
        private Points window;
        private int before;
        private int last;

        Walk(PromqlEvaluator ev, long start, long step) {
            this.ev = ev;
            this.start = start;
            this.step = step;
        }

        /** Starts on series {@code k}. */
        void series(int k) {
            s = series.get(k);
            window = new Points(s.labels(), s.timestamps(), s.values(), 0, 0);
            before = -1;
            last = -1;
        }

        /** Whether the function has a value at step {@code i} (later than the last asked); it is then in value[0]. */
        boolean step(int i) {
            t = start + i * step; // by index: start + i * step never passes the end
            long end = ev.windowEnd(selector, t);
            long[] ts = s.timestamps();
            before = PromqlEvaluator.upperIndex(ts, end - range, before);
            last = PromqlEvaluator.upperIndex(ts, end, Math.max(before, last));
            return last > before && PromqlRangeFunctions.apply(name, window.reset(s.labels(), ts, s.values(),
                    before + 1, last + 1), end - range, end, Double.NaN, t, value);
        }
    }

    /** A group's values at a run's steps, folded as {@link PromqlAggregations} folds one step's samples. */
    private static final class Fold {
        private final String op;
        private final double[] a; // sum, min or max
        private final double[] b; // the sum's compensation
        private final int[] count;
        private final PromqlAggregations.Mean[] means;
        private final double[] acc = new double[2];

        Fold(String op, int steps) {
            this.op = op;
            this.count = new int[steps];
            this.a = op.equals("avg") || op.equals("count") || op.equals("group") ? null : new double[steps];
            this.b = op.equals("sum") ? new double[steps] : null;
            this.means = op.equals("avg") ? new PromqlAggregations.Mean[steps] : null;
        }

        void add(int i, double v) {
            switch (op) {
                case "sum" -> {
                    acc[0] = a[i];
                    acc[1] = b[i];
                    PromqlAggregations.kahanInc(v, acc);
                    a[i] = acc[0];
                    b[i] = acc[1];
                }
                case "avg" -> {
                    if (means[i] == null) {
                        means[i] = new PromqlAggregations.Mean();
                    }
                    means[i].add(v);
                }
                case "min", "max" -> a[i] = PromqlAggregations.minOrMax(op.equals("min"), count[i] == 0 ? v : a[i], v);
                default -> {
                    // count, group: the count alone
                }
            }
            count[i]++;
        }

        Series series(SortedMap<String, String> labels, long start, long step, int from) {
            int n = 0;
            for (int c : count) {
                n += c > 0 ? 1 : 0;
            }
            long[] ts = new long[n];
            double[] vs = new double[n];
            int j = 0;
            for (int i = 0; i < count.length; i++) {
                if (count[i] == 0) {
                    continue;
                }
                ts[j] = start + (from + i) * step;
                vs[j++] = switch (op) {
                    case "sum" -> a[i] + b[i];
                    case "avg" -> means[i].value();
                    case "count" -> count[i];
                    case "group" -> 1;
                    default -> a[i];
                };
            }
            return new Series(labels, ts, vs);
        }
    }
}
