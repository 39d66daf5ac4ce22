package io.sluice.storage.promql;

import io.sluice.storage.chunks.CounterRun;
import io.sluice.storage.chunks.Summary;
import io.sluice.storage.promql.Expr.Aggregate;
import io.sluice.storage.promql.Expr.Binary;
import io.sluice.storage.promql.Expr.Call;
import io.sluice.storage.promql.Expr.MatrixSel;
import io.sluice.storage.promql.Expr.Paren;
import io.sluice.storage.promql.Expr.Unary;
import io.sluice.storage.promql.Values.Sample;
import io.sluice.storage.promql.Values.VectorV;
import io.sluice.storage.query.Resolution;
import io.sluice.storage.query.RollupRead;
import io.sluice.storage.query.SeriesRollups;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Range functions read from the rollups ("push-down"): in a range query, {@code f(selector[r] offset o)} for
 * {@code f} in {@link #FUNCTIONS}, not inside a subquery and without {@code @}, when {@code r}, {@code o}, the step and
 * the query's start are whole hours (then 1-hour rollups are read) or whole minutes (1-minute rollups). Each step's
 * window is then whole buckets, and a query reads a few rows per window instead of every raw sample.
 *
 * <p>Prometheus' window is {@code (t - r, t]}, the buckets' {@code [t - r, t)}: they hold the same samples unless one
 * lies exactly on a bucket's start. A plan is therefore
 * <ul>
 *   <li><b>exact</b> while raw samples still cover the range, at a step of at least {@code query.rollup-min-step}
 *       and where the windows' buckets are fewer rows than the raw chunks of the span ({@link RollupPushDown#fewerRows};
 *       raw samples are packed many to a row, so a query reads fewer rows from the rollups only when its windows are
 *       short next to its step): the rollups are used only when every bucket read is known, has no sample on its
 *       start, and (for {@code sum} and {@code avg}) no staleness marker; then the answer is what raw samples give
 *       (bit for bit for {@code rate}, {@code increase}, {@code delta}, {@code count}, {@code min} and {@code max}
 *       without counter resets; sums may differ in the last digits, being added per bucket). Otherwise the engine
 *       reads raw samples instead.</li>
 *   <li><b>rollups only</b> when the range reaches back past {@code retention.raw}, where raw samples are gone: a
 *       window is then {@code [t - r, t)}, and a series has no value at a step where a bucket it needs is unknown
 *       (written before migration V12, or by batches that interleave in time) or, for {@code sum} and {@code avg},
 *       holds a staleness marker.</li>
 * </ul>
 */
final class PromqlRollups {

    static final Set<String> FUNCTIONS = Set.of("rate", "increase", "delta", "sum_over_time", "count_over_time",
            "avg_over_time", "min_over_time", "max_over_time");

    private static final long HOUR_MS = 3_600_000;

    private PromqlRollups() {
    }

    /** A call read from the rollups: its selector, which buckets, and whether it must answer exactly. */
    record Plan(Call call, MatrixSel selector, RollupRead read, boolean exact) {
    }

    /** A plan with the buckets read, and per series the last window's indexes (see {@link #eval}). */
    static final class Pushed {
        final Plan plan;
        final List<RollupSeries> series;
        final int[] windows;

        Pushed(Plan plan, List<RollupSeries> series) {
            this.plan = plan;
            this.series = series;
            this.windows = new int[2 * series.size()];
            Arrays.fill(windows, -1);
        }
    }

    /** The calls of a range query over [start, end] at a step that read rollups under the policy. */
    static List<Plan> plan(Expr e, long start, long end, long step, RollupPushDown policy) {
        List<Plan> out = new ArrayList<>();
        long lastT = start + (end - start) / step * step;
        long rawHorizon = policy.clock().millis() - policy.rawRetention().toMillis();
        walk(e, start, lastT, step, policy, rawHorizon, out);
        return out;
    }

    private static void walk(Expr e, long start, long lastT, long step, RollupPushDown policy, long rawHorizon,
                             List<Plan> out) {
        if (e instanceof Paren p) {
            walk(p.expr(), start, lastT, step, policy, rawHorizon, out);
        } else if (e instanceof Unary u) {
            walk(u.expr(), start, lastT, step, policy, rawHorizon, out);
        } else if (e instanceof Binary b) {
            walk(b.lhs(), start, lastT, step, policy, rawHorizon, out);
            walk(b.rhs(), start, lastT, step, policy, rawHorizon, out);
        } else if (e instanceof Aggregate a) {
            if (a.param() != null) {
                walk(a.param(), start, lastT, step, policy, rawHorizon, out);
            }
            walk(a.expr(), start, lastT, step, policy, rawHorizon, out);
        } else if (e instanceof Call c) {
            Plan plan = planCall(c, start, lastT, step, policy, rawHorizon);
            if (plan != null) {
                out.add(plan);
                return;
            }
            for (Expr arg : c.args()) {
                walk(arg, start, lastT, step, policy, rawHorizon, out);
            }
        }
        // selectors, literals and subqueries: nothing to read from the rollups (a subquery's steps are its own)
    }

