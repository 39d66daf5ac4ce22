package io.sluice.storage.promql;

import io.sluice.config.QueryConfig;
import io.sluice.storage.promql.Expr.Aggregate;
import io.sluice.storage.promql.Expr.Binary;
import io.sluice.storage.promql.Expr.Call;
import io.sluice.storage.promql.Expr.MatrixSel;
import io.sluice.storage.promql.Expr.Paren;
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
import io.sluice.storage.query.QueryLimitException;
import io.sluice.storage.query.RollupRead;
import io.sluice.storage.query.SampleBudget;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.function.IntFunction;

/**
 * Sluice's PromQL engine: parses an expression, reads every selector's series once from a {@link SampleSource} over
 * the whole time span the query needs, then evaluates in memory, step by step, with Prometheus 3 semantics (5 m
 * lookback, left-open ranges, staleness markers, extrapolated {@code rate}/{@code increase}).
 *
 * <p>Errors (as the returned Mono's error): {@link PromqlException} ({@code bad_data} for a bad expression or request,
 * {@code execution} for a failure while evaluating), {@link UnsupportedPromqlException} for a valid expression outside
 * the subset, {@link QueryLimitException} ({@code range_too_long}) when the query reads more than
 * {@code query.max-range} and ({@code too_many_samples}) when its reads and its answer hold more samples than
 * {@code query.max-samples} ({@link SampleBudget}), and whatever the source fails with (for example
 * {@code too_many_series}). Nothing blocks: evaluation (CPU only, up to a few hundred milliseconds for a day of 100
 * series) runs on Reactor's parallel scheduler, never on the thread that completed the source (the PostgreSQL
 * driver's event loop, which every query of the process shares).
 */
public final class PromqlEngine {

    /** At most this many selectors' series are read at once. */
    private static final int FETCH_CONCURRENCY = 4;
    /** Most runs of steps a range query is evaluated in at once: one per thread of Reactor's parallel scheduler. */
    private static final int SLICES = Math.max(1, Schedulers.DEFAULT_POOL_SIZE);
    /** Fewest steps a run evaluates: a shorter query is evaluated in one run. */
    private static final int MIN_SLICE_STEPS = 128;

    private final SampleSource source;
    private final QueryConfig limits;
    /** When range functions read rollups; null: never. */
    private final RollupPushDown pushDown;
    private final int slices;
    private final boolean seriesWise;

    /** An engine that always reads raw samples. */
    public PromqlEngine(SampleSource source, QueryConfig limits) {
        this(source, limits, null);
    }

    /** An engine that reads range functions from the rollups where {@code pushDown} allows ({@link PromqlRollups}). */
    public PromqlEngine(SampleSource source, QueryConfig limits, RollupPushDown pushDown) {
        this(source, limits, pushDown, SLICES);
    }

    /** As above, evaluating a range query's steps in at most {@code slices} runs at once. */
    PromqlEngine(SampleSource source, QueryConfig limits, RollupPushDown pushDown, int slices) {
        this(source, limits, pushDown, slices, true);
    }

    /**
     * As above; with {@code seriesWise} false, every range query is evaluated step by step, even where
     * {@link SeriesWise} would take it (tests compare the two).
     */
    PromqlEngine(SampleSource source, QueryConfig limits, RollupPushDown pushDown, int slices, boolean seriesWise) {
        if (slices < 1) {
            throw new IllegalArgumentException("slices must be positive: " + slices);
        }
        this.seriesWise = seriesWise;
        this.source = Objects.requireNonNull(source);
        this.limits = Objects.requireNonNull(limits);
        this.pushDown = pushDown;
        this.slices = slices;
    }

