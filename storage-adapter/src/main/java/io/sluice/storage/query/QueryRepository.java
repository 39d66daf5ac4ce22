package io.sluice.storage.query;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.Readable;
import io.r2dbc.spi.Statement;
import io.sluice.storage.postgres.PostgresCalls;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The SQL of queries and discovery, through R2DBC. Every statement runs in a read-only transaction with
 * {@code query.statement-timeout} as its statement timeout, and every call (a query as a whole too, see
 * {@link #bounded}) has the deadline {@code query.statement-timeout + postgres.call-timeout}: PostgreSQL's own
 * timeout ends a slow statement first, the deadline a call PostgreSQL does not answer at all.
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

    /** Series of the tenant with this metric (any metric when null) matching every matcher, at most {@code limit}. */
    public Mono<List<SeriesInfo>> findSeries(String tenant, String metric, List<Matcher> matchers, int limit) {
        StringBuilder sql = new StringBuilder(SERIES_COLUMNS).append(" WHERE tenant = $1");
        List<Object> binds = new ArrayList<>(List.of(tenant));
        if (metric != null) {
            binds.add(metric);
            sql.append(" AND name = $").append(binds.size());
        }
        StringBuilder equals = new StringBuilder();
        for (Matcher m : matchers) {
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
                case REGEX -> {
                    binds.add(m.label());
                    binds.add("^(?:" + m.value() + ")$");
                    sql.append(" AND coalesce(labels ->> $").append(binds.size() - 1).append(", '') ~ $")
                            .append(binds.size());
                }
            }
        }
        if (equals.length() > 0) {
            binds.add("{" + equals + "}");
            sql.append(" AND labels @> $").append(binds.size()).append("::jsonb"); // uses the GIN index
        }
        sql.append(" ORDER BY id LIMIT ").append(limit);
        return inReadOnly("query.series", c -> Flux.from(bind(c.createStatement(sql.toString()), binds).execute())
                .flatMap(r -> r.map(QueryRepository::seriesInfo))
                .collectList());
    }

    /**
     * Per series and step bucket: min, max, sum and count, from the table of the resolution. Buckets are
     * aligned to the step from the Unix epoch ({@code date_bin}).
     */
    public Mono<List<Partial>> partials(List<Long> seriesIds, Resolution resolution, Instant from, Instant to,
                                        Duration step) {
        String time = resolution == Resolution.RAW ? "ts" : "bucket";
        String aggregates = resolution == Resolution.RAW
                ? "min(value), max(value), sum(value), count(*)"
                : "min(min), max(max), sum(sum), sum(count)::bigint";
        String sql = "SELECT series_id, date_bin(make_interval(secs => $4), " + time
                + ", timestamptz '1970-01-01 00:00:00+00') AS b, " + aggregates
                + " FROM " + resolution.table() + " WHERE series_id = ANY($1) AND " + time + " >= $2 AND " + time
                + " < $3 GROUP BY 1, 2 ORDER BY 1, 2";
        return inReadOnly("query.partials", c -> Flux.from(c.createStatement(sql)
                        .bind("$1", seriesIds.toArray(Long[]::new))
                        .bind("$2", from)
                        .bind("$3", to)
                        .bind("$4", step.toMillis() / 1000.0)
                        .execute())
                .flatMap(r -> r.map(row -> new Partial(row.get(0, Long.class),
                        row.get(1, OffsetDateTime.class).toInstant().toEpochMilli(),
                        row.get(2, Double.class), row.get(3, Double.class), row.get(4, Double.class),
                        row.get(5, Long.class))))
                .collectList());
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

    /** One series' bucket: what rows of one step bucket of one series add up to. */
    public record Partial(long seriesId, long bucketMs, double min, double max, double sum, long count) {
    }

    private <T> Mono<T> inReadOnly(String operation, java.util.function.Function<Connection, Mono<T>> work) {
        return bounded(operation, Mono.usingWhen(connections.create(),
                c -> Mono.from(c.beginTransaction())
                        .then(Flux.from(c.createStatement("SET LOCAL statement_timeout = "
                                + statementTimeout.toMillis()).execute()).flatMap(r -> r.getRowsUpdated()).then())
                        .then(Flux.from(c.createStatement("SET TRANSACTION READ ONLY").execute())
                                .flatMap(r -> r.getRowsUpdated()).then())
                        .then(work.apply(c))
                        .flatMap(result -> Mono.from(c.commitTransaction()).thenReturn(result)),
                Connection::close,
                (c, err) -> io.sluice.storage.postgres.Transactions.rollbackAndClose(c),
                io.sluice.storage.postgres.Transactions::rollbackAndClose));
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
