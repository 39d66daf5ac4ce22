package io.sluice.storage.query;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.Readable;
import io.r2dbc.spi.Statement;
import io.sluice.storage.chunks.ChunkMerge;
import io.sluice.storage.chunks.HourFold;
import io.sluice.storage.chunks.Summary;
import io.sluice.storage.postgres.PostgresCalls;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The SQL of queries and discovery, through R2DBC. Every statement runs in a read-only transaction with
 * {@code query.statement-timeout} as its statement timeout, and every call (a query as a whole too, see
 * {@link #bounded}) has the deadline {@code query.statement-timeout + postgres.call-timeout}: PostgreSQL's own
 * timeout ends a slow statement first, the deadline a call PostgreSQL does not answer at all. PostgreSQL's errors
 * that name the query's fault or cost (a regular expression it rejects, its statement timeout) come out as
 * {@link QueryException}s.
 */
public final class QueryRepository {

    private static final String SERIES_COLUMNS = """
            SELECT id, name,
                   (SELECT array_agg(key ORDER BY key) FROM jsonb_each_text(labels)),
                   (SELECT array_agg(value ORDER BY key) FROM jsonb_each_text(labels))
            FROM series""";

    private final PostgresCalls calls;
    private final ConnectionFactory connections;
    private final Duration statementTimeout;
    private final Duration deadline;

    public QueryRepository(PostgresCalls calls, Duration statementTimeout) {
        this.calls = calls;
        this.connections = calls.connections();
        this.statementTimeout = statementTimeout;
        this.deadline = statementTimeout.plus(calls.deadline());
    }

    /** A repository whose calls have the default {@code postgres.call-timeout} (tests). */
    public QueryRepository(ConnectionFactory connections, Duration statementTimeout) {
        this(PostgresCalls.withDefaultDeadline(connections), statementTimeout);
    }

    /** {@code query.statement-timeout + postgres.call-timeout}: the longest any query call waits. */
    public Duration deadline() {
        return deadline;
    }

    /** An operation made of several calls here, bounded as a whole by {@link #deadline()}. */
    public <T> Mono<T> bounded(String operation, Mono<T> work) {
        return calls.call(operation, deadline, work);
    }

    /**
     * Series of the tenant with this metric (any metric when null) matching every matcher, at most {@code limit}.
     * Matchers on {@value Matcher#NAME} match the metric name.
     */
    public Mono<List<SeriesInfo>> findSeries(String tenant, String metric, List<Matcher> matchers, int limit) {
        return findSeries(tenant, metric, matchers, limit, true)
                .onErrorResume(QueryRepository::invalidRegex,
                        e -> findSeriesByJavaRegex(tenant, metric, matchers, limit, (QueryException) e));
    }

    private static boolean invalidRegex(Throwable e) {
        return e instanceof QueryException q && q.kind() == QueryException.Kind.INVALID_REGEX;
    }

    /** {@link #findSeries} once PostgreSQL refused one of the regular expressions ({@code refused}). */
    private Mono<List<SeriesInfo>> findSeriesByJavaRegex(String tenant, String metric, List<Matcher> matchers,
                                                         int limit, QueryException refused) {
        return javaRegexes(matchers, refused).flatMap(patterns ->
                findSeries(tenant, metric, matchers, Integer.MAX_VALUE, false)
                        // CPU work, bounded by the statement timeout: not on the driver's event loop
                        .publishOn(Schedulers.parallel())
                        .map(series -> filter(series, patterns, limit, System.nanoTime() + statementTimeout.toNanos())));
    }

    /**
     * The series' SQL: with {@code regexInSql} every matcher is applied by PostgreSQL; without, the regular expression
     * matchers are left out (for the caller to apply) and so is the limit.
     */
    private Mono<List<SeriesInfo>> findSeries(String tenant, String metric, List<Matcher> matchers, int limit,
                                              boolean regexInSql) {
        return inReadOnly("query.series", c -> series(c, tenant, metric, matchers, limit, regexInSql));
    }

    /**
     * The series of the tenant matching every matcher (at most {@code limit}) and, when fewer than {@code limit}
     * match, their raw samples in {@code [fromMs, toMs]} as {@link #samples} reads them: both in one read-only
     * transaction (a selector of a PromQL query). With {@code limit} series or more the samples are not read: the
     * caller refuses the selector. The samples read are taken from {@code budget} as they are decoded: the read
     * fails with its {@link QueryLimitException} as soon as they pass it. A regular expression PostgreSQL's dialect
     * refuses is matched as {@link #findSeries} does, in a second transaction.
     */
    public Mono<Selection> select(String tenant, List<Matcher> matchers, int limit, long fromMs, long toMs,
                                  SampleBudget budget) {
        return inReadOnly("query.select", c -> series(c, tenant, null, matchers, limit, true)
                .flatMap(series -> series.size() >= limit ? Mono.just(new Selection(series, Map.of()))
                        : samples(c, ids(series), fromMs, toMs, budget)
                        .map(samples -> new Selection(series, samples))))
                .onErrorResume(QueryRepository::invalidRegex,
                        e -> findSeriesByJavaRegex(tenant, null, matchers, limit, (QueryException) e)
                                .flatMap(series -> series.size() >= limit
                                ? Mono.just(new Selection(series, Map.of()))
                                : samples(ids(series), fromMs, toMs, budget)
                                .map(samples -> new Selection(series, samples))));
    }

    /**
     * As {@link #select}, with the rollup buckets a range query's windows need ({@link RollupRead}) instead of raw
     * samples: the series matched, and the buckets of those that have some, each bucket taken from {@code budget} as
     * it is read.
     */
    public Mono<RollupSelection> selectRollups(String tenant, List<Matcher> matchers, int limit, RollupRead read,
                                               SampleBudget budget) {
        return inReadOnly("query.select_rollups", c -> series(c, tenant, null, matchers, limit, true)
                .flatMap(series -> series.size() >= limit ? Mono.just(new RollupSelection(series, Map.of()))
                        : rollups(c, ids(series), read, budget).map(rows -> new RollupSelection(series, rows))))
                .onErrorResume(QueryRepository::invalidRegex,
                        e -> findSeriesByJavaRegex(tenant, null, matchers, limit, (QueryException) e)
                                .flatMap(series -> series.size() >= limit || series.isEmpty()
                                        ? Mono.just(new RollupSelection(series, Map.of()))
                                        : inReadOnly("query.select_rollups", c -> rollups(c, ids(series), read, budget))
                                        .map(rows -> new RollupSelection(series, rows))));
    }

    /** What {@link #selectRollups} found: the series matched, and the rollup buckets of those that have some. */
    public record RollupSelection(List<SeriesInfo> series, Map<Long, SeriesRollups> rollups) {
    }

    private static Mono<Map<Long, SeriesRollups>> rollups(Connection c, List<Long> seriesIds, RollupRead read,
                                                          SampleBudget budget) {
        if (seriesIds.isEmpty()) {
            return Mono.just(Map.of());
        }
        String columns = "r.series_id, r.bucket, r.min, r.max, r.sum, r.count, r.points, r.first_ms, r.first_val,"
                + " r.last_ms, r.last_val, r.resets";
        boolean hours = read.resolution() == Resolution.HOUR;
        // 1-hour rows exist only for folded hours (migration V14); the 1-minute rows of later hours are read in the same
        // statement (one snapshot of rollup_folds and of both tables), marked true in the first column, and folded here
        String folded = hours ? " AND r.bucket < (SELECT folded_before FROM rollup_folds)" : "";
        String minutes = hours ? " UNION ALL SELECT true, " + columns + " FROM rollups_1m r WHERE r.series_id = ANY($1)"
                + " AND r.bucket >= (SELECT folded_before FROM rollup_folds)"
                + " AND r.bucket >= $%1$d AND r.bucket < $%2$d::timestamptz + interval '1 hour'" : "";
        Statement statement;
        if (read.stepMs() > read.rangeMs()) {
            // windows apart: one index range scan per window start (each window's buckets and the one at its end),
            // far cheaper than filtering every bucket of the span
            List<OffsetDateTime> starts = new ArrayList<>();
            for (long lo = read.fromMs(); lo <= read.toMs(); lo += read.stepMs()) {
                starts.add(postgresTimestamp(lo).atOffset(java.time.ZoneOffset.UTC));
            }
            // the windows drive: OFFSET 0 keeps the planner from flattening the LATERAL subquery into a join that
            // reads every bucket of the span in key order and tests it against every window (2.8 s for 7 days of
            // 100 series, against 14 ms this way); hours not folded yet are few and recent, read whole and filtered
            // to the windows here
            statement = c.createStatement("SELECT false, " + columns + " FROM unnest($2::timestamptz[]) w(lo) CROSS JOIN"
                            + " LATERAL (SELECT * FROM " + read.resolution().table() + " x WHERE x.series_id = ANY($1)"
                            + " AND x.bucket >= w.lo AND x.bucket <= w.lo + $3 * interval '1 millisecond'"
                            + " AND x.bucket >= $4 AND x.bucket <= $5 OFFSET 0) r" // $4, $5: the partitions to plan for
                            + (hours ? " WHERE true" + folded : "") + minutes.formatted(4, 5)
                            + " ORDER BY 2, 3")
                    .bind("$2", starts.toArray(OffsetDateTime[]::new))
                    .bind("$3", read.rangeMs())
                    .bind("$4", postgresTimestamp(read.fromMs()))
                    .bind("$5", postgresTimestamp(read.toMs()));
        } else {
            // windows that touch or overlap: every bucket of the span
            statement = c.createStatement("SELECT false, " + columns + " FROM " + read.resolution().table() + " r WHERE"
                            + " r.series_id = ANY($1) AND r.bucket >= $2 AND r.bucket <= $3" + folded
                            + minutes.formatted(2, 3) + " ORDER BY 2, 3")
                    .bind("$2", postgresTimestamp(read.fromMs()))
                    .bind("$3", postgresTimestamp(read.toMs()));
        }
        Map<Long, SeriesRollups> out = new LinkedHashMap<>();
        HourFold fold = new HourFold((series, hourMs, summary, run) -> {
            if (read.wanted(hourMs)) {
                out.computeIfAbsent(series, SeriesRollups::new).add(hourMs, summary.min(), summary.max(),
                        summary.sum(), summary.count(), run.known() ? run.points() : -1, run.firstMs(), run.first(),
                        run.lastMs(), run.last(), run.resets());
            }
        });
        return Flux.from(statement.bind("$1", seriesIds.toArray(Long[]::new)).execute())
                .flatMap(r -> r.map((row, meta) -> {
                    Double resets = row.get(12, Double.class);
                    Long points = row.get(7, Long.class);
                    boolean known = resets != null && points != null;
                    return new RollupRow(Boolean.TRUE.equals(row.get(0, Boolean.class)), row.get(1, Long.class),
                            row.get(2, OffsetDateTime.class).toInstant().toEpochMilli(), row.get(3, Double.class),
                            row.get(4, Double.class), row.get(5, Double.class), row.get(6, Long.class),
                            known ? points : -1, known ? row.get(8, Long.class) : 0,
                            known ? row.get(9, Double.class) : Double.NaN, known ? row.get(10, Long.class) : 0,
                            known ? row.get(11, Double.class) : Double.NaN, known ? resets : Double.NaN);
                }))
                .doOnNext(row -> {
                    budget.take(1);
                    if (row.minute()) {
                        fold.minute(row.seriesId(), row.bucketMs(), row.min(), row.max(), row.sum(), row.count(),
                                row.points(), row.firstMs(), row.first(), row.lastMs(), row.last(), row.resets());
                    } else {
                        fold.finish(); // rows come by series, then bucket: a folded hour is before any minute read
                        out.computeIfAbsent(row.seriesId(), SeriesRollups::new).add(row.bucketMs(), row.min(),
                                row.max(), row.sum(), row.count(), row.points(), row.firstMs(), row.first(),
                                row.lastMs(), row.last(), row.resets());
                    }
                })
                .then(Mono.fromSupplier(() -> {
                    fold.finish();
                    return out;
                }));
    }

    private record RollupRow(boolean minute, long seriesId, long bucketMs, double min, double max, double sum, long count,
                             long points, long firstMs, double first, long lastMs, double last, double resets) {
    }

    /** What {@link #select} found: the series matched, and the raw samples of those that have some in the range. */
    public record Selection(List<SeriesInfo> series, Map<Long, SeriesSamples> samples) {
    }

    private static List<Long> ids(List<SeriesInfo> series) {
        return series.stream().map(SeriesInfo::id).toList();
    }

    private static Mono<List<SeriesInfo>> series(Connection c, String tenant, String metric, List<Matcher> matchers,
                                                 int limit, boolean regexInSql) {
        StringBuilder sql = new StringBuilder(SERIES_COLUMNS).append(" WHERE tenant = $1");
        List<Object> binds = new ArrayList<>(List.of(tenant));
        if (metric != null) {
            binds.add(metric);
            sql.append(" AND name = $").append(binds.size());
        }
        StringBuilder equals = new StringBuilder();
        for (Matcher m : matchers) {
            boolean regex = m.op() == Matcher.Op.REGEX || m.op() == Matcher.Op.NOT_REGEX;
            if (regex && !regexInSql) {
                continue;
            }
            if (m.label().equals(Matcher.NAME)) { // the metric name is the column "name", never a key of "labels"
                binds.add(regex ? "^(?:" + m.value() + ")$" : m.value());
                String op = switch (m.op()) {
                    case EQ -> " = $";
                    case NEQ -> " <> $";
                    case REGEX -> " ~ $";
                    case NOT_REGEX -> " !~ $";
                };
                sql.append(" AND name").append(op).append(binds.size());
                continue;
            }
            switch (m.op()) {
                case EQ -> {
                    if (m.value().isEmpty()) {
                        binds.add(m.label());
                        sql.append(" AND NOT labels ? $").append(binds.size());
                    } else {
                        equals.append(equals.length() == 0 ? "" : ",").append(jsonPair(m.label(), m.value()));
                    }
                }
                case NEQ -> {
                    binds.add(m.label());
                    binds.add(m.value());
                    sql.append(" AND coalesce(labels ->> $").append(binds.size() - 1).append(", '') <> $")
                            .append(binds.size());
                }
                case REGEX, NOT_REGEX -> {
                    binds.add(m.label());
                    binds.add("^(?:" + m.value() + ")$");
                    sql.append(" AND coalesce(labels ->> $").append(binds.size() - 1)
                            .append(m.op() == Matcher.Op.REGEX ? ", '') ~ $" : ", '') !~ $").append(binds.size());
                }
            }
        }
        if (equals.length() > 0) {
            binds.add("{" + equals + "}");
            sql.append(" AND labels @> $").append(binds.size()).append("::jsonb"); // uses the GIN index
        }
        sql.append(" ORDER BY id");
        if (regexInSql) {
            sql.append(" LIMIT ").append(limit);
        }
        return Flux.from(bind(c.createStatement(sql.toString()), binds).execute())
                .flatMap(r -> r.map(QueryRepository::seriesInfo))
                .collectList();
    }

    /**
     * The regular expression matchers compiled by {@code java.util.regex}, for those PostgreSQL's dialect refuses but
     * PromQL's (RE2) allows, such as a case-insensitive group {@code (?i:abc)} or a flag after the start; fails with
     * PostgreSQL's own error when Java refuses one too.
     */
    private static Mono<Map<Matcher, Pattern>> javaRegexes(List<Matcher> matchers, QueryException postgres) {
        Map<Matcher, Pattern> patterns = new LinkedHashMap<>();
        try {
            for (Matcher m : matchers) {
                if (m.op() == Matcher.Op.REGEX || m.op() == Matcher.Op.NOT_REGEX) {
                    patterns.put(m, Pattern.compile("(?:" + m.value() + ")"));
                }
            }
        } catch (PatternSyntaxException e) {
            return Mono.error(postgres);
        }
        return Mono.just(patterns);
    }

    /**
     * The series every pattern matches (a missing label is ""), at most {@code limit}, in their order. Java's regular
     * expressions backtrack, so a pattern can take exponential time on a value: matching stops at
     * {@code deadlineNanos} ({@code query.statement-timeout}, as PostgreSQL's own matching would) with a
     * {@link QueryException.Kind#TIMEOUT}.
     */
    static List<SeriesInfo> filter(List<SeriesInfo> series, Map<Matcher, Pattern> patterns, int limit,
                                   long deadlineNanos) {
        List<SeriesInfo> out = new ArrayList<>();
        for (SeriesInfo s : series) {
            boolean all = true;
            for (Map.Entry<Matcher, Pattern> p : patterns.entrySet()) {
                Matcher m = p.getKey();
                String value = m.label().equals(Matcher.NAME) ? s.name() : s.labels().getOrDefault(m.label(), "");
                all &= p.getValue().matcher(new DeadlineText(value, deadlineNanos)).matches()
                        == (m.op() == Matcher.Op.REGEX);
            }
            if (all && out.size() < limit) {
                out.add(s);
            }
        }
        return out;
    }

    /**
     * Per series and step bucket: min, max, sum and count of the samples in {@code [from, to)}, by {@link Summary}'s
     * rule (IEEE sums, NaN skipped by min and max unless every value is NaN), sorted by series then bucket.
     * Buckets are aligned to the step from the Unix epoch. Raw samples are read from the chunks that overlap the
     * range and folded in timestamp order; rollup rows are folded in bucket order.
     */
    public Mono<List<Partial>> partials(List<Long> seriesIds, Resolution resolution, Instant from, Instant to,
                                        Duration step) {
        long fromMs = from.toEpochMilli();
        long toMs = to.toEpochMilli();
        long stepMs = step.toMillis();
        Long[] ids = seriesIds.toArray(Long[]::new);
        if (resolution == Resolution.RAW) {
            // (series_id, hour) is the index; "hour" prunes the day partitions
            String sql = "SELECT series_id, data FROM " + resolution.table() + " WHERE series_id = ANY($1)"
                    + " AND hour >= date_trunc('hour', $2::timestamptz, 'UTC') AND hour < $3::timestamptz"
                    + " AND max_ms >= $4 AND min_ms < $5 ORDER BY series_id, hour, min_ms, ctid"; // ChunkMerge's order
            return inReadOnly("query.partials", c -> Flux.from(c.createStatement(sql)
                            .bind("$1", ids)
                            .bind("$2", from)
                            .bind("$3", to)
                            .bind("$4", fromMs)
                            .bind("$5", toMs)
                            .execute())
                    .flatMap(r -> r.map(row -> new Chunk(row.get(0, Long.class), row.get(1, byte[].class))))
                    .collect(() -> new RawFold(fromMs, toMs, stepMs), RawFold::add)
                    .map(RawFold::finish));
        }
        boolean hours = resolution == Resolution.HOUR;
        // as in rollups(): the 1-minute rows of hours not folded yet, in the same statement, folded here into hours
        // (minutes go into their hour's step bucket, as the hour's row would); hours that start in [from, to)
        String sql = "SELECT false, series_id, bucket, min, max, sum, count FROM " + resolution.table()
                + " WHERE series_id = ANY($1) AND bucket >= $2 AND bucket < $3"
                + (hours ? " AND bucket < (SELECT folded_before FROM rollup_folds)"
                        + " UNION ALL SELECT true, series_id, bucket, min, max, sum, count FROM rollups_1m"
                        + " WHERE series_id = ANY($1) AND bucket >= (SELECT folded_before FROM rollup_folds)"
                        + " AND bucket >= date_trunc('hour', $2::timestamptz - interval '1 microsecond', 'UTC')"
                        + " + interval '1 hour' AND bucket < date_trunc('hour', $3::timestamptz - interval"
                        + " '1 microsecond', 'UTC') + interval '1 hour'" : "")
                + " ORDER BY 2, 3";
        return inReadOnly("query.partials", c -> Mono.defer(() -> {
            Buckets buckets = new Buckets(stepMs);
            HourFold fold = new HourFold((series, hourMs, summary, run) -> buckets.add(series, hourMs, summary.min(),
                    summary.max(), summary.sum(), summary.count()));
            return Flux.from(c.createStatement(sql)
                            .bind("$1", ids)
                            .bind("$2", from)
                            .bind("$3", to)
                            .execute())
                    .flatMap(r -> r.map(row -> {
                        long series = row.get(1, Long.class);
                        long bucketMs = row.get(2, OffsetDateTime.class).toInstant().toEpochMilli();
                        double min = row.get(3, Double.class);
                        double max = row.get(4, Double.class);
                        double sum = row.get(5, Double.class);
                        long count = row.get(6, Long.class);
                        if (Boolean.TRUE.equals(row.get(0, Boolean.class))) {
                            fold.minute(series, bucketMs, min, max, sum, count, -1, 0, Double.NaN, 0, Double.NaN,
                                    Double.NaN);
                        } else {
                            fold.finish(); // by series, then bucket: a folded hour comes before any minute read
                            buckets.add(series, bucketMs, min, max, sum, count);
                        }
                        return 1;
                    }))
                    .then(Mono.fromSupplier(() -> {
                        fold.finish();
                        return buckets.finish();
                    }));
        }));
    }

    /**
     * The raw samples of these series in {@code [fromMs, toMs]} (both ends included), per series id, ascending by
     * time, each timestamp once by {@link ChunkMerge}'s duplicate rule, values bit-exact (staleness markers kept). A
     * series with no sample in the range is left out. Raw samples exist only for {@code retention.raw}; older ranges
     * come back empty. The samples decoded in the range are taken from {@code budget}, chunk by chunk: the read fails
     * as soon as they pass it.
     */
    public Mono<Map<Long, SeriesSamples>> samples(List<Long> seriesIds, long fromMs, long toMs, SampleBudget budget) {
        if (seriesIds.isEmpty()) {
            return Mono.just(Map.of());
        }
        return inReadOnly("query.samples", c -> samples(c, seriesIds, fromMs, toMs, budget));
    }

    private static Mono<Map<Long, SeriesSamples>> samples(Connection c, List<Long> seriesIds, long fromMs, long toMs,
                                                          SampleBudget budget) {
        if (seriesIds.isEmpty()) {
            return Mono.just(Map.of());
        }
        // Unordered: PostgreSQL sorting the rows with their data (ChunkMerge's order) cost more than the rest of the
        // statement; RawSamples puts each series' chunks in that order itself, from the narrow columns
        String sql = "SELECT series_id, min_ms, max_ms, samples, ctid::text, data FROM " + Resolution.RAW.table()
                + " WHERE series_id = ANY($1)"
                + " AND hour >= date_trunc('hour', $2::timestamptz, 'UTC') AND hour <= $3::timestamptz"
                + " AND max_ms >= $4 AND min_ms <= $5";
        return Flux.from(c.createStatement(sql)
                        .bind("$1", seriesIds.toArray(Long[]::new))
                        .bind("$2", postgresTimestamp(fromMs))
                        .bind("$3", postgresTimestamp(toMs))
                        .bind("$4", fromMs)
                        .bind("$5", toMs)
                        .execute())
                .flatMap(r -> r.map(row -> new StoredChunk(row.get(0, Long.class), row.get(1, Long.class),
                        row.get(2, Long.class), row.get(3, Integer.class), tid(row.get(4, String.class)),
                        row.get(5, byte[].class))))
                .collect(() -> new RawSamples(fromMs, toMs, budget), RawSamples::add)
                .flatMap(RawSamples::finish);
    }

    /** Metric names of the tenant's series, sorted. */
    public Mono<List<String>> metricNames(String tenant, int limit) {
        return inReadOnly("query.metric_names", c -> Flux.from(c.createStatement("SELECT DISTINCT name FROM series "
                        + "WHERE tenant = $1 ORDER BY name LIMIT " + limit).bind("$1", tenant).execute())
                .flatMap(r -> r.map(row -> row.get(0, String.class))).collectList());
    }

    /** Label names the tenant's series use, sorted. */
    public Mono<List<String>> labelNames(String tenant, int limit) {
        return inReadOnly("query.label_names", c -> Flux.from(c.createStatement("SELECT DISTINCT k FROM series, jsonb_object_keys(labels) k "
                        + "WHERE tenant = $1 ORDER BY k LIMIT " + limit).bind("$1", tenant).execute())
                .flatMap(r -> r.map(row -> row.get(0, String.class))).collectList());
    }

    /** Values of one label across the tenant's series, sorted. */
    public Mono<List<String>> labelValues(String tenant, String label, int limit) {
        return inReadOnly("query.label_values", c -> Flux.from(c.createStatement("SELECT DISTINCT labels ->> $2 AS v FROM series "
                        + "WHERE tenant = $1 AND labels ? $2 ORDER BY v LIMIT " + limit)
                        .bind("$1", tenant).bind("$2", label).execute())
                .flatMap(r -> r.map(row -> row.get(0, String.class))).collectList());
    }

    /** Times well within what a PostgreSQL {@code timestamptz} holds (4713 BC to 294276 AD), in ms. */
    private static final long POSTGRES_MIN_MS = Instant.parse("-4000-01-01T00:00:00Z").toEpochMilli();
    private static final long POSTGRES_MAX_MS = Instant.parse("+290000-01-01T00:00:00Z").toEpochMilli();

    /**
     * A time as a partition-pruning bound, within what PostgreSQL's timestamps hold: a PromQL offset or range may
     * reach millions of years, and no sample lies out there (the {@code min_ms}/{@code max_ms} conditions, in plain
     * numbers, stay exact).
     */
    private static Instant postgresTimestamp(long ms) {
        return Instant.ofEpochMilli(Math.max(POSTGRES_MIN_MS, Math.min(POSTGRES_MAX_MS, ms)));
    }

    /** One series' bucket: what rows of one step bucket of one series add up to. */
    public record Partial(long seriesId, long bucketMs, double min, double max, double sum, long count) {
    }

    private record Chunk(long seriesId, byte[] data) {
    }

    /**
     * A chunk with what orders it among its series' chunks ({@code hour} follows from {@code min_ms}, so
     * {@code (hour, min_ms, ctid)} order is {@code (min_ms, tid)} order) and what tells how many of its samples lie
     * in a range without decoding it.
     */
    private record StoredChunk(long seriesId, long minMs, long maxMs, int samples, long tid, byte[] data) {
    }

    /** A {@code ctid}'s text, {@code (block,offset)}, as one number in the same order. */
    private static long tid(String ctid) {
        int comma = ctid.indexOf(',');
        return Long.parseLong(ctid, 1, comma, 10) << 16 | Long.parseLong(ctid, comma + 1, ctid.length() - 1, 10);
    }

    /** One series' raw samples: ascending timestamps (ms), one value each. */
    public record SeriesSamples(long seriesId, long[] timestamps, double[] values) {
    }

    /**
     * Folds rows that come sorted by series into one {@link Partial} per series and step bucket, in the order the
     * rows come.
     */
    private static final class Buckets {
        private final long stepMs;
        private final List<Partial> out = new ArrayList<>();
        private long seriesId;
        private long bucketMs;
        private Summary summary;

        Buckets(long stepMs) {
            this.stepMs = stepMs;
        }

        void add(long series, long timestampMs, double min, double max, double sum, long count) {
            long bucket = Math.floorDiv(timestampMs, stepMs) * stepMs;
            if (summary == null || series != seriesId || bucket != bucketMs) {
                flush();
                seriesId = series;
                bucketMs = bucket;
                summary = new Summary();
            }
            summary.add(min, max, sum, count);
        }

        void add(long series, long timestampMs, double value) {
            add(series, timestampMs, value, value, value, 1);
        }

        private void flush() {
            if (summary != null && !summary.isEmpty()) {
                out.add(new Partial(seriesId, bucketMs, summary.min(), summary.max(), summary.sum(), summary.count()));
            }
        }

        List<Partial> finish() {
            flush();
            summary = null;
            return out;
        }
    }

    /**
     * Merges the chunks of one series at a time (they come sorted by series, then in (min_ms, ctid) order within each
     * hour) by {@link ChunkMerge}'s duplicate rule, keeps the samples in {@code [from, to)} and folds them in
     * timestamp order: chunks written by different batches may overlap in time, and a bucket's sum must not depend
     * on how its samples were split into chunks.
     */
    private static final class RawFold {
        private final long fromMs;
        private final long toMs;
        private final Buckets buckets;
        private final ChunkMerge merge = new ChunkMerge();
        private long seriesId;
        private boolean started;

        RawFold(long fromMs, long toMs, long stepMs) {
            this.fromMs = fromMs;
            this.toMs = toMs;
            this.buckets = new Buckets(stepMs);
        }

        void add(Chunk chunk) {
            if (started && chunk.seriesId() != seriesId) {
                foldSeries();
            }
            started = true;
            seriesId = chunk.seriesId();
            merge.add(chunk.data());
        }

        private void foldSeries() {
            merge.merge();
            for (int i = 0; i < merge.size(); i++) {
                long ts = merge.timestamp(i);
                if (ts >= fromMs && ts < toMs) {
                    buckets.add(seriesId, ts, merge.value(i));
                }
            }
            merge.clear();
        }

        List<Partial> finish() {
            if (started) {
                foldSeries();
            }
            return buckets.finish();
        }
    }

    /**
     * Gathers the chunks of each series as they come (in any order), taking the samples each holds in
     * {@code [from, to]} from the budget as it arrives (counted from its row where it lies wholly inside, decoded
     * where it straddles an end); then merges each series' chunks in {@code (min_ms, ctid)} order by
     * {@link ChunkMerge}'s duplicate rule into its samples in the range (both ends included). A large read is
     * decoded in parts of about as many samples, one per core of Reactor's parallel scheduler: decoding was a quarter
     * of an uncached 24 h query of 100 series (578,100 samples), all of it on the one thread that read the rows.
     */
    private static final class RawSamples {
        /** Fewer samples than this in a read are decoded on the thread that read them: splitting would not pay. */
        static final long PARALLEL_FROM_SAMPLES = 100_000;

        private final long fromMs;
        private final long toMs;
        private final Map<Long, List<StoredChunk>> chunks = new HashMap<>();
        private final SampleBudget budget;
        private final ChunkMerge merge = new ChunkMerge();
        /** Samples the chunks hold, in the range or not: how much decoding there is. */
        private long stored;

        RawSamples(long fromMs, long toMs, SampleBudget budget) {
            this.fromMs = fromMs;
            this.toMs = toMs;
            this.budget = budget;
        }

        void add(StoredChunk chunk) {
            if (chunk.minMs() >= fromMs && chunk.maxMs() <= toMs) {
                budget.take(chunk.samples());
            } else {
                budget.take(merge.add(chunk.data(), fromMs, toMs));
                merge.clear();
            }
            chunks.computeIfAbsent(chunk.seriesId(), id -> new ArrayList<>()).add(chunk);
            stored += chunk.samples();
        }

        /** Each series' samples, by ascending id; a large read decoded in parallel parts (see the class). */
        Mono<Map<Long, SeriesSamples>> finish() {
            Long[] ids = chunks.keySet().toArray(Long[]::new);
            Arrays.sort(ids);
            int parts = (int) Math.min(Math.min(Schedulers.DEFAULT_POOL_SIZE, ids.length),
                    stored / PARALLEL_FROM_SAMPLES + 1);
            if (parts <= 1) {
                return Mono.just(decode(ids, 0, ids.length, merge));
            }
            // contiguous runs of series of about stored / parts samples each, in id order
            int[] bounds = new int[parts + 1];
            long sum = 0;
            int part = 1;
            for (int i = 0; i < ids.length && part < parts; i++) {
                for (StoredChunk chunk : chunks.get(ids[i])) {
                    sum += chunk.samples();
                }
                if (sum >= stored * part / parts) {
                    bounds[part++] = i + 1;
                }
            }
            while (part <= parts) {
                bounds[part++] = ids.length;
            }
            return Flux.range(0, parts)
                    .flatMapSequential(p -> Mono.fromCallable(() -> decode(ids, bounds[p], bounds[p + 1],
                            new ChunkMerge())).subscribeOn(Schedulers.parallel()), parts)
                    .collect(LinkedHashMap::new, Map::putAll);
        }

        /** The samples of series {@code ids[from..to)} in the range, merged with {@code merge}. */
        private Map<Long, SeriesSamples> decode(Long[] ids, int from, int to, ChunkMerge merge) {
            Map<Long, SeriesSamples> out = new LinkedHashMap<>();
            for (int k = from; k < to; k++) {
                Long id = ids[k];
                List<StoredChunk> ordered = chunks.get(id);
                ordered.sort(CHUNK_ORDER);
                for (StoredChunk chunk : ordered) {
                    merge.add(chunk.data());
                }
                merge.merge();
                int first = 0;
                while (first < merge.size() && merge.timestamp(first) < fromMs) {
                    first++;
                }
                int end = first;
                while (end < merge.size() && merge.timestamp(end) <= toMs) {
                    end++;
                }
                if (end > first) {
                    out.put(id, new SeriesSamples(id, merge.timestamps(first, end), merge.values(first, end)));
                }
                merge.clear();
            }
            return out;
        }

        private static final java.util.Comparator<StoredChunk> CHUNK_ORDER =
                java.util.Comparator.comparingLong(StoredChunk::minMs).thenComparingLong(StoredChunk::tid);
    }

    private <T> Mono<T> inReadOnly(String operation, java.util.function.Function<Connection, Mono<T>> work) {
        return bounded(operation, Mono.usingWhen(connections.create(),
                // One round trip (a simple query of three statements); the driver follows the transaction from the
                // server's own status, so commit and rollback below work as after beginTransaction. Plans are made
                // for each statement's own values: the driver prepares its statements once a connection, and after
                // five runs PostgreSQL may switch to a generic plan, which cannot see that one metric name holds most
                // of the series (it then reads every series of that name to find the ten a selector's labels match).
                c -> Flux.from(c.createStatement("BEGIN READ ONLY; SET LOCAL statement_timeout = "
                                + statementTimeout.toMillis() + "; SET LOCAL plan_cache_mode = force_custom_plan")
                                .execute()).flatMap(r -> r.getRowsUpdated()).then()
                        .then(work.apply(c))
                        .flatMap(result -> Mono.from(c.commitTransaction()).thenReturn(result)),
                Connection::close,
                (c, err) -> io.sluice.storage.postgres.Transactions.rollbackAndClose(c, calls.deadline()),
                c -> io.sluice.storage.postgres.Transactions.rollbackAndClose(c, calls.deadline())))
                // translated outside the call, so that PostgresCalls still sees (and counts) PostgreSQL's own error
                .onErrorMap(QueryException::translate);
    }

    private static Statement bind(Statement statement, List<Object> binds) {
        for (int i = 0; i < binds.size(); i++) {
            statement.bind("$" + (i + 1), binds.get(i));
        }
        return statement;
    }

    private static SeriesInfo seriesInfo(Readable row) {
        String[] keys = row.get(2, String[].class);
        String[] values = row.get(3, String[].class);
        Map<String, String> labels = new LinkedHashMap<>();
        if (keys != null) {
            for (int i = 0; i < keys.length; i++) {
                labels.put(keys[i], values[i]);
            }
        }
        return new SeriesInfo(row.get(0, Long.class), row.get(1, String.class), labels);
    }

    private static String jsonPair(String key, String value) {
        return json(key) + ":" + json(value);
    }

    private static String json(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }
}