    /** Evaluates an expression at one time: a Vector, Scalar, Text, or Matrix (for a range selector). */
    public Mono<PromqlResult> instant(String tenant, String expr, long timeMs) {
        return Mono.defer(() -> {
            Expr e = PromqlParser.parse(expr);
            List<PromqlRollups.Plan> plans = pushDown == null ? List.of()
                    : PromqlRollups.planInstant(e, timeMs, pushDown);
            SampleBudget budget = budget();
            Mono<Fetched> fetched = plans.isEmpty()
                    ? fetch(tenant, e, timeMs, timeMs, budget).map(raw -> new Fetched(raw, Map.of()))
                    : fetchWithRollups(tenant, e, plans, timeMs, timeMs, budget);
            return fetched.publishOn(Schedulers.parallel()).map(data -> {
                Value v = new PromqlEvaluator(data.raw, data.pushed, timeMs, timeMs, 0, limits.maxPointsPerSeries(),
                        deadline()).eval(e, timeMs);
                return instantResult(e, v, timeMs);
            });
        });
    }

    /** Evaluates an expression at every step from start to end: a Matrix. */
    public Mono<PromqlResult> range(String tenant, String expr, long startMs, long endMs, long stepMs) {
        return Mono.defer(() -> {
            if (endMs < startMs) {
                throw badData("end timestamp must not be before start time");
            }
            if (stepMs <= 0) {
                throw badData("zero or negative query resolution step widths are not accepted. "
                        + "Try a positive integer");
            }
            long steps = (endMs - startMs) / stepMs + 1;
            if (steps > limits.maxPointsPerSeries()) {
                throw badData("exceeded maximum resolution of " + limits.maxPointsPerSeries()
                        + " points per timeseries (query.max-points-per-series). Try decreasing the query "
                        + "resolution (?step=XX)");
            }
            Expr e = PromqlParser.parse(expr);
            if (e.type() != Expr.Type.SCALAR && e.type() != Expr.Type.VECTOR) {
                throw badData("invalid expression type \"" + e.type().label + "\" for range query, must be Scalar "
                        + "or instant Vector");
            }
            List<PromqlRollups.Plan> plans = pushDown == null ? List.of()
                    : PromqlRollups.plan(e, startMs, endMs, stepMs, pushDown);
            SampleBudget budget = budget();
            if (plans.isEmpty()) {
                return fetch(tenant, e, startMs, endMs, budget).flatMap(data ->
                        evalRange(e, data, Map.of(), startMs, endMs, stepMs, budget));
            }
            return fetchWithRollups(tenant, e, plans, startMs, endMs, budget).flatMap(fetched ->
                    evalRange(e, fetched.raw, fetched.pushed, startMs, endMs, stepMs, budget));
        });
    }

    /** Raw samples and rollup buckets a range query reads. */
    private record Fetched(Map<List<Matcher>, List<Series>> raw, Map<Call, PromqlRollups.Pushed> pushed) {
    }

    /**
     * Reads the rollups of the planned calls and the raw samples of every other selector; an exact plan whose buckets
     * would not answer exactly ({@link PromqlRollups#exact}) reads its selector's raw samples instead.
     */
    private Mono<Fetched> fetchWithRollups(String tenant, Expr e, List<PromqlRollups.Plan> plans, long start,
                                           long end, SampleBudget budget) {
        java.util.Set<Call> planned = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (PromqlRollups.Plan plan : plans) {
            planned.add(plan.call());
            RollupRead read = plan.read();
            checkRange(read.toMs() - read.fromMs());
        }
        Map<List<Matcher>, long[]> rawSpans = new LinkedHashMap<>();
        collect(e, start, end, start, end, rawSpans, planned);
        Mono<Map<List<Matcher>, List<Series>>> raw = fetch(tenant, rawSpans, budget);
        Mono<List<PromqlRollups.Pushed>> rollups = Flux.fromIterable(plans)
                .flatMapSequential(plan -> pushed(tenant, plan, budget), FETCH_CONCURRENCY)
                .collectList();
        return Mono.zip(raw, rollups).flatMap(both -> {
            Map<Call, PromqlRollups.Pushed> pushed = new IdentityHashMap<>();
            Map<List<Matcher>, long[]> fallback = new LinkedHashMap<>();
            for (PromqlRollups.Pushed p : both.getT2()) {
                PromqlRollups.Plan plan = p.plan;
                if (!plan.exact() || PromqlRollups.exact(plan, p.series)) {
                    pushed.put(plan.call(), p);
                }
            }
            if (pushed.size() == plans.size()) {
                return Mono.just(new Fetched(both.getT1(), pushed));
            }
            // the raw samples every selector needs, the planned ones too: a fallback's selector reads all of them
            Map<List<Matcher>, long[]> all = new LinkedHashMap<>();
            collect(e, start, end, start, end, all, java.util.Set.of());
            for (PromqlRollups.Plan plan : plans) {
                if (!pushed.containsKey(plan.call())) {
                    List<Matcher> k = key(plan.selector().selector().matchers());
                    fallback.put(k, all.get(k));
                }
            }
            return fetch(tenant, fallback, budget).map(more -> {
                Map<List<Matcher>, List<Series>> data = new HashMap<>(both.getT1());
                data.putAll(more);
                return new Fetched(data, pushed);
            });
        });
    }

