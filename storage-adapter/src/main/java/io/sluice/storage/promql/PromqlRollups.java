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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 *
 * <p>An instant query's window {@code (t - o - r, t - o]} need not be whole buckets ({@link #planInstant}): it is read
 * as the whole buckets inside it and the raw samples before and after them, joined per series. Its buckets lie inside
 * the window, so a sample on a bucket's start does not matter; past {@code retention.raw} it starts at its first
 * whole bucket.
 */
final class PromqlRollups {

    static final Set<String> FUNCTIONS = Set.of("rate", "increase", "delta", "sum_over_time", "count_over_time",
            "avg_over_time", "min_over_time", "max_over_time");

    private static final long HOUR_MS = 3_600_000;

    private PromqlRollups() {
    }

    /**
     * A call read from the rollups: its selector, which buckets, whether it must answer exactly, and for an instant
     * query the raw samples around its buckets (null for a range query's call).
     */
    record Plan(Call call, MatrixSel selector, RollupRead read, boolean exact, Edges edges) {
    }

    /**
     * An instant query's window {@code (a, b]} around its whole buckets {@code [lo, hi)}: the raw samples in
     * {@code [headFrom, headTo]} = {@code (a, lo)} and {@code [tailFrom, tailTo]} = {@code [hi, b]} (an edge with
     * {@code from > to} is empty).
     */
    record Edges(long headFrom, long headTo, long tailFrom, long tailTo) {

        /** The window's start, exclusive. */
        long windowStart() {
            return headFrom - 1;
        }

        /** The window's end, inclusive. */
        long windowEnd() {
            return tailTo;
        }
    }

    /** A plan with the buckets read, and per series the last window's indexes (see {@link #eval}). */
    static final class Pushed {
        final Plan plan;
        final List<RollupSeries> series;
        final int[] windows;
        /** An instant query's raw samples before and after the buckets ({@link Edges}); empty for a range query. */
        final List<Series> head;
        final List<Series> tail;

        Pushed(Plan plan, List<RollupSeries> series) {
            this(plan, series, List.of(), List.of());
        }

        Pushed(Plan plan, List<RollupSeries> series, List<Series> head, List<Series> tail) {
            this.plan = plan;
            this.series = series;
            this.head = head;
            this.tail = tail;
            this.windows = new int[2 * series.size()];
            Arrays.fill(windows, -1);
        }
    }

    /** The calls of a range query over [start, end] at a step that read rollups under the policy. */
    static List<Plan> plan(Expr e, long start, long end, long step, RollupPushDown policy) {
        List<Plan> out = new ArrayList<>();
        long lastT = start + (end - start) / step * step;
        long rawHorizon = policy.clock().millis() - policy.rawRetention().toMillis();
        walk(e, c -> planCall(c, start, lastT, step, policy, rawHorizon), out);
        return out;
    }

    /**
     * The calls of an instant query at {@code t} that read rollups under the policy: each window {@code (a, b]} is
     * the whole buckets inside it and the raw samples of the parts before and after them (less than a bucket each),
     * so the evaluation time need not be a whole minute. Where raw samples cover the window, only where that reads
     * fewer rows ({@link RollupPushDown#fewerRows}) and the buckets answer exactly; where the window reaches past
     * {@code retention.raw}, always (the part before the first whole bucket, whose raw samples are gone, is left out).
     */
    static List<Plan> planInstant(Expr e, long t, RollupPushDown policy) {
        List<Plan> out = new ArrayList<>();
        long rawHorizon = policy.clock().millis() - policy.rawRetention().toMillis();
        walk(e, c -> planInstantCall(c, t, policy, rawHorizon), out);
        return out;
    }

    private static void walk(Expr e, java.util.function.Function<Call, Plan> planner, List<Plan> out) {
        if (e instanceof Paren p) {
            walk(p.expr(), planner, out);
        } else if (e instanceof Unary u) {
            walk(u.expr(), planner, out);
        } else if (e instanceof Binary b) {
            walk(b.lhs(), planner, out);
            walk(b.rhs(), planner, out);
        } else if (e instanceof Aggregate a) {
            if (a.param() != null) {
                walk(a.param(), planner, out);
            }
            walk(a.expr(), planner, out);
        } else if (e instanceof Call c) {
            Plan plan = planner.apply(c);
            if (plan != null) {
                out.add(plan);
                return;
            }
            for (Expr arg : c.args()) {
                walk(arg, planner, out);
            }
        }
        // selectors, literals and subqueries: nothing to read from the rollups (a subquery's steps are its own)
    }

    /** The call's range selector when the call is one the rollups can answer, else null. */
    private static MatrixSel pushable(Call c) {
        if (!FUNCTIONS.contains(c.function().name()) || c.args().size() != 1
                || !(c.args().get(0) instanceof MatrixSel ms) || ms.selector().at() != null) {
            return null;
        }
        return ms;
    }

