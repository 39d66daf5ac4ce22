package io.sluice.storage.alerting.notify;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Readable;
import io.sluice.config.AlertingConfig;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.Transactions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Turns a tenant's firing and resolved alerts into notifications: routes each alert that no active silence mutes,
 * groups it by (receiver, its route's group_by values), and keeps {@code alert_groups}, Alertmanager's way:
 * <ul>
 *   <li>a new group (one with a firing alert) is first flushed {@code group_wait} after it was first seen;</li>
 *   <li>a due group is flushed every {@code group_interval}: it notifies when an alert fires that was not notified
 *   firing, or (receivers with send_resolved) one resolved that was notified firing; an unchanged group with firing
 *   alerts notifies again {@code repeat_interval} after its last notification;</li>
 *   <li>a group left with no firing alert, whose resolutions are notified (or not wanted), is removed.</li>
 * </ul>
 * A notification is one {@code alert_outbox} row inserted in the transaction that claimed the group
 * ({@code FOR UPDATE SKIP LOCKED}) and records what it notified, so two alerters never both notify a group's change.
 * The outbox keeps at most {@code alerting.outbox-max-rows} rows per tenant: the oldest beyond are dropped, counted.
 */
final class Dispatcher {

    private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);

    private final PostgresCalls calls;
    private final NotifyStore store;
    private final AlertingConfig config;
    private final NotificationMetrics metrics;
    private final Supplier<MessageDigest> sha256;

    Dispatcher(PostgresCalls calls, AlertingConfig config, NotificationMetrics metrics,
               Supplier<MessageDigest> sha256) {
        this.calls = calls;
        this.store = new NotifyStore(calls);
        this.config = config;
        this.metrics = metrics;
        this.sha256 = sha256;
    }

    /** One group as the alerts say it should be now. */
    private record Candidate(Route route, String receiver, String key, SortedMap<String, String> labels,
                             List<Alert> alerts) {
        boolean firing() {
            return alerts.stream().anyMatch(Alert::firing);
        }
    }

    /** What one tenant's dispatch reads before its transaction. */
    private record Inputs(Map<String, Receiver> receivers, List<Route> routes, List<Silence> silences,
                          List<Alert> alerts) {
    }

    /** Every tenant with alerts or groups, one after the other; a tenant's failure is logged, not the round's. */
    Mono<Void> round(Instant now) {
        return calls.call("alerting.dispatch_tenants", many("SELECT tenant_id FROM alert_instances WHERE state IN "
                        + "('firing', 'resolved') UNION SELECT tenant_id FROM alert_groups", List.of(),
                        row -> row.get(0, String.class)))
                .flatMapMany(Flux::fromIterable)
                .concatMap(tenant -> tenant(tenant, now).onErrorResume(e -> {
                    log.warn("Notifications of tenant {} could not be dispatched this round: {}", tenant, e.toString());
                    return Mono.empty();
                }))
                .then(calls.call("alerting.outbox_size", many("SELECT count(*) FROM alert_outbox", List.of(),
                        row -> row.get(0, Long.class))).doOnNext(n -> metrics.outboxRows(n.get(0))).then());
    }

    Mono<Void> tenant(String tenant, Instant now) {
        Mono<Inputs> inputs = Mono.zip(store.receivers(tenant), store.routes(tenant),
                        store.silences(tenant, now), alerts(tenant))
                .map(t -> {
                    Map<String, Receiver> receivers = new LinkedHashMap<>();
                    t.getT1().forEach(r -> receivers.put(r.name(), r));
                    return new Inputs(receivers, t.getT2(), t.getT3(), t.getT4());
                });
        return inputs.flatMap(in -> {
            Map<String, Candidate> candidates;
            try {
                candidates = candidates(in, now);
            } catch (io.sluice.storage.query.QueryException e) {
                return Mono.error(new IllegalStateException("routing the alerts took longer than "
                        + "alerting.evaluation-timeout: a route's or a silence's regex backtracks too much", e));
            } catch (RuntimeException e) {
                return Mono.error(e);
            }
            return calls.call("alerting.dispatch", Mono.usingWhen(calls.connections().create(),
                    c -> Mono.from(c.beginTransaction())
                            .then(createGroups(c, tenant, candidates, now))
                            .then(due(c, tenant, now))
                            .flatMapMany(Flux::fromIterable)
                            .concatMap(g -> flush(c, tenant, g, candidates.get(g.receiver + '\0' + g.key),
                                    in.receivers().get(g.receiver), now))
                            .then(trim(c, tenant))
                            .then(Mono.from(c.commitTransaction())),
                    Connection::close, (c, e) -> Transactions.rollbackAndClose(c, calls.deadline()), c -> Transactions.rollbackAndClose(c, calls.deadline())));
        });
    }

    /**
     * Routes the alerts no silence mutes into groups. The tenant's regexes are matched within
     * {@code alerting.evaluation-timeout} in all (a catastrophic pattern fails this tenant's round, logged).
     */
    private Map<String, Candidate> candidates(Inputs in, Instant now) {
        long deadline = System.nanoTime() + config.evaluationTimeout().toNanos();
        Map<String, Candidate> groups = new LinkedHashMap<>();
        for (Alert alert : in.alerts()) {
            if (in.silences().stream().anyMatch(s -> s.mutes(alert.labels(), now, deadline))) {
                continue; // keeps its state; sends nothing
            }
            for (Route route : in.routes()) {
                if (!route.matches(alert.labels(), deadline)) {
                    continue;
                }
                SortedMap<String, String> labels = new TreeMap<>();
                for (String name : route.groupBy()) {
                    labels.put(name, alert.labels().getOrDefault(name, ""));
                }
                StringBuilder key = new StringBuilder(route.matcherKey()).append(":{");
                boolean first = true;
                for (Map.Entry<String, String> e : labels.entrySet()) {
                    key.append(first ? "" : ", ").append(LabelMatcher.of(e.getKey(), "=", e.getValue()));
                    first = false;
                }
                String groupKey = key.append('}').toString();
                groups.computeIfAbsent(route.receiver() + '\0' + groupKey,
                        k -> new Candidate(route, route.receiver(), groupKey, labels, new ArrayList<>()))
                        .alerts().add(alert);
                if (!route.continueMatching()) {
                    break;
                }
            }
        }
        return groups;
    }

    private Mono<Void> createGroups(Connection c, String tenant, Map<String, Candidate> candidates, Instant now) {
        // in one order on every alerter, so that two inserting the same new groups wait for, not deadlock on, each other
        return Flux.fromIterable(candidates.values())
                .filter(Candidate::firing)
                .sort(java.util.Comparator.comparing(g -> g.receiver() + '\0' + g.key()))
                .concatMap(g -> Flux.from(c.createStatement("INSERT INTO alert_groups (tenant_id, receiver, group_key, "
                                + "group_labels, first_seen_at, next_flush_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6) "
                                + "ON CONFLICT DO NOTHING")
                        .bind("$1", tenant).bind("$2", g.receiver()).bind("$3", g.key())
                        .bind("$4", JsonTree.write(j -> JsonTree.writeStrings(j, g.labels())))
                        .bind("$5", now).bind("$6", now.plus(g.route().groupWait())).execute())
                        .flatMap(r -> r.getRowsUpdated()))
                .then();
    }

    /** A group claimed for this transaction. */
    private record Group(String receiver, String key, Instant firstSeenAt, Instant lastSentAt,
                         Map<String, String> lastSent, long seq) {
    }

    private Mono<List<Group>> due(Connection c, String tenant, Instant now) {
        return Flux.from(c.createStatement("SELECT receiver, group_key, first_seen_at, last_sent_at, last_sent::text, "
                                + "send_seq FROM alert_groups WHERE tenant_id = $1 AND next_flush_at <= $2 "
                                + "ORDER BY next_flush_at FOR UPDATE SKIP LOCKED")
                        .bind("$1", tenant).bind("$2", now).execute())
                .flatMap(r -> r.map(row -> {
                    String sent = row.get(4, String.class);
                    Map<String, String> lastSent = sent == null ? Map.of()
                            : JsonTree.stringMap(JsonTree.parse(sent), "last_sent");
                    return new Group(row.get(0, String.class), row.get(1, String.class),
                            NotifyStore.instant(row, 2), NotifyStore.instant(row, 3), lastSent,
                            row.get(5, Long.class));
                }))
                .collectList();
    }

    private Mono<Void> flush(Connection c, String tenant, Group g, Candidate current, Receiver receiver, Instant now) {
        if (receiver == null || current == null) {
            return delete(c, tenant, g); // its receiver or its route is gone, or it has no alerts left
        }
        List<Alert> firing = new ArrayList<>();
        List<Alert> resolved = new ArrayList<>();
        for (Alert a : current.alerts()) {
            if (a.firing()) {
                firing.add(a);
            } else if (receiver.sendResolved() && g.lastSent().containsKey(a.fingerprintHex())) {
                resolved.add(a);
            }
        }
        boolean newlyFiring = firing.stream().anyMatch(a -> !Alert.FIRING.equals(g.lastSent().get(a.fingerprintHex())));
        boolean newlyResolved = resolved.stream()
                .anyMatch(a -> !Alert.RESOLVED.equals(g.lastSent().get(a.fingerprintHex())));
        if (firing.isEmpty() && !newlyResolved) {
            return delete(c, tenant, g); // all resolved and notified (or not to be)
        }
        Route route = current.route();
        boolean repeat = !firing.isEmpty() && g.lastSentAt() != null
                && !now.isBefore(g.lastSentAt().plus(route.repeatInterval()));
        Instant next = now.plus(route.groupInterval());
        if (!newlyFiring && !newlyResolved && !repeat) {
            Instant repeatAt = g.lastSentAt() == null ? next : g.lastSentAt().plus(route.repeatInterval());
            return reschedule(c, tenant, g, next.isBefore(repeatAt) ? next : repeatAt);
        }
        List<Alert> notified = new ArrayList<>(firing);
        notified.addAll(resolved);
        SortedMap<String, String> set = new TreeMap<>();
        notified.forEach(a -> set.put(a.fingerprintHex(), a.state()));
        long seq = g.seq() + 1;
        String key = idempotencyKey(tenant, g, set, seq);
        String payload = Payloads.render(new Payloads.Notification(tenant, receiver, g.key(), current.labels(), notified,
                key), config.externalUrl());
        Instant nextFlush = firing.isEmpty() ? next : min(next, now.plus(route.repeatInterval()));
        return Flux.from(c.createStatement("INSERT INTO alert_outbox (tenant_id, receiver, idempotency_key, payload, "
                                + "created_at, next_attempt_at) VALUES ($1, $2, $3, $4::jsonb, $5, $5)")
                        .bind("$1", tenant).bind("$2", g.receiver()).bind("$3", key).bind("$4", payload)
                        .bind("$5", now).execute())
                .flatMap(r -> r.getRowsUpdated())
                .thenMany(Flux.from(c.createStatement("UPDATE alert_groups SET last_sent = $4::jsonb, last_sent_at = $5, "
                                + "send_seq = $6, next_flush_at = $7 WHERE tenant_id = $1 AND receiver = $2 "
                                + "AND group_key = $3")
                        .bind("$1", tenant).bind("$2", g.receiver()).bind("$3", g.key())
                        .bind("$4", JsonTree.write(j -> JsonTree.writeStrings(j, set))).bind("$5", now)
                        .bind("$6", seq).bind("$7", nextFlush).execute()))
                .flatMap(r -> r.getRowsUpdated())
                .then()
                .doOnSuccess(v -> log.debug("Notifying {} of tenant {}: group {} ({} alerts, send {})", g.receiver(),
                        tenant, g.key(), notified.size(), seq));
    }

    private static Instant min(Instant a, Instant b) {
        return a.isBefore(b) ? a : b;
    }

    private Mono<Void> reschedule(Connection c, String tenant, Group g, Instant next) {
        return Flux.from(c.createStatement("UPDATE alert_groups SET next_flush_at = $4 WHERE tenant_id = $1 "
                                + "AND receiver = $2 AND group_key = $3")
                        .bind("$1", tenant).bind("$2", g.receiver()).bind("$3", g.key()).bind("$4", next).execute())
                .flatMap(r -> r.getRowsUpdated()).then();
    }

    private Mono<Void> delete(Connection c, String tenant, Group g) {
        return Flux.from(c.createStatement("DELETE FROM alert_groups WHERE tenant_id = $1 AND receiver = $2 "
                                + "AND group_key = $3")
                        .bind("$1", tenant).bind("$2", g.receiver()).bind("$3", g.key()).execute())
                .flatMap(r -> r.getRowsUpdated()).then();
    }

    /** Drops the tenant's oldest outbox rows beyond {@code alerting.outbox-max-rows}, counted per receiver. */
    private Mono<Void> trim(Connection c, String tenant) {
        return Flux.from(c.createStatement("DELETE FROM alert_outbox o USING (SELECT id FROM alert_outbox "
                                + "WHERE tenant_id = $1 ORDER BY id DESC OFFSET $2) doomed WHERE o.id = doomed.id "
                                + "RETURNING o.receiver")
                        .bind("$1", tenant).bind("$2", config.outboxMaxRows()).execute())
                .flatMap(r -> r.map(row -> row.get(0, String.class)))
                .doOnNext(receiver -> {
                    metrics.count(tenant, receiver, NotificationMetrics.DROPPED);
                    log.warn("Dropped a notification to {} of tenant {}: the outbox holds alerting.outbox-max-rows "
                            + "({}) rows", receiver, tenant, config.outboxMaxRows());
                })
                .then();
    }

    /**
     * A hash of the tenant, receiver, group (and when it was first seen, so that a group made again does not repeat
     * an old key), the notified (fingerprint, status) set and the send sequence: the same for every retry of one
     * notification, different for every other.
     */
    private String idempotencyKey(String tenant, Group g, SortedMap<String, String> set, long seq) {
        StringBuilder text = new StringBuilder().append(tenant).append('\0').append(g.receiver()).append('\0')
                .append(g.key()).append('\0').append(g.firstSeenAt()).append('\0').append(seq);
        set.forEach((fp, status) -> text.append('\0').append(fp).append('=').append(status));
        byte[] hash = sha256.get().digest(text.toString().getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(hash, 0, 16);
    }

    private Mono<List<Alert>> alerts(String tenant) {
        return calls.call("alerting.alerts", many("SELECT rule_id, fingerprint, labels::text, annotations::text, state, "
                        + "value, active_at, fired_at, resolved_at FROM alert_instances WHERE tenant_id = $1 "
                        + "AND state IN ('firing', 'resolved') ORDER BY rule_id, fingerprint", List.of(tenant),
                Dispatcher::alert));
    }

    private static Alert alert(Readable row) {
        return new Alert(row.get(0, Long.class), row.get(1, Long.class),
                JsonTree.stringMap(JsonTree.parse(row.get(2, String.class)), "labels"),
                JsonTree.stringMap(JsonTree.parse(row.get(3, String.class)), "annotations"),
                row.get(4, String.class), row.get(5, Double.class), NotifyStore.instant(row, 6),
                NotifyStore.instant(row, 7), NotifyStore.instant(row, 8));
    }

    private <T> Mono<List<T>> many(String sql, List<Object> binds, java.util.function.Function<Readable, T> mapper) {
        return Mono.usingWhen(calls.connections().create(),
                c -> Flux.from(NotifyStore.bind(c.createStatement(sql), binds).execute()).flatMap(r -> r.map(mapper))
                        .collectList(),
                Connection::close);
    }
}