    /** A plan's buckets, and for an instant query's the raw samples at its window's edges. */
    private Mono<PromqlRollups.Pushed> pushed(String tenant, PromqlRollups.Plan plan, SampleBudget budget) {
        List<Matcher> matchers = plan.selector().selector().matchers();
        Mono<List<RollupSeries>> buckets = source.selectRollups(tenant, matchers, plan.read(), budget);
        PromqlRollups.Edges edges = plan.edges();
        if (edges == null) {
            return buckets.map(series -> new PromqlRollups.Pushed(plan, series));
        }
        return Mono.zip(buckets, raw(tenant, matchers, edges.headFrom(), edges.headTo(), budget),
                        raw(tenant, matchers, edges.tailFrom(), edges.tailTo(), budget))
                .map(parts -> new PromqlRollups.Pushed(plan, parts.getT1(), parts.getT2(), parts.getT3()));
    }

    private Mono<List<Series>> raw(String tenant, List<Matcher> matchers, long from, long to, SampleBudget budget) {
        return to < from ? Mono.just(List.of()) : source.select(tenant, matchers, from, to, budget);
    }

    /**
     * Evaluates a query: {@link #instant} or {@link #range} by its kind.
     */
    public Mono<PromqlResult> evaluate(PromqlQuery query) {
        return query.isInstant() ? instant(query.tenant(), query.expr(), query.startMs())
                : range(query.tenant(), query.expr(), query.startMs(), query.endMs(), query.stepMs());
    }

    /**
     * What a query's answer is computed from, for the answer cache: the tenant's samples of the metrics its selectors
     * name with {@code __name__="..."} (any metric when one selector names none), over every span evaluation reads
     * (lookback, ranges, offsets and {@code @} included). Fails as evaluation would on an expression that does not
     * parse or is outside the subset.
     */
    public static io.sluice.storage.invalidation.CacheFootprint footprint(PromqlQuery query) {
        Expr e = PromqlParser.parse(query.expr());
        Map<List<Matcher>, long[]> spans = new LinkedHashMap<>();
        collect(e, query.startMs(), query.endMs(), query.startMs(), query.endMs(), spans, java.util.Set.of());
        if (spans.isEmpty()) { // literals and time(): nothing stored is read; any write of the tenant will do
            return io.sluice.storage.invalidation.CacheFootprint.anyMetric(query.tenant(), query.startMs(),
                    query.endMs());
        }
        long from = Long.MAX_VALUE;
        long to = Long.MIN_VALUE;
        java.util.Set<String> metrics = new java.util.HashSet<>();
        boolean any = false;
        for (Map.Entry<List<Matcher>, long[]> span : spans.entrySet()) {
            from = Math.min(from, span.getValue()[0]);
            to = Math.max(to, span.getValue()[1]);
            String name = null;
            for (Matcher m : span.getKey()) {
                if (m.label().equals(Matcher.NAME) && m.op() == Matcher.Op.EQ) {
                    name = m.value();
                }
            }
            if (name == null) {
                any = true;
            } else {
                metrics.add(name);
            }
        }
        return new io.sluice.storage.invalidation.CacheFootprint(query.tenant(), any ? java.util.Set.of() : metrics,
                from, to);
    }

