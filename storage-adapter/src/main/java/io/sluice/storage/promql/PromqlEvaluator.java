package io.sluice.storage.promql;

import io.sluice.storage.promql.Expr.Aggregate;
import io.sluice.storage.promql.Expr.BinOp;
import io.sluice.storage.promql.Expr.Binary;
import io.sluice.storage.promql.Expr.Call;
import io.sluice.storage.promql.Expr.Matching;
import io.sluice.storage.promql.Expr.MatrixSel;
import io.sluice.storage.promql.Expr.NumberLit;
import io.sluice.storage.promql.Expr.Paren;
import io.sluice.storage.promql.Expr.StringLit;
import io.sluice.storage.promql.Expr.Subquery;
import io.sluice.storage.promql.Expr.Unary;
import io.sluice.storage.promql.Expr.VectorSel;
import io.sluice.storage.promql.Values.MatrixV;
import io.sluice.storage.promql.Values.Points;
import io.sluice.storage.promql.Values.Sample;
import io.sluice.storage.promql.Values.ScalarV;
import io.sluice.storage.promql.Values.StringV;
import io.sluice.storage.promql.Values.Value;
import io.sluice.storage.promql.Values.VectorV;
import io.sluice.storage.query.Matcher;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Evaluates a parsed expression at one time over series already fetched (CPU only), with Prometheus 3 semantics:
 * instant selectors take the newest sample in {@code (t - 5m, t]} unless it is a staleness marker, range selectors
 * the samples in {@code (t - range, t]} without staleness markers.
 */
final class PromqlEvaluator {

    static final long LOOKBACK_MS = 5 * 60_000L;
    static final long DEFAULT_SUBQUERY_STEP_MS = 60_000L;

    private final Map<List<Matcher>, List<Series>> data;
    private final Map<VectorSel, List<Series>> selected = new IdentityHashMap<>();
    private final Map<SortedMap<String, String>, SortedMap<String, String>> nameless = new IdentityHashMap<>();
    /**
     * Per range selector, each selected series' last window as indexes (last sample before it, last sample in it): a
     * range query's steps run forward, so the next window is found a few samples on rather than searched for again.
     */
    private final Map<MatrixSel, int[]> windows = new IdentityHashMap<>();
    /** Per range selector, its series without staleness markers, whose windows its points are. */
    private final Map<MatrixSel, List<Series>> live = new IdentityHashMap<>();
    /** Per expression, the labels of its last result found free of duplicates (see {@link #unique}). */
    private final Map<Expr, List<SortedMap<String, String>>> uniqueLabels = new IdentityHashMap<>();
    private final Map<Aggregate, Map<SortedMap<String, String>, SortedMap<String, String>>> groups =
            new IdentityHashMap<>();
    /** The calls read from the rollups, by identity. */
    private final Map<Call, PromqlRollups.Pushed> pushed;
    final long queryStart;
    final long queryEnd;
    final long queryStep;

    private final int maxSteps;
    /** When evaluation must have ended ({@code query.statement-timeout} after it started), on nanoTime's scale. */
    final long deadlineNanos;

    /**
     * Over fetched series, for a query from start to end at a step (0 for an instant query); a subquery may have at
     * most {@code maxSteps} steps (query.max-points-per-series), as a range query.
     */
    PromqlEvaluator(Map<List<Matcher>, List<Series>> data, long queryStart, long queryEnd, long queryStep,
                    int maxSteps, long deadlineNanos) {
        this(data, Map.of(), queryStart, queryEnd, queryStep, maxSteps, deadlineNanos);
    }

    /** As above, with the calls that read rollups ({@link PromqlRollups}) and what they read. */
    PromqlEvaluator(Map<List<Matcher>, List<Series>> data, Map<Call, PromqlRollups.Pushed> pushed, long queryStart,
                    long queryEnd, long queryStep, int maxSteps, long deadlineNanos) {
        this.pushed = pushed;
        this.deadlineNanos = deadlineNanos;
        this.data = data;
        this.maxSteps = maxSteps;
        this.queryStart = queryStart;
        this.queryEnd = queryEnd;
        this.queryStep = queryStep;
    }

    static PromqlException execution(String message) {
        return new PromqlException(PromqlException.ErrorType.EXECUTION, message);
    }