    private static Plan planInstantCall(Call c, long t, RollupPushDown policy, long rawHorizon) {
        MatrixSel ms = pushable(c);
        if (ms == null) {
            return null;
        }
        long b = t - ms.selector().offsetMs();
        long a = b - ms.rangeMs();
        boolean rollupsOnly = a < rawHorizon;
        for (Resolution resolution : List.of(Resolution.HOUR, Resolution.MINUTE)) {
            long res = resolution.size().toMillis();
            // the first bucket inside (a, b]; past retention.raw one starting at a too, as a range query's [t - r, t)
            long lo = rollupsOnly ? -Math.floorDiv(-a, res) * res : (Math.floorDiv(a, res) + 1) * res;
            long hi = Math.floorDiv(b + 1, res) * res;
            if (hi - lo < res || lo < policy.clock().millis() - policy.retention(resolution).toMillis()) {
                continue; // no whole bucket in the window, or these rollups are gone there
            }
            if (!rollupsOnly && policy.fewerRows()
                    && (hi - lo) / res + 1 + chunks(a + 1, lo - 1) + chunks(hi, b) >= chunks(a + 1, b)) {
                return null; // raw samples answer in as few rows
            }
            return new Plan(c, ms, new RollupRead(resolution, lo, hi, hi - lo, hi - lo), !rollupsOnly,
                    new Edges(a + 1, lo - 1, hi, b));
        }
        return null;
    }

    /** The raw chunk rows (one per series and hour at least) that hold {@code [from, to]}: none when it is empty. */
    private static long chunks(long from, long to) {
        return to < from ? 0 : Math.floorDiv(to, HOUR_MS) - Math.floorDiv(from, HOUR_MS) + 1;
    }

    private static Plan planCall(Call c, long start, long lastT, long step, RollupPushDown policy, long rawHorizon) {
        MatrixSel ms = pushable(c);
        if (ms == null) {
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
            return new Plan(c, ms, new RollupRead(resolution, from, to, step, range), !rollupsOnly, null);
        }
        return null;
    }

