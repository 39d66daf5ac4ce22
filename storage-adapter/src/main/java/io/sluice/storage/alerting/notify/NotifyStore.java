package io.sluice.storage.alerting.notify;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.R2dbcDataIntegrityViolationException;
import io.r2dbc.spi.Readable;
import io.r2dbc.spi.Statement;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.Transactions;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;

/**
 * A tenant's receivers, routes and silences in PostgreSQL (migration V10), for the notification APIs and the
 * dispatcher. Every call has the {@link PostgresCalls} deadline. Creating a receiver holds a per-tenant advisory lock
 * for its transaction, so that {@code alerting.max-receivers-per-tenant} holds under concurrent requests.
 */
public final class NotifyStore {

    private static final String RECEIVER = "tenant_id, name, kind, url, headers::text, send_resolved";
    private static final String ROUTE = "matchers::text, receiver, group_by::text, group_wait_ms, group_interval_ms, "
            + "repeat_interval_ms, continue_matching";
    private static final String SILENCE = "id, tenant_id, matchers::text, starts_at, ends_at, created_by, comment, "
            + "created_at";

    private final PostgresCalls calls;
    private final ConnectionFactory connections;

    public NotifyStore(PostgresCalls calls) {
        this.calls = calls;
        this.connections = calls.connections();
    }

    public PostgresCalls calls() {
        return calls;
    }