    /**
     * When an evaluation starting now must have ended: {@code query.statement-timeout}, the bound PostgreSQL puts on
     * its share of the query. Past it, evaluation ends with a {@link io.sluice.storage.query.QueryException.Kind#TIMEOUT}.
     */
    private long deadline() {
        return System.nanoTime() + limits.statementTimeout().toNanos();
    }

    private static PromqlException badData(String message) {
        return new PromqlException(PromqlException.ErrorType.BAD_DATA, message);
    }

    /** The key series are fetched under: a selector's matchers, sorted. */
    static List<Matcher> key(List<Matcher> matchers) {
        List<Matcher> sorted = new ArrayList<>(matchers);
        sorted.sort(null);
        return List.copyOf(sorted);
    }

    private Mono<Map<List<Matcher>, List<Series>>> fetch(String tenant, Expr e, long start, long end,
                                                         SampleBudget budget) {
        Map<List<Matcher>, long[]> spans = new LinkedHashMap<>();
        collect(e, start, end, start, end, spans, java.util.Set.of());
        return fetch(tenant, spans, budget);
    }

    /** What one query may load into memory: {@code query.max-samples}, shared by its reads and its answer. */
    private SampleBudget budget() {
        return new SampleBudget(limits.maxSamples());
    }

    private void checkRange(long spanMs) {
        if (spanMs > limits.maxRange().toMillis() + PromqlEvaluator.LOOKBACK_MS) {
            throw new QueryLimitException("range_too_long", "the query reads " + Duration.ofMillis(spanMs)
                    + " of samples, more than query.max-range (" + limits.maxRange() + ")");
        }
    }

    /** The raw samples of each selector (by {@link #key}) over its span. */
    private Mono<Map<List<Matcher>, List<Series>>> fetch(String tenant, Map<List<Matcher>, long[]> spans,
                                                         SampleBudget budget) {
        for (long[] span : spans.values()) {
            checkRange(span[1] - span[0]);
        }
        if (spans.isEmpty()) {
            return Mono.just(Map.of());
        }
        return Flux.fromIterable(spans.entrySet())
                .flatMapSequential(s -> source.select(tenant, s.getKey(), s.getValue()[0], s.getValue()[1], budget)
                        .map(series -> Map.entry(s.getKey(), series)), FETCH_CONCURRENCY)
                .collectList()
                .map(entries -> {
                    Map<List<Matcher>, List<Series>> data = new HashMap<>();
                    for (Map.Entry<List<Matcher>, List<Series>> en : entries) {
                        // in label order, as Prometheus' storage answers, so ties keep a deterministic order
                        List<Series> sorted = new ArrayList<>(en.getValue());
                        sorted.sort((a, b) -> Values.LABEL_ORDER.compare(a.labels(), b.labels()));
                        data.put(en.getKey(), sorted);
                    }
                    return data;
                });
    }