    /**
     * Whether the buckets read give the call exactly what raw samples would: every bucket known, none with a sample on
     * its start (for a range query's windows, which are {@code [t - r, t)} in buckets; an instant query's buckets lie
     * inside its window), and for {@code sum} and {@code avg} none with a staleness marker.
     */
    static boolean exact(Plan plan, List<RollupSeries> series) {
        String function = plan.call().function().name();
        boolean sums = sums(function);
        boolean edgesMatter = plan.edges() == null;
        for (RollupSeries s : series) {
            SeriesRollups rows = s.rows();
            for (int i = 0; i < rows.size(); i++) {
                if (!edgesMatter && s.buckets()[i] >= plan.read().toMs()) {
                    continue; // the bucket at the end of an instant query's buckets: read, but not part of them
                }
                long points = rows.points(i);
                if (points < 0 || edgesMatter && points > 0 && rows.firstMs(i) == s.buckets()[i]
                        || sums && points != rows.count(i)) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * The function at time t, each series' window {@code [t - offset - range, t - offset)} made of its buckets (or for
     * an instant query's plan, its window of buckets and raw samples at the edges).
     */
    static VectorV eval(PromqlEvaluator ev, Pushed pushed, long t) {
        Plan plan = pushed.plan;
        if (plan.edges() != null) {
            return evalInstant(ev, pushed, t);
        }
        String name = plan.call().function().name();
        long end = t - plan.selector().selector().offsetMs();
        long start = end - plan.selector().rangeMs();
        long lastBucket = end - plan.read().resolutionMs();
        List<Sample> out = new ArrayList<>();
        Window w = new Window();
        for (int k = 0; k < pushed.series.size(); k++) {
            RollupSeries s = pushed.series.get(k);
            long[] buckets = s.buckets();
            int before = PromqlEvaluator.upperIndex(buckets, start - 1, pushed.windows[2 * k]);
            int to = PromqlEvaluator.upperIndex(buckets, lastBucket, Math.max(before, pushed.windows[2 * k + 1]));
            pushed.windows[2 * k] = before;
            pushed.windows[2 * k + 1] = to;
            Double v = value(name, s.rows(), before + 1, to, w, start, end);
            if (v != null) {
                out.add(new Sample(ev.dropName(s.labels()), v, t));
            }
        }
        return new VectorV(out);
    }

    /** The function over buckets from..to (inclusive), or null when they hold no value for it or are unusable. */
    private static Double value(String name, SeriesRollups rows, int from, int to, Window w, long start, long end) {
        boolean sums = sums(name);
        w.clear();
        for (int i = from; i <= to; i++) {
            if (!w.addBucket(rows, i, sums)) {
                return null;
            }
        }
        return w.value(name, start, end);
    }

    /** Whether the function adds the values up: a staleness marker in a bucket's sum then makes it unusable. */
    private static boolean sums(String function) {
        return function.equals("sum_over_time") || function.equals("avg_over_time");
    }

    /**
     * {@code rate}, {@code increase} or {@code delta} of a window's counter run, extrapolated to the window as
     * Prometheus does; null when the run is unknown or has fewer than two points.
     */
    private static Double change(String name, CounterRun run, long start, long end) {
        if (!run.known() || run.points() < 2) {
            return null;
        }
        boolean counter = !name.equals("delta");
        double result = run.last() - run.first();
        if (counter) {
            result += run.resets();
        }
        return PromqlRangeFunctions.extrapolate(result, run.firstMs(), run.first(), run.lastMs(), run.points(), start,
                end, counter, name.equals("rate"));
    }

    /** One series' parts of an instant query's window: raw samples before and after its buckets, and the buckets. */
    private static final class Parts {
        Series head;
        RollupSeries buckets;
        Series tail;
    }

    /** An instant query's call: per series, its raw samples at the window's edges joined with its buckets. */
    private static VectorV evalInstant(PromqlEvaluator ev, Pushed pushed, long t) {
        Plan plan = pushed.plan;
        Edges edges = plan.edges();
        Map<java.util.SortedMap<String, String>, Parts> bySeries = new HashMap<>();
        for (Series s : pushed.head) {
            bySeries.computeIfAbsent(s.labels(), k -> new Parts()).head = s;
        }
        for (RollupSeries s : pushed.series) {
            bySeries.computeIfAbsent(s.labels(), k -> new Parts()).buckets = s;
        }
        for (Series s : pushed.tail) {
            bySeries.computeIfAbsent(s.labels(), k -> new Parts()).tail = s;
        }
        List<java.util.SortedMap<String, String>> labels = new ArrayList<>(bySeries.keySet());
        labels.sort(Values.LABEL_ORDER);
        String name = plan.call().function().name();
        Window w = new Window();
        List<Sample> out = new ArrayList<>();
        for (java.util.SortedMap<String, String> l : labels) {
            Parts parts = bySeries.get(l);
            w.clear();
            boolean known = w.addRaw(parts.head, edges.headFrom(), edges.headTo())
                    && w.addBuckets(parts.buckets, plan.read().fromMs(), plan.read().toMs(), name)
                    && w.addRaw(parts.tail, edges.tailFrom(), edges.tailTo());
            Double v = known ? w.value(name, edges.windowStart(), edges.windowEnd()) : null;
            if (v != null) {
                out.add(new Sample(ev.dropName(l), v, t));
            }
        }
        return new VectorV(out);
    }

    /**
     * What the functions need of one series' window, gathered from buckets (and for an instant query raw samples at
     * its edges) in time order: a range query's windows and an instant query's are valued by the same rules.
     */
    private static final class Window {
        final CounterRun run = new CounterRun();
        final double[] sum = new double[2];
        long points;
        double min;
        double max;

        void clear() {
            run.clear();
            sum[0] = 0;
            sum[1] = 0;
            points = 0;
            min = Double.NaN;
            max = Double.NaN;
        }

        /** The raw samples in [from, to], staleness markers left out, as a range selector does. */
        boolean addRaw(Series s, long from, long to) {
            if (s == null) {
                return true;
            }
            long[] ts = s.timestamps();
            double[] vs = s.values();
            for (int i = 0; i < ts.length; i++) {
                double v = vs[i];
                if (ts[i] < from || ts[i] > to || Series.isStale(v)) {
                    continue;
                }
                points++;
                PromqlAggregations.kahanInc(v, sum);
                min = Summary.min(min, v);
                max = Summary.max(max, v);
                run.add(ts[i], v);
            }
            return true;
        }

        /** The buckets in [lo, hi); false when one is unknown, or holds a staleness marker a sum would take. */
        boolean addBuckets(RollupSeries s, long lo, long hi, String function) {
            if (s == null) {
                return true;
            }
            boolean sums = sums(function);
            long[] buckets = s.buckets();
            for (int i = 0; i < buckets.length; i++) {
                if (buckets[i] >= lo && buckets[i] < hi && !addBucket(s.rows(), i, sums)) {
                    return false;
                }
            }
            return true;
        }

        /** Bucket i; false when it is unknown, or (with {@code sums}) holds a staleness marker. */
        boolean addBucket(SeriesRollups rows, int i, boolean sums) {
            long n = rows.points(i);
            if (n < 0 || sums && n != rows.count(i)) {
                return false;
            }
            if (n > 0) {
                points += n;
                PromqlAggregations.kahanInc(rows.sum(i), sum);
                min = Summary.min(min, rows.min(i));
                max = Summary.max(max, rows.max(i));
                run.append(n, rows.firstMs(i), rows.first(i), rows.lastMs(i), rows.last(i), rows.resets(i));
            }
            return true;
        }

        /** The function over the window {@code (start, end]}, or null when it holds no value for it. */
        Double value(String name, long start, long end) {
            if (points == 0) {
                return null;
            }
            switch (name) {
                case "count_over_time":
                    return (double) points;
                case "sum_over_time":
                    return sum[0] + sum[1];
                case "avg_over_time":
                    return (sum[0] + sum[1]) / points;
                case "min_over_time":
                    return min;
                case "max_over_time":
                    return max;
                default: // rate, increase, delta
                    return change(name, run, start, end);
            }
        }
    }
}
