package io.sluice.storage.alerting;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Row;
import io.r2dbc.spi.Statement;
import io.sluice.storage.alerting.AlertStateMachine.Alert;
import io.sluice.storage.alerting.AlertStateMachine.Outcome;
import io.sluice.storage.alerting.AlertStateMachine.State;
import io.sluice.storage.alerting.AlertStateMachine.Transition;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.Transactions;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The evaluator's SQL (R2DBC, every call through {@link PostgresCalls} with its deadline): claiming due rules with a
 * lease and a new fencing token ({@link #claim}), and storing one evaluation — the rule's alerts, their history and
 * the rule's next slot and health — in one transaction that first checks the claim still holds ({@link #store}).
 */
public final class AlertStore {

    private static final String CLAIM = """
            UPDATE alert_rules r SET lease_owner = $1,
                   lease_until = $2::timestamptz + LEAST(r.interval_ms, $3) * interval '1 millisecond',
                   lease_token = r.lease_token + 1
            WHERE r.id IN (SELECT id FROM alert_rules WHERE next_eval_at <= $2 AND (lease_until IS NULL OR lease_until < $2)
                           ORDER BY next_eval_at LIMIT $4 FOR UPDATE SKIP LOCKED)
            RETURNING r.id, r.tenant_id, r.group_name, r.name, r.expr, r.query::text, r.op, r.threshold, r.for_ms,
                   r.keep_firing_for_ms, r.interval_ms, r.no_data,
                   (SELECT array_agg(key ORDER BY key) FROM jsonb_each_text(r.labels)),
                   (SELECT array_agg(value ORDER BY key) FROM jsonb_each_text(r.labels)),
                   (SELECT array_agg(key ORDER BY key) FROM jsonb_each_text(r.annotations)),
                   (SELECT array_agg(value ORDER BY key) FROM jsonb_each_text(r.annotations)),
                   r.version, r.lease_token, r.next_eval_at""";

    private static final String INSTANCES = """
            SELECT fingerprint,
                   (SELECT array_agg(key ORDER BY key) FROM jsonb_each_text(labels)),
                   (SELECT array_agg(value ORDER BY key) FROM jsonb_each_text(labels)),
                   (SELECT array_agg(key ORDER BY key) FROM jsonb_each_text(annotations)),
                   (SELECT array_agg(value ORDER BY key) FROM jsonb_each_text(annotations)),
                   state, value, active_at, fired_at, resolved_at, last_seen_at
            FROM alert_instances WHERE rule_id = $1""";

    private static final String MS = "(timestamptz 'epoch' + %s * interval '1 millisecond')";

    private static final String UPSERT = """
            INSERT INTO alert_instances (rule_id, fingerprint, tenant_id, labels, annotations, state, value, active_at,
                                         fired_at, resolved_at, last_seen_at, updated_at)
            SELECT $1, u.f, $2, u.l::jsonb, u.a::jsonb, u.s, u.v, %s, %s, %s, %s, $3
            FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::bigint[], $10::bigint[],
                        $11::bigint[], $12::bigint[]) AS u(f, l, a, s, v, aa, fa, ra, ls)
            ON CONFLICT (rule_id, fingerprint) DO UPDATE SET labels = excluded.labels,
                   annotations = excluded.annotations, state = excluded.state, value = excluded.value,
                   active_at = excluded.active_at, fired_at = excluded.fired_at, resolved_at = excluded.resolved_at,
                   last_seen_at = excluded.last_seen_at, updated_at = excluded.updated_at"""
            .formatted(MS.formatted("u.aa"), MS.formatted("u.fa"), MS.formatted("u.ra"), MS.formatted("u.ls"));

    private static final String HISTORY = """
            INSERT INTO alert_history (tenant_id, rule_id, fingerprint, labels, from_state, to_state, value, at)
            SELECT $1, $2, u.f, u.l::jsonb, u.fs, u.ts, u.v, $3
            FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::float8[]) AS u(f, l, fs, ts, v)""";

    private static final String FINISH = """
            UPDATE alert_rules SET next_eval_at = $2, last_eval_at = $3, last_eval_ms = $4, health = $5,
                   last_error = $6, lease_owner = NULL, lease_until = NULL
            WHERE id = $1""";

    private final PostgresCalls calls;
    private final Function<String, AlertRule.RuleQuery> queryDecoder;

    /**
     * @param queryDecoder reads a rule's {@code query} column (its JSON text) as the rules API stored it
     */
    public AlertStore(PostgresCalls calls, Function<String, AlertRule.RuleQuery> queryDecoder) {
        this.calls = calls;
        this.queryDecoder = queryDecoder;
    }

    /**
     * A claimed rule: the rule (null when its row could not be read: {@code unreadable} says why), the fencing token
     * and version it was claimed with, and when it was due.
     */
    public record Claim(long ruleId, String tenant, int version, long token, Instant dueAt, Duration interval,
                        AlertRule rule, String unreadable) {
    }

    /**
     * Claims up to {@code limit} rules due at {@code now} that no one holds, leasing each until
     * {@code now + min(interval, lease)} under a new fencing token.
     */
    public Mono<List<Claim>> claim(String node, Instant now, Duration lease, int limit) {
        return calls.call("alerting.claim", Mono.usingWhen(calls.connections().create(),
                c -> Flux.from(c.createStatement(CLAIM).bind("$1", node).bind("$2", now)
                                .bind("$3", lease.toMillis()).bind("$4", limit).execute())
                        .flatMap(r -> r.map((row, meta) -> claim(row)))
                        .collectList(),
                Connection::close));
    }

    private Claim claim(Row row) {
        long id = row.get(0, Long.class);
        String tenant = row.get(1, String.class);
        int version = row.get(16, Integer.class);
        long token = row.get(17, Long.class);
        Instant due = row.get(18, OffsetDateTime.class).toInstant();
        Duration interval = Duration.ofMillis(row.get(10, Long.class));
        try {
            String query = row.get(5, String.class);
            String op = row.get(6, String.class);
            AlertRule rule = new AlertRule(id, tenant, row.get(2, String.class), row.get(3, String.class),
                    row.get(4, String.class), query == null ? null : queryDecoder.apply(query),
                    op == null ? null : new AlertRule.Threshold(op, row.get(7, Double.class)),
                    Duration.ofMillis(row.get(8, Long.class)), Duration.ofMillis(row.get(9, Long.class)), interval,
                    AlertRule.NoData.valueOf(row.get(11, String.class).toUpperCase(Locale.ROOT)),
                    map(row.get(12, String[].class), row.get(13, String[].class)),
                    map(row.get(14, String[].class), row.get(15, String[].class)), version);
            return new Claim(id, tenant, version, token, due, interval, rule, null);
        } catch (RuntimeException e) {
            return new Claim(id, tenant, version, token, due, interval, null, "rule cannot be read: " + e.getMessage());
        }
    }

    /** How an evaluation ended, for the rule row. */
    /**
     * @param nextEvalAt   the rule's next slot
     * @param evaluatedAt  the slot evaluated (the time of the query, of the transitions and of {@code last_eval_at})
     * @param evaluationMs how long the evaluation took
     * @param error        why it failed, or null
     * @param now          the evaluator's clock when storing ({@code alert_instances.updated_at})
     */
    public record Finish(Instant nextEvalAt, Instant evaluatedAt, int evaluationMs, String error, Instant now) {
        Finish failed(String why) {
            return new Finish(nextEvalAt, evaluatedAt, evaluationMs, why, now);
        }

    }

    /** What {@link #store} did. */
    public enum Stored {
        /** The alerts, history and rule row were written. */
        OK,
        /** The evaluation succeeded but its alerts could not be formed (the state machine refused it): health=error. */
        ERROR,
        /** The claim no longer held (lease taken over, rule updated or deleted): nothing was written. */
        FENCED
    }

    /**
     * In one transaction: checks the rule still carries the claim's token and version (locking its row), then — when
     * {@code evaluation} is given — loads the rule's alerts, applies it and writes the alerts that changed, the rows
     * to delete and the transitions, and finally the rule's next slot, health and last evaluation, releasing the lease.
     * With {@code evaluation} null (the evaluation failed: {@code finish.error} says why) only the rule row is written.
     */
    public Mono<Stored> store(Claim claim, Function<Map<Long, Alert>, Outcome> evaluation, Finish finish) {
        return calls.call("alerting.store", Mono.usingWhen(calls.connections().create(),
                c -> Mono.from(c.beginTransaction())
                        .then(Flux.from(c.createStatement(
                                        "SELECT lease_token, version FROM alert_rules WHERE id = $1 FOR UPDATE")
                                        .bind("$1", claim.ruleId()).execute())
                                .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class) != claim.token() ? Claimed.LOST
                                        : row.get(1, Integer.class) == claim.version() ? Claimed.HELD : Claimed.UPDATED))
                                .next().defaultIfEmpty(Claimed.LOST))
                        .flatMap(claimed -> switch (claimed) {
                            case HELD -> write(c, claim, evaluation, finish);
                            // still ours, but the rule changed: give the lease up, so the new version is evaluated
                            // at the next poll rather than once the lease ends
                            case UPDATED -> Flux.from(c.createStatement(
                                            "UPDATE alert_rules SET lease_owner = NULL, lease_until = NULL WHERE id = $1")
                                            .bind("$1", claim.ruleId()).execute())
                                    .flatMap(r -> r.getRowsUpdated()).then(Mono.from(c.commitTransaction()))
                                    .thenReturn(Stored.FENCED);
                            case LOST -> Mono.from(c.rollbackTransaction()).thenReturn(Stored.FENCED);
                        }),
                Connection::close,
                (c, error) -> Transactions.rollbackAndClose(c),
                Transactions::rollbackAndClose));
    }

    /** Whether a claim still holds when its evaluation is stored. */
    private enum Claimed {
        HELD, UPDATED, LOST
    }

    private Mono<Stored> write(Connection c, Claim claim, Function<Map<Long, Alert>, Outcome> evaluation,
                               Finish finish) {
        if (evaluation == null) {
            return finish(c, claim, finish).then(Mono.from(c.commitTransaction())).thenReturn(Stored.OK);
        }
        return Flux.from(c.createStatement(INSTANCES).bind("$1", claim.ruleId()).execute())
                .flatMap(r -> r.map((row, meta) -> alert(row)))
                .collectMap(Alert::fingerprint, a -> a, LinkedHashMap::new)
                // the state machine runs here, on the driver's thread, inside the transaction: CPU only, bounded by
                // query.max-series. (Statements must not be sent from Reactor's parallel threads: the driver parks.)
                .flatMap(current -> {
                    Outcome outcome;
                    try {
                        outcome = evaluation.apply(current);
                    } catch (AlertEvaluationException e) {
                        return finish(c, claim, finish.failed(e.getMessage())).then(Mono.from(c.commitTransaction()))
                                .thenReturn(Stored.ERROR);
                    }
                    return delete(c, claim, outcome.deleted())
                            .then(upsert(c, claim, current, outcome.alerts(), finish.now()))
                            .then(history(c, claim, outcome.transitions(), finish.evaluatedAt()))
                            .then(finish(c, claim, finish))
                            .then(Mono.from(c.commitTransaction()))
                            .thenReturn(Stored.OK);
                });
    }

    private static Mono<Void> delete(Connection c, Claim claim, List<Long> deleted) {
        if (deleted.isEmpty()) {
            return Mono.empty();
        }
        return Flux.from(c.createStatement("DELETE FROM alert_instances WHERE rule_id = $1 AND fingerprint = ANY($2)")
                        .bind("$1", claim.ruleId()).bind("$2", deleted.toArray(Long[]::new)).execute())
                .flatMap(r -> r.getRowsUpdated()).then();
    }

    private static Mono<Void> upsert(Connection c, Claim claim, Map<Long, Alert> before, Map<Long, Alert> after,
                                     Instant now) {
        List<Alert> changed = new ArrayList<>();
        for (Alert a : after.values()) {
            if (!a.equals(before.get(a.fingerprint()))) {
                changed.add(a);
            }
        }
        if (changed.isEmpty()) {
            return Mono.empty();
        }
        int n = changed.size();
        Long[] fingerprints = new Long[n];
        String[] labels = new String[n];
        String[] annotations = new String[n];
        String[] states = new String[n];
        Double[] values = new Double[n];
        Long[] activeAt = new Long[n];
        Long[] firedAt = new Long[n];
        Long[] resolvedAt = new Long[n];
        Long[] lastSeenAt = new Long[n];
        for (int i = 0; i < n; i++) {
            Alert a = changed.get(i);
            fingerprints[i] = a.fingerprint();
            labels[i] = json(a.labels());
            annotations[i] = json(a.annotations());
            states[i] = a.state().sql();
            values[i] = a.value();
            activeAt[i] = a.activeAt().toEpochMilli();
            firedAt[i] = millis(a.firedAt());
            resolvedAt[i] = millis(a.resolvedAt());
            lastSeenAt[i] = a.lastSeenAt().toEpochMilli();
        }
        Statement s = c.createStatement(UPSERT).bind("$1", claim.ruleId()).bind("$2", claim.tenant())
                .bind("$3", now).bind("$4", fingerprints).bind("$5", labels).bind("$6", annotations)
                .bind("$7", states).bind("$8", values).bind("$9", activeAt).bind("$10", firedAt)
                .bind("$11", resolvedAt).bind("$12", lastSeenAt);
        return Flux.from(s.execute()).flatMap(r -> r.getRowsUpdated()).then();
    }

    private static Mono<Void> history(Connection c, Claim claim, List<Transition> transitions, Instant at) {
        if (transitions.isEmpty()) {
            return Mono.empty();
        }
        int n = transitions.size();
        Long[] fingerprints = new Long[n];
        String[] labels = new String[n];
        String[] from = new String[n];
        String[] to = new String[n];
        Double[] values = new Double[n];
        for (int i = 0; i < n; i++) {
            Transition t = transitions.get(i);
            fingerprints[i] = t.fingerprint();
            labels[i] = json(t.labels());
            from[i] = t.from().sql();
            to[i] = t.to().sql();
            values[i] = t.value();
        }
        return Flux.from(c.createStatement(HISTORY).bind("$1", claim.tenant()).bind("$2", claim.ruleId())
                        .bind("$3", at).bind("$4", fingerprints).bind("$5", labels).bind("$6", from).bind("$7", to)
                        .bind("$8", values).execute())
                .flatMap(r -> r.getRowsUpdated()).then();
    }

    private static Mono<Void> finish(Connection c, Claim claim, Finish finish) {
        Statement s = c.createStatement(FINISH).bind("$1", claim.ruleId()).bind("$2", finish.nextEvalAt())
                .bind("$3", finish.evaluatedAt()).bind("$4", finish.evaluationMs())
                .bind("$5", finish.error() == null ? "ok" : "error");
        if (finish.error() == null) {
            s.bindNull("$6", String.class);
        } else {
            s.bind("$6", finish.error());
        }
        return Flux.from(s.execute()).flatMap(r -> r.getRowsUpdated()).then();
    }

    /**
     * Gives up this node's leases (a graceful stop), so that other alerters claim its rules at their next poll
     * instead of once the leases end. Tokens are left as they are: an evaluation of this node still storing is
     * stored or fenced as before.
     */
    public Mono<Long> release(String node) {
        return calls.call("alerting.release", Mono.usingWhen(calls.connections().create(),
                c -> Flux.from(c.createStatement(
                                "UPDATE alert_rules SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1")
                                .bind("$1", node).execute())
                        .flatMap(r -> r.getRowsUpdated()).reduce(0L, Long::sum),
                Connection::close));
    }

    private static Alert alert(Row row) {
        return new Alert(row.get(0, Long.class), map(row.get(1, String[].class), row.get(2, String[].class)),
                map(row.get(3, String[].class), row.get(4, String[].class)), State.parse(row.get(5, String.class)),
                value(row.get(6, Double.class)), instant(row.get(7, OffsetDateTime.class)),
                instant(row.get(8, OffsetDateTime.class)), instant(row.get(9, OffsetDateTime.class)),
                instant(row.get(10, OffsetDateTime.class)));
    }

    private static double value(Double v) {
        return v == null ? Double.NaN : v;
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }

    private static Long millis(Instant t) {
        return t == null ? null : t.toEpochMilli();
    }

    private static SortedMap<String, String> map(String[] keys, String[] values) {
        SortedMap<String, String> map = new TreeMap<>();
        if (keys != null) {
            for (int i = 0; i < keys.length; i++) {
                map.put(keys[i], values[i]);
            }
        }
        return map;
    }

    /** A JSON object of string values (the jsonb columns' text). */
    static String json(SortedMap<String, String> map) {
        StringBuilder out = new StringBuilder(16 + map.size() * 24).append('{');
        boolean first = true;
        for (Map.Entry<String, String> e : map.entrySet()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            string(out, e.getKey());
            out.append(':');
            string(out, e.getValue());
        }
        return out.append('}').toString();
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (ch < 0x20) {
                        out.append(String.format("\\u%04x", (int) ch));
                    } else {
                        out.append(ch);
                    }
                }
            }
        }
        out.append('"');
    }
}
