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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * The evaluator's SQL (R2DBC, every call through {@link PostgresCalls} with its deadline): claiming due rules with a
 * lease and a new fencing token ({@link #claim}), and storing evaluations — each rule's alerts, their history and
 * the rule's next slot and health — in one transaction that first checks the claims still hold ({@link #storeAll}).
 * A batch of evaluations costs the same few round trips as one: every statement of that transaction is set-based
 * (arrays bound as parameters and unnested), so the alerter's throughput is not bound by round trips to PostgreSQL.
 */
public final class AlertStore {

    private static final Logger log = LoggerFactory.getLogger(AlertStore.class);

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

    /**
     * Locks the rows of a batch's rules in the order of their ids, so that two batches over the same rules (of this
     * alerter or another) take their locks in the same order and cannot deadlock; a rule with no row is gone.
     */
    private static final String LOCK = """
            SELECT id, lease_token, version FROM alert_rules WHERE id = ANY($1) ORDER BY id FOR UPDATE""";

    private static final String INSTANCES = """
            SELECT fingerprint,
                   (SELECT array_agg(key ORDER BY key) FROM jsonb_each_text(labels)),
                   (SELECT array_agg(value ORDER BY key) FROM jsonb_each_text(labels)),
                   (SELECT array_agg(key ORDER BY key) FROM jsonb_each_text(annotations)),
                   (SELECT array_agg(value ORDER BY key) FROM jsonb_each_text(annotations)),
                   state, value, active_at, fired_at, resolved_at, last_seen_at, rule_id
            FROM alert_instances WHERE rule_id = ANY($1)""";

    /** Milliseconds since the epoch (a bigint expression) as a timestamptz. */
    private static final String MS = "(timestamptz 'epoch' + %s * interval '1 millisecond')";
    /** Microseconds since the epoch (a bigint expression) as a timestamptz: an {@link Instant} as PostgreSQL keeps it. */
    private static final String US = "(timestamptz 'epoch' + %s * interval '1 microsecond')";

    private static final String DELETE = """
            DELETE FROM alert_instances i USING unnest($1::bigint[], $2::bigint[]) AS u(r, f)
            WHERE i.rule_id = u.r AND i.fingerprint = u.f""";

    private static final String UPSERT = """
            INSERT INTO alert_instances (rule_id, fingerprint, tenant_id, labels, annotations, state, value, active_at,
                                         fired_at, resolved_at, last_seen_at, updated_at)
            SELECT u.r, u.f, u.t, u.l::jsonb, u.a::jsonb, u.s, u.v, %s, %s, %s, %s, %s
            FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[],
                        $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])
                 AS u(r, f, t, l, a, s, v, aa, fa, ra, ls, n)
            ON CONFLICT (rule_id, fingerprint) DO UPDATE SET labels = excluded.labels,
                   annotations = excluded.annotations, state = excluded.state, value = excluded.value,
                   active_at = excluded.active_at, fired_at = excluded.fired_at, resolved_at = excluded.resolved_at,
                   last_seen_at = excluded.last_seen_at, updated_at = excluded.updated_at"""
            .formatted(MS.formatted("u.aa"), MS.formatted("u.fa"), MS.formatted("u.ra"), MS.formatted("u.ls"),
                    US.formatted("u.n"));

    private static final String HISTORY = """
            INSERT INTO alert_history (tenant_id, rule_id, fingerprint, labels, from_state, to_state, value, at)
            SELECT u.t, u.r, u.f, u.l::jsonb, u.fs, u.ts, u.v, %s
            FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::float8[],
                        $8::bigint[]) AS u(t, r, f, l, fs, ts, v, at)""".formatted(US.formatted("u.at"));

    private static final String FINISH = """
            UPDATE alert_rules r SET next_eval_at = %s, last_eval_at = %s, last_eval_ms = u.ms, health = u.h,
                   last_error = u.e, lease_owner = NULL, lease_until = NULL
            FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::text[], $6::text[])
                 AS u(id, n, a, ms, h, e)
            WHERE r.id = u.id""".formatted(US.formatted("u.n"), US.formatted("u.a"));

    private static final String RELEASE = """
            UPDATE alert_rules SET lease_owner = NULL, lease_until = NULL WHERE id = ANY($1)""";

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

    /**
     * How an evaluation ended, for the rule row.
     *
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

    /** What storing an evaluation did ({@link #storeAll}). */
    public enum Stored {
        /** The alerts, history and rule row were written. */
        OK,
        /** The evaluation succeeded but its alerts could not be formed (the state machine refused it): health=error. */
        ERROR,
        /** The claim no longer held (lease taken over, rule updated or deleted): nothing was written. */
        FENCED
    }

    /**
     * One evaluation to store: its claim, the state machine to apply to the rule's alerts (by fingerprint), or null
     * when the evaluation failed ({@code finish.error} says why: only the rule row is written), and how it ended.
     */
    public record Pending(Claim claim, Function<Map<Long, Alert>, Outcome> evaluation, Finish finish) {
    }

    /**
     * Stores a batch of evaluations in one transaction of set-based statements, however many rules it holds: locks
     * the rules' rows (in id order) and checks which claims still hold; loads the alerts of the rules still held
     * that have an evaluation, applies each rule's evaluation to its own alerts (an {@link AlertEvaluationException}
     * marks only that rule {@code health = error}), then writes the alerts that changed, the rows to delete and the
     * transitions of all of them, and each held rule's next slot, health and last evaluation, releasing its lease.
     * A claim whose rule changed (version) only gives its lease up; one whose token moved or whose rule is gone
     * writes nothing. Completes with each evaluation's {@link Stored}, in the batch's order; fails as a whole
     * (nothing written) when PostgreSQL fails.
     */
    public Mono<List<Stored>> storeAll(List<Pending> batch) {
        if (batch.isEmpty()) {
            return Mono.just(List.of());
        }
        List<Pending> pendings = List.copyOf(batch);
        Long[] ids = pendings.stream().map(p -> p.claim().ruleId()).distinct().toArray(Long[]::new);
        return calls.call("alerting.store", Mono.usingWhen(calls.connections().create(),
                c -> Mono.from(c.beginTransaction())
                        .then(Flux.from(c.createStatement(LOCK).bind("$1", ids).execute())
                                .flatMap(r -> r.map((row, meta) -> new Locked(row.get(0, Long.class),
                                        row.get(1, Long.class), row.get(2, Integer.class))))
                                .collectMap(Locked::id))
                        .flatMap(locked -> write(c, pendings, classify(pendings, locked))),
                Connection::close,
                (c, error) -> Transactions.rollbackAndClose(c, calls.deadline()),
                c -> Transactions.rollbackAndClose(c, calls.deadline())));
    }

    /** A rule's row as {@link #LOCK} found it. */
    private record Locked(long id, long token, int version) {
    }

    /** Whether a claim still holds when its evaluation is stored. */
    private enum Claimed {
        /** Its token and version are the rule's: the evaluation is stored. */
        HELD,
        /** Still ours, but the rule changed: the lease is given up so that the new version is evaluated at the next
         * poll rather than once the lease ends. */
        UPDATED,
        /** The token moved on (lease taken over) or the rule is gone: nothing is written. */
        LOST
    }

    private static Claimed[] classify(List<Pending> pendings, Map<Long, Locked> locked) {
        Claimed[] claimed = new Claimed[pendings.size()];
        Set<Long> taken = new HashSet<>();
        for (int i = 0; i < claimed.length; i++) {
            Claim claim = pendings.get(i).claim();
            Locked row = locked.get(claim.ruleId());
            if (row == null || row.token() != claim.token() || !taken.add(claim.ruleId())) {
                claimed[i] = Claimed.LOST; // a second evaluation of one rule in a batch is a stale one: fenced
            } else {
                claimed[i] = row.version() == claim.version() ? Claimed.HELD : Claimed.UPDATED;
            }
        }
        return claimed;
    }

    private Mono<List<Stored>> write(Connection c, List<Pending> pendings, Claimed[] claimed) {
        List<Long> evaluated = new ArrayList<>();
        boolean writes = false;
        for (int i = 0; i < claimed.length; i++) {
            writes |= claimed[i] != Claimed.LOST;
            if (claimed[i] == Claimed.HELD && pendings.get(i).evaluation() != null) {
                evaluated.add(pendings.get(i).claim().ruleId());
            }
        }
        if (!writes) {
            List<Stored> fenced = Collections.nCopies(claimed.length, Stored.FENCED);
            return Mono.from(c.rollbackTransaction()).thenReturn(fenced);
        }
        Mono<Map<Long, Map<Long, Alert>>> current = evaluated.isEmpty() ? Mono.just(Map.of())
                : Flux.from(c.createStatement(INSTANCES).bind("$1", evaluated.toArray(Long[]::new)).execute())
                .flatMap(r -> r.map((row, meta) -> Map.entry(row.get(11, Long.class), alert(row))))
                .collect(HashMap::new, (byRule, e) -> byRule.computeIfAbsent(e.getKey(), id -> new LinkedHashMap<>())
                        .put(e.getValue().fingerprint(), e.getValue()));
        // the state machines run here, on the driver's thread, inside the transaction: CPU only, bounded by
        // query.max-series a rule. (Statements must not be sent from Reactor's parallel threads: the driver parks.)
        return current.flatMap(alerts -> {
            Writes w = new Writes();
            List<Stored> stored = new ArrayList<>(claimed.length);
            for (int i = 0; i < claimed.length; i++) {
                stored.add(apply(pendings.get(i), claimed[i], alerts, w));
            }
            return w.execute(c).then(Mono.from(c.commitTransaction())).thenReturn(List.copyOf(stored));
        });
    }

    /** Applies one evaluation of a batch to its rule's alerts, adding what it writes to {@code w}. */
    private static Stored apply(Pending p, Claimed claimed, Map<Long, Map<Long, Alert>> alerts, Writes w) {
        Claim claim = p.claim();
        switch (claimed) {
            case LOST:
                return Stored.FENCED;
            case UPDATED:
                w.released.add(claim.ruleId());
                return Stored.FENCED;
            case HELD:
            default:
                break;
        }
        if (p.evaluation() == null) {
            w.finish(claim, p.finish());
            return Stored.OK;
        }
        Map<Long, Alert> before = alerts.getOrDefault(claim.ruleId(), new LinkedHashMap<>());
        Outcome outcome;
        try {
            outcome = p.evaluation().apply(before);
        } catch (AlertEvaluationException e) {
            w.finish(claim, p.finish().failed(e.getMessage()));
            return Stored.ERROR;
        } catch (RuntimeException e) {
            // a fault of this rule's evaluation alone: it must not cost the rest of the batch their evaluations
            log.warn("Alert rule {}: its evaluation failed", claim.ruleId(), e);
            String why = "evaluation failed: " + e;
            w.finish(claim, p.finish().failed(why.length() > 1_000 ? why.substring(0, 1_000) + "…" : why));
            return Stored.ERROR;
        }
        for (long fingerprint : outcome.deleted()) {
            w.deleted(claim.ruleId(), fingerprint);
        }
        for (Alert a : outcome.alerts().values()) {
            if (!a.equals(before.get(a.fingerprint()))) {
                w.upsert(claim, a, p.finish().now());
            }
        }
        for (Transition t : outcome.transitions()) {
            w.history(claim, t, p.finish().evaluatedAt());
        }
        w.finish(claim, p.finish());
        return Stored.OK;
    }

    /**
     * What a batch writes, gathered as the columns of its statements (one array a column, unnested by PostgreSQL):
     * one statement for each kind of write, none when there is nothing of that kind.
     */
    private static final class Writes {
        private final List<Long> deleteRules = new ArrayList<>();
        private final List<Long> deleteFingerprints = new ArrayList<>();
        private final List<Object[]> upserts = new ArrayList<>();
        private final List<Object[]> history = new ArrayList<>();
        private final List<Object[]> finishes = new ArrayList<>();
        private final List<Long> released = new ArrayList<>();

        void deleted(long rule, long fingerprint) {
            deleteRules.add(rule);
            deleteFingerprints.add(fingerprint);
        }

        void upsert(Claim claim, Alert a, Instant now) {
            upserts.add(new Object[] {claim.ruleId(), a.fingerprint(), claim.tenant(), json(a.labels()),
                    json(a.annotations()), a.state().sql(), a.value(), a.activeAt().toEpochMilli(), millis(a.firedAt()),
                    millis(a.resolvedAt()), a.lastSeenAt().toEpochMilli(), micros(now)});
        }

        void history(Claim claim, Transition t, Instant at) {
            history.add(new Object[] {claim.tenant(), claim.ruleId(), t.fingerprint(), json(t.labels()),
                    t.from().sql(), t.to().sql(), t.value(), micros(at)});
        }

        void finish(Claim claim, Finish finish) {
            finishes.add(new Object[] {claim.ruleId(), micros(finish.nextEvalAt()), micros(finish.evaluatedAt()),
                    finish.evaluationMs(), finish.error() == null ? "ok" : "error", finish.error()});
        }

        /** The statements, one after the other on the transaction's connection. */
        Mono<Void> execute(Connection c) {
            return Mono.defer(() -> deleteRules.isEmpty() ? Mono.empty()
                            : update(c.createStatement(DELETE).bind("$1", deleteRules.toArray(Long[]::new))
                            .bind("$2", deleteFingerprints.toArray(Long[]::new))))
                    .then(Mono.defer(() -> upserts.isEmpty() ? Mono.empty() : update(bind(c.createStatement(UPSERT),
                            upserts, Long[]::new, Long[]::new, String[]::new, String[]::new, String[]::new,
                            String[]::new, Double[]::new, Long[]::new, Long[]::new, Long[]::new, Long[]::new,
                            Long[]::new))))
                    .then(Mono.defer(() -> history.isEmpty() ? Mono.empty() : update(bind(c.createStatement(HISTORY),
                            history, String[]::new, Long[]::new, Long[]::new, String[]::new, String[]::new,
                            String[]::new, Double[]::new, Long[]::new))))
                    .then(Mono.defer(() -> finishes.isEmpty() ? Mono.empty() : update(bind(c.createStatement(FINISH),
                            finishes, Long[]::new, Long[]::new, Long[]::new, Integer[]::new, String[]::new,
                            String[]::new))))
                    .then(Mono.defer(() -> released.isEmpty() ? Mono.empty()
                            : update(c.createStatement(RELEASE).bind("$1", released.toArray(Long[]::new)))));
        }

        /** Binds column {@code j} of {@code rows} as the array {@code $j+1}, of the type {@code arrays[j]} makes. */
        @SafeVarargs
        private static Statement bind(Statement s, List<Object[]> rows, IntFunction<? extends Object[]>... arrays) {
            for (int j = 0; j < arrays.length; j++) {
                Object[] column = arrays[j].apply(rows.size());
                for (int i = 0; i < column.length; i++) {
                    column[i] = rows.get(i)[j];
                }
                s.bind("$" + (j + 1), column);
            }
            return s;
        }

        private static Mono<Void> update(Statement s) {
            return Flux.from(s.execute()).flatMap(r -> r.getRowsUpdated()).then();
        }
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

    /** An instant in microseconds since the epoch, the precision of a timestamptz. */
    private static long micros(Instant t) {
        return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000L), t.getNano() / 1_000);
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
