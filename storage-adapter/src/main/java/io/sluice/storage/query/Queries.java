package io.sluice.storage.query;

import io.micrometer.core.instrument.MeterRegistry;
import io.sluice.config.QueryConfig;
import io.sluice.config.WriterConfig;
import io.sluice.storage.promql.PromqlEngine;
import io.sluice.storage.promql.PromqlQuery;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.promql.StoredSampleSource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The one way into stored time series, for the HTTP routes and any other reader: plans a range query
 * ({@link QueryEngine}), answers it from the {@link QueryCache} or runs and merges it, evaluates PromQL
 * ({@link PromqlEngine}, answers cached the same way), and serves series and label discovery, all scoped to one tenant
 * and within the {@code query.*} limits.
 *
 * <p>Failures are typed: {@link QueryLimitException} (a {@code query.*} limit), {@link QueryException} (PostgreSQL
 * refused the query: a regular expression it rejects, the statement timeout), and otherwise PostgreSQL's own
 * failures (unreachable, deadline passed: see {@link io.sluice.storage.postgres.PostgresCalls}).
 */
public final class Queries {

    /** Most names or values a discovery call returns. */
    public static final int MAX_DISCOVERY = 10_000;

    private final QueryRepository repository;
    private final QueryEngine engine;
    private final QueryCache<SeriesQuery, QueryResult> cache;
    private final int maxSeries;
    private final PromqlEngine promql;
    private final QueryCache<PromqlQuery, PromqlResult> promqlCache;
    private final MeterRegistry registry;

    /**
     * @param invalidations the node's invalidation index, which the writers' announcements drive: the cached answers
     *                      they overlap are dropped (see {@link QueryCache})
     */
    public Queries(QueryRepository repository, QueryConfig limits, WriterConfig retention,
                   io.sluice.storage.invalidation.Invalidations invalidations, Clock clock, MeterRegistry registry) {
        this.repository = repository;
        this.engine = new QueryEngine(repository, limits, retention, clock);
        this.cache = QueryCache.ranges(limits.answerCacheBytes(), invalidations, clock, registry);
        this.maxSeries = limits.maxSeries();
        this.promql = new PromqlEngine(new StoredSampleSource(repository, limits.maxSeries()), limits,
                new io.sluice.storage.promql.RollupPushDown(limits.rollupMinStep(), retention.retentionRaw(),
                        retention.retentionRollup1m(), retention.retentionRollup1h(), clock));
        this.promqlCache = new QueryCache<>("promql", limits.answerCacheBytes(), invalidations, clock, registry,
                new PromqlKeys());
        this.registry = registry;
    }

    /**
     * Counts a query a {@code query.*} limit refuses in {@code sluice_query_rejected_total{api,reason}}: {@code api}
     * {@code promql} (Prometheus' query API and alert rules), {@code range} (Sluice's own) or {@code series}, and the
     * limit's code as the reason.
     */
    private <T> Mono<T> counted(String api, Mono<T> query) {
        return query.doOnError(error -> {
            Throwable e = error;
            while (e instanceof java.util.concurrent.CompletionException && e.getCause() != null) {
                e = e.getCause(); // a shared load's failure, as its future holds it
            }
            if (e instanceof QueryLimitException limit) {
                io.micrometer.core.instrument.Counter.builder("sluice_query_rejected")
                        .description("Queries refused by a query.* limit (422 over HTTP)")
                        .tag("api", api)
                        .tag("reason", limit.code())
                        .register(registry)
                        .increment();
            }
        });
    }

    /**
     * PromQL over the stored raw samples and rollups (see {@link StoredSampleSource}), within the {@code query.*}
     * limits, uncached:
     * {@link #promql(PromqlQuery)} is the cached way.
     */
    public PromqlEngine promql() {
        return promql;
    }

    /**
     * A PromQL query's answer, from the PromQL answer cache or evaluated ({@link PromqlEngine#evaluate}), with where it
     * came from. Entries are registered under {@link PromqlEngine#footprint}, so that a write to a metric a selector
     * names, in a span evaluation reads, drops them on every node. Fails as the engine does.
     */
    public Mono<QueryCache.Answer<PromqlResult>> promql(PromqlQuery query) {
        // a bad expression fails in its footprint, when a load would register it: before anything is cached; a
        // cached answer is served without parsing its expression again. Concurrent identical queries share one
        // load: one caller going away must not cancel it for the others
        return counted("promql",
                Mono.defer(() -> QueryCache.joined(promqlCache.get(query, q -> promql.evaluate(q).toFuture()))));
    }

    /** How the PromQL answer cache sees its keys and answers. */
    static final class PromqlKeys implements QueryCache.Keys<PromqlQuery, PromqlResult> {
        @Override
        public io.sluice.storage.invalidation.CacheFootprint footprint(PromqlQuery query) {
            return PromqlEngine.footprint(query);
        }

        @Override
        public Instant end(PromqlQuery query) {
            return Instant.ofEpochMilli(query.endMs() + 1);
        }

        @Override
        public long weight(PromqlResult answer) {
            long bytes = 64;
            if (answer instanceof PromqlResult.Vector v) {
                for (PromqlResult.Sample s : v.samples()) {
                    bytes += 48 + labelBytes(s.labels());
                }
            } else if (answer instanceof PromqlResult.Matrix m) {
                long[] shared = null; // series with a value at every step share one array of times
                for (io.sluice.storage.promql.Series s : m.series()) {
                    long[] ts = s.timestamps();
                    bytes += 48 + labelBytes(s.labels()) + (ts == shared ? 8L : 16L) * ts.length;
                    shared = ts;
                }
            } else if (answer instanceof PromqlResult.Text t) {
                bytes += 2L * t.value().length();
            }
            return bytes;
        }