    /**
     * Walks the tree, widening each selector's fetch span to what evaluation over [from, to] reads, except under the
     * calls in {@code skip} (read from the rollups).
     */
    private static void collect(Expr e, long from, long to, long qStart, long qEnd, Map<List<Matcher>, long[]> spans,
                                java.util.Set<Call> skip) {
        if (e instanceof Paren p) {
            collect(p.expr(), from, to, qStart, qEnd, spans, skip);
        } else if (e instanceof VectorSel vs) {
            add(vs, from, to, qStart, qEnd, PromqlEvaluator.LOOKBACK_MS, spans);
        } else if (e instanceof MatrixSel ms) {
            add(ms.selector(), from, to, qStart, qEnd, ms.rangeMs(), spans);
        } else if (e instanceof Subquery sq) {
            long f = from;
            long t = to;
            if (sq.at() != null) {
                f = sq.at().resolve(qStart, qEnd);
                t = f;
            }
            collect(sq.expr(), f - sq.offsetMs() - sq.rangeMs(), t - sq.offsetMs(), qStart, qEnd, spans, skip);
        } else if (e instanceof Unary u) {
            collect(u.expr(), from, to, qStart, qEnd, spans, skip);
        } else if (e instanceof Binary b) {
            collect(b.lhs(), from, to, qStart, qEnd, spans, skip);
            collect(b.rhs(), from, to, qStart, qEnd, spans, skip);
        } else if (e instanceof Call c) {
            if (skip.contains(c)) {
                return;
            }
            for (Expr a : c.args()) {
                collect(a, from, to, qStart, qEnd, spans, skip);
            }
        } else if (e instanceof Aggregate a) {
            if (a.param() != null) {
                collect(a.param(), from, to, qStart, qEnd, spans, skip);
            }
            collect(a.expr(), from, to, qStart, qEnd, spans, skip);
        }
    }

    private static void add(VectorSel vs, long from, long to, long qStart, long qEnd, long lookBack,
                            Map<List<Matcher>, long[]> spans) {
        if (vs.at() != null) {
            from = vs.at().resolve(qStart, qEnd);
            to = from;
        }
        long f = from - vs.offsetMs() - lookBack;
        long t = to - vs.offsetMs();
        spans.merge(key(vs.matchers()), new long[] {f, t},
                (a, b) -> new long[] {Math.min(a[0], b[0]), Math.max(a[1], b[1])});
    }

    private static PromqlResult instantResult(Expr e, Value v, long t) {
        if (v instanceof ScalarV s) {
            return new PromqlResult.Scalar(t, s.value());
        }
        if (v instanceof StringV s) {
            return new PromqlResult.Text(t, s.value());
        }
        if (v instanceof MatrixV m) {
            List<Series> out = new ArrayList<>();
            for (Points p : m.series()) {
                out.add(new Series(p.labels(), p.timestamps(), p.values()));
            }
            out.sort((a, b) -> Values.LABEL_ORDER.compare(a.labels(), b.labels()));
            return new PromqlResult.Matrix(out);
        }
        List<PromqlResult.Sample> out = new ArrayList<>();
        for (Sample s : ((VectorV) v).samples()) {
            out.add(new PromqlResult.Sample(s.labels(), t, s.value()));
        }
        if (!ordered(e)) {
            out.sort((a, b) -> Values.LABEL_ORDER.compare(a.labels(), b.labels()));
        }
        return new PromqlResult.Vector(out);
    }

    /** Whether an instant query's answer keeps the order evaluation gave it ({@code sort}, {@code topk}...). */
    private static boolean ordered(Expr e) {
        while (e instanceof Paren p) {
            e = p.expr();
        }
        if (e instanceof Call c) {
            return c.function().name().startsWith("sort");
        }
        return e instanceof Aggregate a && (a.op().equals("topk") || a.op().equals("bottomk"));
    }