    /** A receiver of that name exists already (create). */
    public static final class ReceiverExistsException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public ReceiverExistsException(String name) {
            super("name: a receiver " + name + " exists already", null, false, false);
        }
    }

    /** The tenant would have more than {@code alerting.max-receivers-per-tenant} receivers (create). */
    public static final class TooManyReceiversException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public TooManyReceiversException(int max, long wouldHave) {
            super("a tenant may have at most " + max + " receivers (alerting.max-receivers-per-tenant); this would "
                    + "make " + wouldHave, null, false, false);
        }
    }

    /** A receiver is still named by a route (delete). */
    public static final class ReceiverInUseException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public ReceiverInUseException(String name) {
            super("receiver " + name + " is used by a route; change the routes first", null, false, false);
        }
    }

    /** A route names a receiver the tenant does not have. */
    public static final class UnknownReceiverException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public UnknownReceiverException(int index, String name) {
            super("routes[" + index + "].receiver: no receiver " + name, null, false, false);
        }
    }

    // receivers

    /**
     * Stores a new receiver; fails with {@link ReceiverExistsException}, or {@link TooManyReceiversException} when
     * the tenant would have more than {@code maxReceivers} (and then stores nothing).
     */
    public Mono<Receiver> createReceiver(Receiver r, int maxReceivers) {
        // inserted first, so a duplicate is a duplicate even at the limit; counted after, under the tenant's lock
        return calls.call("alerting.receiver_create", Mono.usingWhen(connections.create(),
                c -> Mono.from(c.beginTransaction())
                        .then(Transactions.lockTenant(c, "alert_receivers", r.tenant()))
                        .then(Flux.from(bind(c.createStatement("INSERT INTO alert_receivers (tenant_id, name, kind, "
                                        + "url, headers, send_resolved) VALUES ($1, $2, $3, $4, $5::jsonb, $6) "
                                        + "RETURNING " + RECEIVER), List.of(r.tenant(), r.name(), r.kind(), r.url(),
                                        headersJson(r), r.sendResolved())).execute())
                                .flatMap(res -> res.map(NotifyStore::receiver)).next())
                        .flatMap(created -> Flux.from(c.createStatement("SELECT count(*) FROM alert_receivers WHERE "
                                        + "tenant_id = $1").bind("$1", r.tenant()).execute())
                                .flatMap(res -> res.map(row -> row.get(0, Long.class))).next()
                                .flatMap(n -> n > maxReceivers
                                        ? Mono.<Receiver>error(new TooManyReceiversException(maxReceivers, n))
                                        : Mono.from(c.commitTransaction()).thenReturn(created))),
                Connection::close, (c, e) -> Transactions.rollbackAndClose(c, calls.deadline()), c -> Transactions.rollbackAndClose(c, calls.deadline())))
                .onErrorMap(R2dbcDataIntegrityViolationException.class, e -> new ReceiverExistsException(r.name()));
    }

    /** Replaces an existing receiver; empty when there is none of that name. */
    public Mono<Receiver> updateReceiver(Receiver r) {
        return one("alerting.receiver_update", "UPDATE alert_receivers SET kind = $3, url = $4, headers = $5::jsonb, "
                        + "send_resolved = $6, updated_at = now() WHERE tenant_id = $1 AND name = $2 RETURNING "
                        + RECEIVER,
                List.of(r.tenant(), r.name(), r.kind(), r.url(), headersJson(r), r.sendResolved()),
                NotifyStore::receiver);
    }

    public Mono<Receiver> receiver(String tenant, String name) {
        return one("alerting.receiver_get", "SELECT " + RECEIVER + " FROM alert_receivers WHERE tenant_id = $1 "
                + "AND name = $2", List.of(tenant, name), NotifyStore::receiver);
    }

    public Mono<List<Receiver>> receivers(String tenant) {
        return many("alerting.receivers", "SELECT " + RECEIVER + " FROM alert_receivers WHERE tenant_id = $1 "
                + "ORDER BY name", List.of(tenant), NotifyStore::receiver);
    }

    /**
     * Deletes a receiver no route names; false when there is none of that name; fails with
     * {@link ReceiverInUseException} when a route names it.
     */
    public Mono<Boolean> deleteReceiver(String tenant, String name) {
        String sql = "WITH used AS (SELECT 1 FROM alert_routes WHERE tenant_id = $1 AND receiver = $2 LIMIT 1), "
                + "gone AS (DELETE FROM alert_receivers WHERE tenant_id = $1 AND name = $2 "
                + "AND NOT EXISTS (SELECT 1 FROM used) RETURNING 1) "
                + "SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM used)";
        return one("alerting.receiver_delete", sql, List.of(tenant, name),
                row -> new long[] {row.get(0, Long.class), row.get(1, Long.class)})
                .flatMap(n -> n[1] > 0 ? Mono.error(new ReceiverInUseException(name)) : Mono.just(n[0] > 0));
    }

    // routes

    public Mono<List<Route>> routes(String tenant) {
        return many("alerting.routes", "SELECT " + ROUTE + " FROM alert_routes WHERE tenant_id = $1 ORDER BY position",
                List.of(tenant), NotifyStore::route);
    }

    /**
     * Replaces a tenant's routes with {@code routes}, in one transaction that checks every receiver exists (and
     * keeps them from being deleted meanwhile); fails with {@link UnknownReceiverException} otherwise.
     */
    public Mono<List<Route>> replaceRoutes(String tenant, List<Route> routes) {
        return calls.call("alerting.routes_replace", Mono.usingWhen(connections.create(),
                c -> Mono.from(c.beginTransaction())
                        .thenMany(Flux.from(c.createStatement("SELECT name FROM alert_receivers WHERE tenant_id = $1 "
                                + "FOR SHARE").bind("$1", tenant).execute()).flatMap(r -> r.map(row -> row.get(0,
                                String.class))))
                        .collect(HashSet<String>::new, Set::add)
                        .flatMap(names -> {
                            for (int i = 0; i < routes.size(); i++) {
                                if (!names.contains(routes.get(i).receiver())) {
                                    return Mono.error(new UnknownReceiverException(i, routes.get(i).receiver()));
                                }
                            }
                            return Mono.empty();
                        })
                        .then(Flux.from(c.createStatement("DELETE FROM alert_routes WHERE tenant_id = $1")
                                .bind("$1", tenant).execute()).flatMap(r -> r.getRowsUpdated()).then())
                        .then(Flux.range(0, routes.size()).concatMap(i -> {
                            Route r = routes.get(i);
                            return Flux.from(c.createStatement("INSERT INTO alert_routes (tenant_id, position, "
                                            + "matchers, receiver, group_by, group_wait_ms, group_interval_ms, "
                                            + "repeat_interval_ms, continue_matching) VALUES ($1, $2, $3::jsonb, $4, "
                                            + "$5::jsonb, $6, $7, $8, $9)")
                                    .bind("$1", tenant).bind("$2", i)
                                    .bind("$3", JsonTree.write(j -> JsonTree.writeMatchers(j, r.matchers())))
                                    .bind("$4", r.receiver())
                                    .bind("$5", JsonTree.write(j -> JsonTree.writeValue(j, new ArrayList<Object>(
                                            r.groupBy()))))
                                    .bind("$6", r.groupWait().toMillis()).bind("$7", r.groupInterval().toMillis())
                                    .bind("$8", r.repeatInterval().toMillis()).bind("$9", r.continueMatching())
                                    .execute()).flatMap(res -> res.getRowsUpdated());
                        }).then())
                        .then(Mono.from(c.commitTransaction()))
                        .thenReturn(routes),
                Connection::close, (c, e) -> Transactions.rollbackAndClose(c, calls.deadline()), c -> Transactions.rollbackAndClose(c, calls.deadline())));
    }

    // silences

    public Mono<Silence> createSilence(String tenant, List<LabelMatcher> matchers, Instant startsAt, Instant endsAt,
                                       String createdBy, String comment, Instant now) {
        return one("alerting.silence_create", "INSERT INTO alert_silences (tenant_id, matchers, starts_at, ends_at, "
                        + "created_by, comment, created_at) VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7) RETURNING "
                        + SILENCE,
                List.of(tenant, JsonTree.write(j -> JsonTree.writeMatchers(j, matchers)), startsAt, endsAt, createdBy,
                        comment, now), NotifyStore::silence);
    }

    public Mono<Silence> silence(String tenant, UUID id) {
        return one("alerting.silence_get", "SELECT " + SILENCE + " FROM alert_silences WHERE tenant_id = $1 "
                + "AND id = $2", List.of(tenant, id), NotifyStore::silence);
    }

    /** A tenant's silences, newest first; with {@code endedAfter}, only those that end after it. */
    public Mono<List<Silence>> silences(String tenant, Instant endedAfter) {
        return endedAfter == null
                ? many("alerting.silences", "SELECT " + SILENCE + " FROM alert_silences WHERE tenant_id = $1 "
                + "ORDER BY created_at DESC, id", List.of(tenant), NotifyStore::silence)
                : many("alerting.silences", "SELECT " + SILENCE + " FROM alert_silences WHERE tenant_id = $1 "
                + "AND ends_at > $2 ORDER BY created_at DESC, id", List.of(tenant, endedAfter), NotifyStore::silence);
    }

    /** Expires a silence at {@code now} (a pending one starts and ends then); empty when there is none. */
    public Mono<Silence> expireSilence(String tenant, UUID id, Instant now) {
        return one("alerting.silence_expire", "UPDATE alert_silences SET ends_at = CASE WHEN ends_at > $3 THEN $3 "
                        + "ELSE ends_at END, starts_at = LEAST(starts_at, $3) WHERE tenant_id = $1 AND id = $2 "
                        + "RETURNING " + SILENCE, List.of(tenant, id, now), NotifyStore::silence);
    }

    // rows

    static Receiver receiver(Readable row) {
        return new Receiver(row.get(0, String.class), row.get(1, String.class), row.get(2, String.class),
                row.get(3, String.class), JsonTree.stringMap(JsonTree.parse(row.get(4, String.class)), "headers"),
                row.get(5, Boolean.class));
    }

    static Route route(Readable row) {
        Object groupBy = JsonTree.parse(row.get(2, String.class));
        List<String> names = new ArrayList<>();
        for (Object o : (List<?>) groupBy) {
            names.add((String) o);
        }
        return new Route(JsonTree.matchers(JsonTree.parse(row.get(0, String.class)), "matchers"),
                row.get(1, String.class), names, Duration.ofMillis(row.get(3, Long.class)),
                Duration.ofMillis(row.get(4, Long.class)), Duration.ofMillis(row.get(5, Long.class)),
                row.get(6, Boolean.class));
    }

    static Silence silence(Readable row) {
        return new Silence(row.get(0, UUID.class), row.get(1, String.class),
                JsonTree.matchers(JsonTree.parse(row.get(2, String.class)), "matchers"),
                instant(row, 3), instant(row, 4), row.get(5, String.class), row.get(6, String.class),
                instant(row, 7));
    }

    static Instant instant(Readable row, int i) {
        OffsetDateTime t = row.get(i, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    private static String headersJson(Receiver r) {
        return JsonTree.write(j -> JsonTree.writeStrings(j, r.headers()));
    }

    private <T> Mono<T> one(String operation, String sql, List<Object> binds, Function<Readable, T> mapper) {
        return calls.call(operation, Mono.usingWhen(connections.create(),
                c -> Flux.from(bind(c.createStatement(sql), binds).execute()).flatMap(r -> r.map(mapper)).next(),
                Connection::close));
    }

    private <T> Mono<List<T>> many(String operation, String sql, List<Object> binds, Function<Readable, T> mapper) {
        return calls.call(operation, Mono.usingWhen(connections.create(),
                c -> Flux.from(bind(c.createStatement(sql), binds).execute()).flatMap(r -> r.map(mapper))
                        .collectList(),
                Connection::close));
    }

    static Statement bind(Statement statement, List<Object> binds) {
        for (int i = 0; i < binds.size(); i++) {
            statement.bind("$" + (i + 1), binds.get(i));
        }
        return statement;
    }

}