        private static long labelBytes(java.util.Map<String, String> labels) {
            long bytes = 0;
            for (var label : labels.entrySet()) {
                bytes += 64 + 2L * (label.getKey().length() + label.getValue().length());
            }
            return bytes;
        }
    }

    /** The longest any query waits for PostgreSQL ({@code query.statement-timeout + postgres.call-timeout}). */
    public Duration deadline() {
        return repository.deadline();
    }

    /**
     * The series of {@code metric} matching every matcher over {@code [from, to)}, {@code aggregation} per step (per
     * group when {@code groupBy} is not empty), with where the answer came from (cache hit, miss, or stale because
     * PostgreSQL failed). Fails with {@link QueryLimitException} when the range, the points per series or the
     * series are over their limits.
     */
    public Mono<QueryCache.Answer<QueryResult>> range(String tenant, String metric, List<Matcher> matchers, Instant from,
                                         Instant to, Duration step, Aggregation aggregation, List<String> groupBy) {
        return counted("range", Mono.defer(() -> {
            SeriesQuery query = engine.plan(tenant, metric, matchers, from, to, step, aggregation, groupBy);
            // concurrent identical queries share one load: one caller going away must not cancel it for the others
            return QueryCache.joined(cache.get(query, q -> engine.run(q).toFuture()));
        }));
    }

    /**
     * The tenant's series of {@code metric} (any metric when null) matching every matcher. Fails with
     * {@link QueryLimitException} {@code too_many_series} when more than {@code query.max-series} match.
     */
    public Mono<List<SeriesInfo>> series(String tenant, String metric, List<Matcher> matchers) {
        return counted("series", selected(tenant, metric, matchers));
    }

    private Mono<List<SeriesInfo>> selected(String tenant, String metric, List<Matcher> matchers) {
        return repository.findSeries(tenant, metric, matchers, maxSeries + 1).flatMap(series -> series.size() > maxSeries
                ? Mono.error(new QueryLimitException("too_many_series", "more than " + maxSeries
                        + " series match (query.max-series); add matchers"))
                : Mono.just(series));
    }

    /** Label names the tenant's series use, sorted, at most {@link #MAX_DISCOVERY}. */
    public Mono<List<String>> labelNames(String tenant) {
        return repository.labelNames(tenant, MAX_DISCOVERY);
    }

    /** Values of one label across the tenant's series, sorted, at most {@link #MAX_DISCOVERY}. */
    public Mono<List<String>> labelValues(String tenant, String label) {
        return repository.labelValues(tenant, label, MAX_DISCOVERY);
    }

    /**
     * Prometheus' label names: of the tenant's series that match any of the selectors (of all its series when there
     * is none), {@value Matcher#NAME} included, sorted, at most {@link #MAX_DISCOVERY}.
     */
    public Mono<List<String>> labelNames(String tenant, List<List<Matcher>> selectors) {
        if (selectors.isEmpty()) {
            return Mono.zip(repository.labelNames(tenant, MAX_DISCOVERY), repository.metricNames(tenant, 1))
                    .map(both -> {
                        TreeSet<String> names = new TreeSet<>(both.getT1());
                        if (!both.getT2().isEmpty()) {
                            names.add(Matcher.NAME);
                        }
                        return names.stream().limit(MAX_DISCOVERY).toList();
                    });
        }
        return matching(tenant, selectors).map(series -> {
            TreeSet<String> names = new TreeSet<>();
            for (SeriesInfo s : series) {
                names.addAll(StoredSampleSource.labels(s).keySet());
            }
            return names.stream().limit(MAX_DISCOVERY).toList();
        });
    }

    /**
     * Prometheus' label values: of one label ({@value Matcher#NAME}: the metric names) across the tenant's series
     * that match any of the selectors (all its series when there is none), sorted, at most {@link #MAX_DISCOVERY}.
     */
    public Mono<List<String>> labelValues(String tenant, String label, List<List<Matcher>> selectors) {
        if (selectors.isEmpty()) {
            return label.equals(Matcher.NAME) ? repository.metricNames(tenant, MAX_DISCOVERY)
                    : repository.labelValues(tenant, label, MAX_DISCOVERY);
        }
        return matching(tenant, selectors).map(series -> {
            TreeSet<String> values = new TreeSet<>();
            for (SeriesInfo s : series) {
                String v = StoredSampleSource.labels(s).get(label);
                if (v != null && !v.isEmpty()) {
                    values.add(v);
                }
            }
            return values.stream().limit(MAX_DISCOVERY).toList();
        });
    }

    /**
     * The tenant's series that match any of the selectors (Prometheus' {@code match[]}), each selector within
     * {@code query.max-series}, without repeats, by id.
     */
    public Mono<List<SeriesInfo>> matching(String tenant, List<List<Matcher>> selectors) {
        return counted("series", repository.bounded("query.match", Flux.fromIterable(selectors)
                .concatMap(selector -> selected(tenant, null, selector))
                .collect(() -> new TreeMap<Long, SeriesInfo>(), (all, found) -> found.forEach(s -> all.put(s.id(), s)))
                .map(all -> List.copyOf(all.values()))));
    }
}