    private static Plan planCall(Call c, long start, long lastT, long step, RollupPushDown policy, long rawHorizon) {
        if (!FUNCTIONS.contains(c.function().name()) || c.args().size() != 1
                || !(c.args().get(0) instanceof MatrixSel ms) || ms.selector().at() != null) {
            return null;
        }
        long range = ms.rangeMs();
        long offset = ms.selector().offsetMs();
        for (Resolution resolution : List.of(Resolution.HOUR, Resolution.MINUTE)) {
            long res = resolution.size().toMillis();
            if (range % res != 0 || step % res != 0 || Math.floorMod(start - offset, res) != 0) {
                continue;
            }
            long from = start - offset - range;
            long to = lastT - offset;
            boolean rollupsOnly = from < rawHorizon;
            if (!rollupsOnly && (step < policy.minStep().toMillis() || policy.fewerRows()
                    && ((lastT - start) / step + 1) * (range / res + 1) > (to - from) / HOUR_MS + 1
                    || from < policy.clock().millis() - policy.retention(resolution).toMillis())) {
                return null; // raw samples answer: cheaper, or where these rollups are gone already
            }
            return new Plan(c, ms, new RollupRead(resolution, from, to, step, range), !rollupsOnly);
        }
        return null;
    }

    /**
     * Whether the buckets read give the function exactly what raw samples would: every bucket known, none with a
     * sample on its start, and for {@code sum} and {@code avg} none with a staleness marker.
     */
    static boolean exact(String function, List<RollupSeries> series) {
        boolean sums = function.equals("sum_over_time") || function.equals("avg_over_time");
        for (RollupSeries s : series) {
            SeriesRollups rows = s.rows();
            for (int i = 0; i < rows.size(); i++) {
                long points = rows.points(i);
                if (points < 0 || points > 0 && rows.firstMs(i) == s.buckets()[i]
                        || sums && points != rows.count(i)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The function at time t, each series' window {@code [t - offset - range, t - offset)} made of its buckets. */
    static VectorV eval(PromqlEvaluator ev, Pushed pushed, long t) {
        Plan plan = pushed.plan;
        String name = plan.call().function().name();
        long end = t - plan.selector().selector().offsetMs();
        long start = end - plan.selector().rangeMs();
        long lastBucket = end - plan.read().resolutionMs();
        List<Sample> out = new ArrayList<>();
        CounterRun run = new CounterRun();
        for (int k = 0; k < pushed.series.size(); k++) {
            RollupSeries s = pushed.series.get(k);
            long[] buckets = s.buckets();
            int before = PromqlEvaluator.upperIndex(buckets, start - 1, pushed.windows[2 * k]);
            int to = PromqlEvaluator.upperIndex(buckets, lastBucket, Math.max(before, pushed.windows[2 * k + 1]));
            pushed.windows[2 * k] = before;
            pushed.windows[2 * k + 1] = to;
            Double v = value(name, s.rows(), before + 1, to, run, start, end);
            if (v != null) {
                out.add(new Sample(ev.dropName(s.labels()), v, t));
            }
        }
        return new VectorV(out);
    }

    /** The function over buckets from..to (inclusive), or null when they hold no value for it or are unusable. */
    private static Double value(String name, SeriesRollups rows, int from, int to, CounterRun run, long start,
                                long end) {
        long points = 0;
        for (int i = from; i <= to; i++) {
            if (rows.points(i) < 0) {
                return null;
            }
            points += rows.points(i);
        }
        if (points == 0) {
            return null;
        }
        switch (name) {
            case "count_over_time":
                return (double) points;
            case "sum_over_time":
            case "avg_over_time": {
                double[] acc = new double[2];
                for (int i = from; i <= to; i++) {
                    if (rows.count(i) != rows.points(i)) {
                        return null; // a staleness marker is in the bucket's sum
                    }
                    PromqlAggregations.kahanInc(rows.sum(i), acc);
                }
                double sum = acc[0] + acc[1];
                return name.equals("sum_over_time") ? sum : sum / points;
            }
            case "min_over_time":
            case "max_over_time": {
                boolean min = name.equals("min_over_time");
                double r = Double.NaN;
                for (int i = from; i <= to; i++) {
                    if (rows.points(i) > 0) {
                        r = min ? Summary.min(r, rows.min(i)) : Summary.max(r, rows.max(i));
                    }
                }
                return r;
            }
            default: { // rate, increase, delta
                run.clear();
                for (int i = from; i <= to; i++) {
                    run.append(rows.points(i), rows.firstMs(i), rows.first(i), rows.lastMs(i), rows.last(i),
                            rows.resets(i));
                }
                if (!run.known() || run.points() < 2) {
                    return null;
                }
                boolean counter = !name.equals("delta");
                double result = run.last() - run.first();
                if (counter) {
                    result += run.resets();
                }
                return PromqlRangeFunctions.extrapolate(result, run.firstMs(), run.first(), run.lastMs(),
                        run.points(), start, end, counter, name.equals("rate"));
            }
        }
    }
}