    Value eval(Expr e, long t) {
        if (e instanceof NumberLit n) {
            return new ScalarV(n.value());
        }
        if (e instanceof StringLit s) {
            return new StringV(s.value());
        }
        if (e instanceof Paren p) {
            return eval(p.expr(), t);
        }
        if (e instanceof VectorSel vs) {
            return instant(vs, t);
        }
        if (e instanceof MatrixSel ms) {
            return range(ms, t);
        }
        if (e instanceof Subquery sq) {
            return subquery(sq, t);
        }
        if (e instanceof Unary u) {
            return unary(u, t);
        }
        if (e instanceof Binary b) {
            return binary(b, t);
        }
        if (e instanceof Call c) {
            return PromqlFunctionEval.call(this, c, t);
        }
        return PromqlAggregations.aggregate(this, (Aggregate) e, t);
    }

    /** What a call reads from the rollups, or null when it reads raw samples. */
    PromqlRollups.Pushed pushed(Call c) {
        return pushed.get(c);
    }

    private List<Series> seriesOf(VectorSel vs) {
        return selected.computeIfAbsent(vs, k -> {
            List<Series> series = data.get(PromqlEngine.key(vs.matchers()));
            return series == null ? List.of() : series;
        });
    }

    /** Per aggregation, each input label set's group labels (by identity: series' labels recur at every step). */
    Map<SortedMap<String, String>, SortedMap<String, String>> groupCache(Aggregate a) {
        return groups.computeIfAbsent(a, k -> new IdentityHashMap<>());
    }

    /** Labels without the metric name, computed once per label set object (series' labels recur at every step). */
    SortedMap<String, String> dropName(SortedMap<String, String> labels) {
        if (!labels.containsKey("__name__")) {
            return labels;
        }
        return nameless.computeIfAbsent(labels, Values::withoutName);
    }

    /** Where {@code ms}'s window at {@code t} ends: {@code t}, or its {@code @} time, less its offset. */
    long windowEnd(MatrixSel ms, long t) {
        return refTime(ms.selector(), t);
    }

    private long refTime(VectorSel vs, long t) {
        long base = vs.at() == null ? t : vs.at().resolve(queryStart, queryEnd);
        return base - vs.offsetMs();
    }

    private VectorV instant(VectorSel vs, long t) {
        long ref = refTime(vs, t);
        List<Sample> out = new ArrayList<>();
        for (Series s : seriesOf(vs)) {
            long[] ts = s.timestamps();
            int i = upperIndex(ts, ref);
            if (i < 0 || ts[i] <= ref - LOOKBACK_MS) {
                continue;
            }
            double v = s.values()[i];
            if (Series.isStale(v)) {
                continue;
            }
            out.add(new Sample(s.labels(), v, ts[i]));
        }
        return new VectorV(out);
    }

    /** Index of the last timestamp <= t, or -1. */
    static int upperIndex(long[] ts, long t) {
        int i = Arrays.binarySearch(ts, t);
        return i >= 0 ? i : -i - 2;
    }

    /**
     * {@link #upperIndex(long[], long)} starting from {@code hint}, its answer for some earlier {@code t} (or -1): a
     * few samples forward when {@code t} moved on a little, a binary search over the rest otherwise, and over the
     * whole array when {@code t} went back before the hint.
     */
    static int upperIndex(long[] ts, long t, int hint) {
        if (hint >= ts.length || hint >= 0 && ts[hint] > t) {
            return upperIndex(ts, t);
        }
        int i = hint;
        for (int n = 0; n < 16; n++, i++) {
            if (i + 1 >= ts.length || ts[i + 1] > t) {
                return i;
            }
        }
        int found = Arrays.binarySearch(ts, i + 1, ts.length, t);
        return found >= 0 ? found : -found - 2;
    }

    private MatrixV range(MatrixSel ms, long t) {
        List<Points> out = new ArrayList<>();
        long end = eachWindow(ms, t, null, out::add);
        return new MatrixV(out, end - ms.rangeMs(), end);
    }

    /**
     * Hands each selected series' points in {@code ms}'s window at {@code t} (none for a series without any) to
     * {@code visit}, and returns the window's end ({@code (end - range, end]}). With {@code window} not null, that one
     * object is reset to each series' points in turn: the visitor must be done with it when it returns, as a range
     * function computing one value per series is (no object made per series and step).
     */
    long eachWindow(MatrixSel ms, long t, Points window, java.util.function.Consumer<Points> visit) {
        long end = windowEnd(ms, t);
        long start = end - ms.rangeMs();
        List<Series> selected = live.computeIfAbsent(ms, k -> withoutStaleMarkers(seriesOf(ms.selector())));
        int[] last = windows.computeIfAbsent(ms, k -> {
            int[] none = new int[2 * selected.size()];
            Arrays.fill(none, -1);
            return none;
        });
        for (int k = 0; k < selected.size(); k++) {
            Series s = selected.get(k);
            long[] ts = s.timestamps();
            int before = upperIndex(ts, start, last[2 * k]);
            int to = upperIndex(ts, end, Math.max(before, last[2 * k + 1]));
            last[2 * k] = before;
            last[2 * k + 1] = to;
            if (to > before) {
                visit.accept(window == null ? new Points(s.labels(), ts, s.values(), before + 1, to + 1)
                        : window.reset(s.labels(), ts, s.values(), before + 1, to + 1));
            }
        }
        return end;
    }

