package io.sluice.storage.links;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.R2dbcDataIntegrityViolationException;
import io.r2dbc.spi.Readable;
import io.r2dbc.spi.Statement;
import io.sluice.storage.postgres.PostgresCalls;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;

/**
 * Links and their click counters in PostgreSQL (migration V4), through R2DBC. Every call has the
 * {@link PostgresCalls} deadline.
 */
public final class LinkStore {

    private static final String COLUMNS = "code, tenant, target, redirect, expires_at, created_at, updated_at";

    private final PostgresCalls calls;
    private final ConnectionFactory connections;

    public LinkStore(PostgresCalls calls) {
        this.calls = calls;
        this.connections = calls.connections();
    }

    /** A store whose calls have the default {@code postgres.call-timeout} (tests). */
    public LinkStore(ConnectionFactory connections) {
        this(PostgresCalls.withDefaultDeadline(connections));
    }

    /** The deadline rule this store's calls follow, for operations made of several of them. */
    public PostgresCalls calls() {
        return calls;
    }

    /** Thrown (in the Mono) when a code or alias is taken. */
    public static final class CodeTakenException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public CodeTakenException(String code) {
            super("the code " + code + " is already in use", null, false, false);
        }
    }

    /** Reserves a block of 64 link ids; returns the first. */
    public Mono<Long> reserveIdBlock() {
        return one("links.reserve_ids", "SELECT nextval('link_ids')", List.of(), row -> row.get(0, Long.class));
    }

    /** The secret that keys code generation (made by migration V4). */
    public Mono<String> codeKey() {
        return one("links.code_key", "SELECT value FROM sluice_info WHERE key = 'link_code_key'", List.of(), row -> row.get(0, String.class));
    }

    public Mono<Link> insert(String code, String tenant, String target, int redirect, Instant expiresAt) {
        return one("links.insert", "INSERT INTO links (code, tenant, target, redirect, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING "
                        + COLUMNS, List.of(code, tenant, target, (short) redirect, nullable(expiresAt)), LinkStore::link,
                e -> e instanceof R2dbcDataIntegrityViolationException ? new CodeTakenException(code) : e);
    }

    /** Any tenant's link by code (the redirect path). */
    public Mono<Link> find(String code) {
        return one("links.find", "SELECT " + COLUMNS + " FROM links WHERE code = $1", List.of(code), LinkStore::link);
    }

    public Mono<Link> find(String tenant, String code) {
        return one("links.get", "SELECT " + COLUMNS + " FROM links WHERE code = $1 AND tenant = $2", List.of(code, tenant),
                LinkStore::link);
    }

    /** Changes what is given (null = unchanged; {@code clearExpiry} removes the expiry). */
    public Mono<Link> update(String tenant, String code, String target, Integer redirect, Instant expiresAt,
                             boolean clearExpiry) {
        return one("links.update", "UPDATE links SET target = coalesce($3, target), redirect = coalesce($4, redirect), "
                        + "expires_at = CASE WHEN $6 THEN NULL ELSE coalesce($5, expires_at) END, updated_at = now() "
                        + "WHERE code = $1 AND tenant = $2 RETURNING " + COLUMNS,
                List.of(code, tenant, nullable(target, String.class),
                        redirect == null ? Nullable.of(Short.class) : (Object) (short) (int) redirect,
                        nullable(expiresAt), clearExpiry), LinkStore::link);
    }

    public Mono<Boolean> delete(String tenant, String code) {
        return calls.call("links.delete", Mono.usingWhen(connections.create(),
                c -> Flux.from(bind(c.createStatement("DELETE FROM links WHERE code = $1 AND tenant = $2"),
                        List.of(code, tenant)).execute()).flatMap(r -> r.getRowsUpdated()).reduce(0L, Long::sum)
                        .map(n -> n > 0),
                Connection::close));
    }

    /** One page of a tenant's links, oldest first, after the given position (null for the first page). */
    public Mono<List<Link>> list(String tenant, Instant afterCreated, String afterCode, int limit) {
        String sql = "SELECT " + COLUMNS + " FROM links WHERE tenant = $1"
                + (afterCreated == null ? "" : " AND (created_at, code) > ($2, $3)")
                + " ORDER BY created_at, code LIMIT " + limit;
        List<Object> binds = afterCreated == null ? List.of(tenant) : List.of(tenant, afterCreated, afterCode);
        return calls.call("links.list", Mono.usingWhen(connections.create(),
                c -> Flux.from(bind(c.createStatement(sql), binds).execute())
                        .flatMap(r -> r.map(LinkStore::link)).collectList(),
                Connection::close));
    }

    /**
     * A tenant's link's clicks per step bucket: {@code [bucket epoch ms, clicks, bots]}; empty when the tenant has
     * no such link. One deadline covers both statements.
     */
    public Mono<List<long[]>> stats(String tenant, String code, Instant from, Instant to, Duration step) {
        return calls.call("links.stats", find(tenant, code).flatMap(link -> clicks(code, from, to, step)));
    }

    /** Clicks per step bucket: {@code [bucket epoch ms, clicks, bots]}. */
    public Mono<List<long[]>> clicks(String code, Instant from, Instant to, Duration step) {
        return calls.call("links.clicks", Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("SELECT date_bin(make_interval(secs => $4), minute, "
                                        + "timestamptz '1970-01-01 00:00:00+00') AS b, sum(clicks)::bigint, sum(bots)::bigint "
                                        + "FROM link_clicks WHERE code = $1 AND minute >= $2 AND minute < $3 GROUP BY 1 ORDER BY 1")
                                .bind("$1", code).bind("$2", from).bind("$3", to).bind("$4", step.toMillis() / 1000.0)
                                .execute())
                        .flatMap(r -> r.map(row -> new long[] {row.get(0, OffsetDateTime.class).toInstant().toEpochMilli(),
                                row.get(1, Long.class), row.get(2, Long.class)}))
                        .collectList(),
                Connection::close));
    }

    private <T> Mono<T> one(String operation, String sql, List<Object> binds,
                            java.util.function.Function<Readable, T> mapper) {
        return one(operation, sql, binds, mapper, java.util.function.Function.identity());
    }

    /** One statement, at most one row, within the deadline; {@code errors} maps what PostgreSQL refused. */
    private <T> Mono<T> one(String operation, String sql, List<Object> binds,
                            java.util.function.Function<Readable, T> mapper,
                            java.util.function.Function<Throwable, Throwable> errors) {
        return calls.call(operation, Mono.usingWhen(connections.create(),
                c -> Flux.from(bind(c.createStatement(sql), binds).execute()).flatMap(r -> r.map(mapper)).next(),
                Connection::close).onErrorMap(errors));
    }

    private static Statement bind(Statement statement, List<Object> binds) {
        for (int i = 0; i < binds.size(); i++) {
            Object v = binds.get(i);
            if (v instanceof Nullable n) {
                statement.bindNull("$" + (i + 1), n.type());
            } else {
                statement.bind("$" + (i + 1), v);
            }
        }
        return statement;
    }

    private record Nullable(Class<?> type) {
        static Nullable of(Class<?> type) {
            return new Nullable(type);
        }
    }

    private static Object nullable(Instant instant) {
        return instant == null ? Nullable.of(Instant.class) : instant;
    }

    private static Object nullable(Object value, Class<?> type) {
        return value == null ? Nullable.of(type) : value;
    }

    private static Link link(Readable row) {
        OffsetDateTime expires = row.get(4, OffsetDateTime.class);
        return new Link(row.get(0, String.class), row.get(1, String.class), row.get(2, String.class),
                row.get(3, Short.class), expires == null ? null : expires.toInstant(),
                row.get(5, OffsetDateTime.class).toInstant(), row.get(6, OffsetDateTime.class).toInstant());
    }

}
