package io.sluice.storage.promql;

import io.sluice.storage.promql.Expr.Call;
import io.sluice.storage.promql.Expr.MatrixSel;
import io.sluice.storage.promql.Expr.Paren;
import io.sluice.storage.promql.Values.Points;
import io.sluice.storage.query.Matcher;
import io.sluice.storage.query.SampleBudget;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;

/**
 * A range query of a range function over a range selector read from raw samples ({@code rate(x[5m])},
 * {@code avg_over_time(x[10m])}: the shape of most dashboard panels) evaluated series by series instead of step by
 * step: each series' windows are walked forward once and its values written straight into its answer's arrays, with
 * no vector of samples made at each step. The values are the step-by-step evaluation's (the same windows, the same
 * {@link PromqlRangeFunctions}); the series are split among runs at once, not the steps.
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
    /** Each series' labels in the answer. */
    private final List<SortedMap<String, String>> labels;

    private SeriesWise(Call call, MatrixSel selector, List<Series> series, List<SortedMap<String, String>> labels) {
        this.call = call;
        this.selector = selector;
        this.series = series;
        this.labels = labels;
    }

    /** How {@code e} is evaluated series by series over the fetched {@code data}, or null when it is not. */
    static SeriesWise of(Expr e, Map<List<Matcher>, List<Series>> data, Map<Call, PromqlRollups.Pushed> pushed) {
        while (e instanceof Paren p) {
            e = p.expr();
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
        return new SeriesWise(c, ms, live, labels);
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
        String name = call.function().name();
        long range = selector.rangeMs();
        List<Series> out = new ArrayList<>(to - from);
        double[] value = new double[1];
        long[] grid = null; // the steps' times: one array for every series with a value at each step
        long[] spare = null; // times written, then not kept: the next series writes its own there
        for (int k = from; k < to; k++) {
            io.sluice.storage.query.DeadlineText.check(ev.deadlineNanos);
            Series s = series.get(k);
            SortedMap<String, String> answerLabels = labels.get(k);
            long[] ts = s.timestamps();
            double[] vs = s.values();
            Points window = new Points(s.labels(), ts, vs, 0, 0);
            long[] outTs = null;
            double[] outVs = null;
            int n = 0;
            int before = -1;
            int last = -1;
            for (int i = 0; i < steps; i++) { // by index: start + i * step never passes the end
                long t = start + i * step;
                long end = ev.windowEnd(selector, t);
                before = PromqlEvaluator.upperIndex(ts, end - range, before);
                last = PromqlEvaluator.upperIndex(ts, end, Math.max(before, last));
                if (last <= before || !PromqlRangeFunctions.apply(name, window.reset(s.labels(), ts, vs, before + 1,
                        last + 1), end - range, end, Double.NaN, t, value)) {
                    continue;
                }
                if (outTs == null) {
                    budget.take(steps); // the answer's points, before they are held
                    outTs = spare != null ? spare : new long[steps];
                    spare = null;
                    outVs = new double[steps];
                }
                outTs[n] = t;
                outVs[n++] = value[0];
            }
            if (n == steps) {
                if (grid == null) {
                    grid = outTs;
                } else {
                    spare = outTs;
                }
                out.add(new Series(answerLabels, grid, outVs)); // answers' arrays are never written to
            } else if (n > 0) {
                out.add(new Series(answerLabels, Arrays.copyOf(outTs, n), Arrays.copyOf(outVs, n)));
                spare = outTs;
            }
        }
        return out;
    }
}