    /**
     * The series with their staleness markers left out (a range selector never returns one), the same object where
     * there is none: so that a window of a series' samples is a range of its arrays.
     */
    static List<Series> withoutStaleMarkers(List<Series> series) {
        List<Series> out = new ArrayList<>(series.size());
        for (Series s : series) {
            double[] vs = s.values();
            int stale = 0;
            for (double v : vs) {
                if (Series.isStale(v)) {
                    stale++;
                }
            }
            if (stale == 0) {
                out.add(s);
                continue;
            }
            long[] ts = s.timestamps();
            long[] liveTs = new long[vs.length - stale];
            double[] liveVs = new double[vs.length - stale];
            int n = 0;
            for (int i = 0; i < vs.length; i++) {
                if (!Series.isStale(vs[i])) {
                    liveTs[n] = ts[i];
                    liveVs[n++] = vs[i];
                }
            }
            out.add(new Series(s.labels(), liveTs, liveVs));
        }
        return out;
    }

    private MatrixV subquery(Subquery sq, long t) {
        long base = sq.at() == null ? t : sq.at().resolve(queryStart, queryEnd);
        long end = base - sq.offsetMs();
        long start = end - sq.rangeMs();
        long step = sq.stepMs() > 0 ? sq.stepMs() : DEFAULT_SUBQUERY_STEP_MS;
        long first = Math.floorDiv(start, step) * step;
        if (first <= start) {
            first += step;
        }
        Map<SortedMap<String, String>, double[][]> acc = new LinkedHashMap<>();
        Map<SortedMap<String, String>, Integer> counts = new HashMap<>();
        long stepCount = end < first ? 0 : (end - first) / step + 1;
        if (stepCount < 0 || stepCount > maxSteps) { // < 0: a span beyond a long, which is more steps still
            throw new PromqlException(PromqlException.ErrorType.BAD_DATA, "the subquery has " + stepCount
                    + " steps, more than query.max-points-per-series (" + maxSteps + "); use a larger step");
        }
        int steps = (int) stepCount;
        for (int k = 0; k < steps; k++) { // by index: first + k * step never passes end, so it cannot overflow
            long at = first + k * step;
            // nested subqueries multiply their steps: the deadline bounds what the step limit cannot
            io.sluice.storage.query.DeadlineText.check(deadlineNanos);
            Value v = eval(sq.expr(), at);
            List<Sample> samples = v instanceof ScalarV s ? List.of(new Sample(Values.EMPTY, s.value(), at))
                    : ((VectorV) v).samples();
            for (Sample s : samples) {
                double[][] pts = acc.computeIfAbsent(s.labels(), l -> new double[2][steps]);
                int n = counts.getOrDefault(s.labels(), 0);
                pts[0][n] = at;
                pts[1][n] = s.value();
                counts.put(s.labels(), n + 1);
            }
        }
        List<Points> out = new ArrayList<>();
        for (Map.Entry<SortedMap<String, String>, double[][]> e : acc.entrySet()) {
            int n = counts.get(e.getKey());
            long[] ts = new long[n];
            for (int i = 0; i < n; i++) {
                ts[i] = (long) e.getValue()[0][i];
            }
            out.add(new Points(e.getKey(), ts, Arrays.copyOf(e.getValue()[1], n)));
        }
        return new MatrixV(out, start, end);
    }

    private Value unary(Unary u, long t) {
        Value v = eval(u.expr(), t);
        if (!u.negate()) {
            return v;
        }
        if (v instanceof ScalarV s) {
            return new ScalarV(-s.value());
        }
        List<Sample> out = new ArrayList<>();
        for (Sample s : ((VectorV) v).samples()) {
            out.add(new Sample(dropName(s.labels()), -s.value(), t));
        }
        return checkDuplicates(new VectorV(out));
    }