    /**
     * Evaluates a range query's steps on Reactor's parallel scheduler, never on the thread that completed the fetch:
     * in up to {@code slices} runs of consecutive steps at once (each with an evaluator of its own over the same
     * read-only samples; at least {@link #MIN_SLICE_STEPS} steps each), their points joined in time order.
     */
    private Mono<PromqlResult> evalRange(Expr e, Map<List<Matcher>, List<Series>> data,
                                         Map<Call, PromqlRollups.Pushed> pushed, long start, long end, long step,
                                         SampleBudget budget) {
        int steps = (int) ((end - start) / step) + 1;
        long deadlineNanos = deadline();
        SeriesWise bySeries = seriesWise ? SeriesWise.of(e, data, pushed) : null;
        int runs = Math.max(1, Math.min(slices, steps / MIN_SLICE_STEPS));
        if (bySeries != null && bySeries.aggregates()) {
            PromqlEvaluator ev = new PromqlEvaluator(data, pushed, start, end, step, limits.maxPointsPerSeries(),
                    deadlineNanos); // its window ends only, which it reads and never changes: shared by the runs
            return inRuns(runs, k -> bySeries.aggregate(ev, start, step, (int) ((long) steps * k / runs),
                    (int) ((long) steps * (k + 1) / runs), budget)).map(PromqlEngine::joinRuns);
        }
        if (bySeries != null) {
            PromqlEvaluator ev = new PromqlEvaluator(data, pushed, start, end, step, limits.maxPointsPerSeries(),
                    deadlineNanos); // its window ends only, which it reads and never changes: shared by the runs
            int n = bySeries.size();
            int byWork = (int) Math.min(Integer.MAX_VALUE, (long) n * steps / (MIN_SLICE_STEPS * 8L));
            int seriesRuns = Math.max(1, Math.min(slices, Math.min(n, byWork)));
            return inRuns(seriesRuns, k -> bySeries.eval(ev, start, step, steps, (int) ((long) n * k / seriesRuns),
                            (int) ((long) n * (k + 1) / seriesRuns), budget))
                    .map(parts -> {
                        List<Series> out = new ArrayList<>(n);
                        parts.forEach(out::addAll);
                        out.sort((a, b) -> Values.LABEL_ORDER.compare(a.labels(), b.labels()));
                        return new PromqlResult.Matrix(out);
                    });
        }
        return inRuns(runs, k -> evalSlice(e, data, pushed, start, end, step, limits.maxPointsPerSeries(),
                deadlineNanos, budget, (int) ((long) steps * k / runs), (int) ((long) steps * (k + 1) / runs)))
                .map(PromqlEngine::join);
    }

    /**
     * Runs {@code 0..runs-1} evaluated at once on Reactor's parallel scheduler, their results in run order. When runs
     * fail, the answer is the error of the first failing run in order, after all have ended: runs fail at about the
     * same moment (two runs meeting duplicate label sets at their own steps, say), which of them reports first is a
     * race, and the first in order is the error the steps evaluated one by one meet.
     */
    private static <T> Mono<List<T>> inRuns(int runs, IntFunction<T> run) {
        return Flux.range(0, runs)
                .flatMapSequential(k -> Mono.fromCallable(() -> (Object) run.apply(k))
                        .onErrorResume(ex -> Mono.just(new Failed(ex)))
                        .subscribeOn(Schedulers.parallel()), runs)
                .collectList()
                .flatMap(results -> {
                    for (Object r : results) {
                        if (r instanceof Failed f) {
                            return Mono.error(f.cause());
                        }
                    }
                    @SuppressWarnings("unchecked") List<T> all = (List<T>) results;
                    return Mono.just(all);
                });
    }

    /** A run's error, carried as its result until all runs have ended. */
    private record Failed(Throwable cause) {
    }

    /** Steps {@code [from, to)} of a range query: each label set's points, in the order the steps found them. */
    private static Map<SortedMap<String, String>, Acc> evalSlice(Expr e, Map<List<Matcher>, List<Series>> data,
                                                                 Map<Call, PromqlRollups.Pushed> pushed, long start,
                                                                 long end, long step, int maxSteps, long deadlineNanos,
                                                                 SampleBudget budget, int from, int to) {
        PromqlEvaluator ev = new PromqlEvaluator(data, pushed, start, end, step, maxSteps, deadlineNanos);
        int capacity = to - from;
        Map<SortedMap<String, String>, Acc> series = new LinkedHashMap<>();
        Map<SortedMap<String, String>, Acc> byIdentity = new IdentityHashMap<>();
        for (int i = from; i < to; i++) { // by index: start + i * step never passes end, so it cannot overflow
            long t = start + i * step;
            io.sluice.storage.query.DeadlineText.check(deadlineNanos);
            Value v = ev.eval(e, t);
            if (v instanceof ScalarV s) {
                series.computeIfAbsent(Values.EMPTY, k -> new Acc(capacity, budget)).add(t, s.value());
            } else {
                for (Sample s : ((VectorV) v).samples()) {
                    Acc acc = byIdentity.get(s.labels());
                    if (acc == null) {
                        acc = series.computeIfAbsent(s.labels(), k -> new Acc(capacity, budget));
                        byIdentity.put(s.labels(), acc);
                    }
                    acc.add(t, s.value());
                }
            }
        }
        return series;
    }

    /** The slices' points of each label set joined (slices in time order), the series in label order. */
    private static PromqlResult join(List<Map<SortedMap<String, String>, Acc>> slices) {
        Map<SortedMap<String, String>, List<Acc>> parts = new HashMap<>();
        for (Map<SortedMap<String, String>, Acc> slice : slices) {
            for (Map.Entry<SortedMap<String, String>, Acc> en : slice.entrySet()) {
                parts.computeIfAbsent(en.getKey(), k -> new ArrayList<>(slices.size())).add(en.getValue());
            }
        }
        List<Series> out = new ArrayList<>(parts.size());
        for (Map.Entry<SortedMap<String, String>, List<Acc>> en : parts.entrySet()) {
            int n = 0;
            for (Acc a : en.getValue()) {
                n += a.n;
            }
            long[] ts = new long[n];
            double[] vs = new double[n];
            int at = 0;
            for (Acc a : en.getValue()) {
                System.arraycopy(a.ts, 0, ts, at, a.n);
                System.arraycopy(a.vs, 0, vs, at, a.n);
                at += a.n;
            }
            out.add(new Series(en.getKey(), ts, vs));
        }
        out.sort((a, b) -> Values.LABEL_ORDER.compare(a.labels(), b.labels()));
        return new PromqlResult.Matrix(out);
    }

    /** Runs of steps' series joined: each label set's points in the runs' (time) order, the series in label order. */
    private static PromqlResult joinRuns(List<List<Series>> runs) {
        Map<SortedMap<String, String>, List<Series>> parts = new LinkedHashMap<>();
        for (List<Series> run : runs) {
            for (Series s : run) {
                parts.computeIfAbsent(s.labels(), k -> new ArrayList<>(runs.size())).add(s);
            }
        }
        List<Series> out = new ArrayList<>(parts.size());
        for (Map.Entry<SortedMap<String, String>, List<Series>> en : parts.entrySet()) {
            List<Series> p = en.getValue();
            if (p.size() == 1) {
                out.add(p.get(0));
                continue;
            }
            int n = 0;
            for (Series s : p) {
                n += s.timestamps().length;
            }
            long[] ts = new long[n];
            double[] vs = new double[n];
            int at = 0;
            for (Series s : p) {
                System.arraycopy(s.timestamps(), 0, ts, at, s.timestamps().length);
                System.arraycopy(s.values(), 0, vs, at, s.values().length);
                at += s.timestamps().length;
            }
            out.add(new Series(en.getKey(), ts, vs));
        }
        out.sort((a, b) -> Values.LABEL_ORDER.compare(a.labels(), b.labels()));
        return new PromqlResult.Matrix(out);
    }

    private static final class Acc {
        final long[] ts;
        final double[] vs;
        int n;

        Acc(int capacity, SampleBudget budget) {
            budget.take(capacity); // the answer's points, before they are held
            ts = new long[capacity];
            vs = new double[capacity];
        }

        void add(long t, double v) {
            ts[n] = t;
            vs[n++] = v;
        }
    }
}