    /**
     * {@link #checkDuplicates} of {@code site}'s result at one step, skipped when it holds the very label objects, in
     * the same order, of the last result of {@code site} found free of duplicates (a series' labels are the same
     * object at every step, so a range query's steps mostly repeat the last one's).
     */
    VectorV unique(Expr site, VectorV v) {
        List<Sample> samples = v.samples();
        List<SortedMap<String, String>> known = uniqueLabels.get(site);
        if (known != null && known.size() == samples.size()) {
            int i = 0;
            while (i < samples.size() && samples.get(i).labels() == known.get(i)) {
                i++;
            }
            if (i == samples.size()) {
                return v;
            }
        }
        checkDuplicates(v);
        List<SortedMap<String, String>> labels = new ArrayList<>(samples.size());
        for (Sample sample : samples) {
            labels.add(sample.labels());
        }
        uniqueLabels.put(site, labels);
        return v;
    }

    /** Fails like Prometheus when two samples of a result have the same labels. */
    static VectorV checkDuplicates(VectorV v) {
        if (v.samples().size() > 1) {
            Set<SortedMap<String, String>> seen = new HashSet<>();
            for (Sample s : v.samples()) {
                if (!seen.add(s.labels())) {
                    throw execution("vector cannot contain metrics with the same labelset");
                }
            }
        }
        return v;
    }

    // ---- binary operators ----

    private Value binary(Binary b, long t) {
        Value l = eval(b.lhs(), t);
        Value r = eval(b.rhs(), t);
        if (l instanceof ScalarV ls && r instanceof ScalarV rs) {
            double[] res = scalarOp(b.op(), ls.value(), rs.value());
            return new ScalarV(b.op().isComparison() ? (res[1] != 0 ? 1 : 0) : res[0]);
        }
        if (l instanceof VectorV lv && r instanceof ScalarV rs) {
            return vectorScalar(b, lv, rs.value(), false, t);
        }
        if (l instanceof ScalarV ls && r instanceof VectorV rv) {
            return vectorScalar(b, rv, ls.value(), true, t);
        }
        VectorV lv = (VectorV) l;
        VectorV rv = (VectorV) r;
        return switch (b.op()) {
            case AND -> and(lv, rv, b.matching(), true);
            case UNLESS -> and(lv, rv, b.matching(), false);
            case OR -> or(lv, rv, b.matching());
            default -> checkDuplicates(vectorVector(b, lv, rv, t));
        };
    }

    /** Returns {value, keep (1/0)}; a comparison's value is the left operand. */
    static double[] scalarOp(BinOp op, double l, double r) {
        return switch (op) {
            case ADD -> new double[] {l + r, 1};
            case SUB -> new double[] {l - r, 1};
            case MUL -> new double[] {l * r, 1};
            case DIV -> new double[] {l / r, 1};
            case MOD -> new double[] {l % r, 1};
            case POW -> new double[] {pow(l, r), 1};
            case ATAN2 -> new double[] {Math.atan2(l, r), 1};
            case EQL -> new double[] {l, l == r ? 1 : 0};
            case NEQ -> new double[] {l, l != r ? 1 : 0};
            case GTR -> new double[] {l, l > r ? 1 : 0};
            case LSS -> new double[] {l, l < r ? 1 : 0};
            case GTE -> new double[] {l, l >= r ? 1 : 0};
            case LTE -> new double[] {l, l <= r ? 1 : 0};
            default -> throw new IllegalStateException(op.name());
        };
    }

    /** {@code x^y} with Go's special cases where Java's differ. */
    static double pow(double x, double y) {
        if (x == 1 || y == 0) {
            return 1;
        }
        if (x == -1 && Double.isInfinite(y)) {
            return 1;
        }
        return Math.pow(x, y);
    }

    private static boolean dropsName(BinOp op) {
        return !op.isComparison() && !op.isSetOperator();
    }

    private Value vectorScalar(Binary b, VectorV v, double scalar, boolean scalarLeft, long t) {
        List<Sample> out = new ArrayList<>();
        for (Sample s : v.samples()) {
            double l = scalarLeft ? scalar : s.value();
            double r = scalarLeft ? s.value() : scalar;
            double[] res = scalarOp(b.op(), l, r);
            double value = res[0];
            if (b.op().isComparison()) {
                if (b.returnBool()) {
                    value = res[1];
                } else if (res[1] == 0) {
                    continue;
                } else {
                    value = s.value();
                }
            }
            SortedMap<String, String> labels = dropsName(b.op()) || b.returnBool()
                    ? dropName(s.labels()) : s.labels();
            out.add(new Sample(labels, value, t));
        }
        return checkDuplicates(new VectorV(out));
    }

    /** The matching signature of a sample's labels. */
    static SortedMap<String, String> signature(SortedMap<String, String> labels, Matching m) {
        TreeMap<String, String> sig = new TreeMap<>();
        if (m.on()) {
            for (String l : m.labels()) {
                String v = labels.get(l);
                if (v != null) {
                    sig.put(l, v);
                }
            }
        } else {
            sig.putAll(labels);
            sig.remove("__name__");
            for (String l : m.labels()) {
                sig.remove(l);
            }
        }
        return sig;
    }

    private static VectorV and(VectorV l, VectorV r, Matching m, boolean keepMatching) {
        Set<SortedMap<String, String>> right = new HashSet<>();
        for (Sample s : r.samples()) {
            right.add(signature(s.labels(), m));
        }
        List<Sample> out = new ArrayList<>();
        for (Sample s : l.samples()) {
            if (right.contains(signature(s.labels(), m)) == keepMatching) {
                out.add(s);
            }
        }
        return new VectorV(out);
    }

    private static VectorV or(VectorV l, VectorV r, Matching m) {
        Set<SortedMap<String, String>> left = new HashSet<>();
        List<Sample> out = new ArrayList<>(l.samples());
        for (Sample s : l.samples()) {
            left.add(signature(s.labels(), m));
        }
        for (Sample s : r.samples()) {
            if (!left.contains(signature(s.labels(), m))) {
                out.add(s);
            }
        }
        return new VectorV(out);
    }

    private VectorV vectorVector(Binary b, VectorV lhsV, VectorV rhsV, long t) {
        Matching m = b.matching();
        boolean swap = m.card() == Matching.Card.ONE_TO_MANY;
        List<Sample> many = swap ? rhsV.samples() : lhsV.samples();
        List<Sample> one = swap ? lhsV.samples() : rhsV.samples();
        Map<SortedMap<String, String>, Sample> oneBySig = new HashMap<>();
        for (Sample s : one) {
            SortedMap<String, String> sig = signature(s.labels(), m);
            Sample dup = oneBySig.put(sig, s);
            if (dup != null) {
                String side = swap ? "left" : "right";
                boolean dupFirst = Values.LABEL_ORDER.compare(dup.labels(), s.labels()) <= 0;
                SortedMap<String, String> first = dupFirst ? dup.labels() : s.labels();
                SortedMap<String, String> second = dupFirst ? s.labels() : dup.labels();
                throw execution("found duplicate series for the match group " + format(sig) + " on the " + side
                        + " hand-side of the operation: [" + format(first) + ", " + format(second)
                        + "];many-to-many matching not allowed: matching labels must be unique on one side");
            }
        }
        Map<SortedMap<String, String>, SortedMap<String, String>> matchedSigs = new HashMap<>();
        Set<SortedMap<String, String>> resultLabels = new HashSet<>();
        List<Sample> out = new ArrayList<>();
        for (Sample s : many) {
            SortedMap<String, String> sig = signature(s.labels(), m);
            Sample o = oneBySig.get(sig);
            if (o == null) {
                continue;
            }
            double l = swap ? o.value() : s.value();
            double r = swap ? s.value() : o.value();
            double[] res = scalarOp(b.op(), l, r);
            SortedMap<String, String> labels = resultLabels(s.labels(), o.labels(), b, m);
            if (m.card() == Matching.Card.ONE_TO_ONE) {
                if (matchedSigs.put(sig, labels) != null) {
                    throw execution("multiple matches for labels: many-to-one matching must be explicit "
                            + "(group_left/group_right)");
                }
            } else if (!resultLabels.add(labels)) {
                throw execution("multiple matches for labels: grouping labels must ensure unique matches");
            }
            double value = res[0];
            if (b.op().isComparison()) {
                if (b.returnBool()) {
                    value = res[1];
                } else if (res[1] == 0) {
                    continue;
                }
            }
            out.add(new Sample(labels, value, t));
        }
        return new VectorV(out);
    }

    private static SortedMap<String, String> resultLabels(SortedMap<String, String> many,
                                                          SortedMap<String, String> one, Binary b, Matching m) {
        TreeMap<String, String> out = new TreeMap<>(many);
        if (dropsName(b.op()) || b.returnBool()) {
            out.remove("__name__");
        }
        if (m.card() == Matching.Card.ONE_TO_ONE) {
            if (m.on()) {
                out.keySet().retainAll(new HashSet<>(m.labels()));
            } else {
                for (String l : m.labels()) {
                    out.remove(l);
                }
            }
        }
        for (String l : m.include()) {
            String v = one.get(l);
            if (v != null && !v.isEmpty()) {
                out.put(l, v);
            } else {
                out.remove(l);
            }
        }
        return Values.freeze(out);
    }

    static String format(SortedMap<String, String> labels) {
        StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, String> e : labels.entrySet()) {
            sb.append(first ? "" : ", ").append(e.getKey()).append("=\"").append(e.getValue()).append('"');
            first = false;
        }
        return sb.append('}').toString();
    }
}
