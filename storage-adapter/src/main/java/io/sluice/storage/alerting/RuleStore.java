package io.sluice.storage.alerting;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.R2dbcDataIntegrityViolationException;
import io.r2dbc.spi.Readable;
import io.r2dbc.spi.Statement;
import io.sluice.storage.alerting.AlertRule.NoData;
import io.sluice.storage.alerting.AlertRule.Threshold;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.Transactions;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;

/**
 * Alert rules in PostgreSQL ({@code alert_rules}, migration V9), through R2DBC; every call has the
 * {@link PostgresCalls} deadline. Creating and importing hold a per-tenant advisory lock for their transaction, so
 * that {@code alerting.max-rules-per-tenant} holds under concurrent requests. Deleting a rule resolves its firing
 * alerts and ends its pending ones in the same transaction (with their history rows), so receivers still hear that
 * they resolved; updating keeps the rule's schedule and bumps its version.
 */
public final class RuleStore {

    static final String COLUMNS = "id, tenant_id, group_name, name, expr, query::text, op, threshold, for_ms, "
            + "keep_firing_for_ms, interval_ms, no_data, labels::text, annotations::text, version, created_at, "
            + "updated_at, health, last_eval_at, last_eval_ms, last_error";
    private static final String VALUES = "$1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12::jsonb, "
            + "$13::jsonb";

    /** An upsert's conflict clause: the rule's fields replaced, and its version bumped, only when one changed. */
    private static final String ON_CONFLICT = "ON CONFLICT (tenant_id, group_name, name) DO UPDATE SET (expr, query, "
            + "op, threshold, for_ms, keep_firing_for_ms, interval_ms, no_data, labels, annotations) = "
            + "(EXCLUDED.expr, EXCLUDED.query, EXCLUDED.op, EXCLUDED.threshold, EXCLUDED.for_ms, "
            + "EXCLUDED.keep_firing_for_ms, EXCLUDED.interval_ms, EXCLUDED.no_data, EXCLUDED.labels, "
            + "EXCLUDED.annotations), version = alert_rules.version + 1, updated_at = now() "
            + "WHERE (alert_rules.expr, alert_rules.query, alert_rules.op, alert_rules.threshold, "
            + "alert_rules.for_ms, alert_rules.keep_firing_for_ms, alert_rules.interval_ms, "
            + "alert_rules.no_data, alert_rules.labels, alert_rules.annotations) IS DISTINCT FROM "
            + "(EXCLUDED.expr, EXCLUDED.query, EXCLUDED.op, EXCLUDED.threshold, EXCLUDED.for_ms, "
            + "EXCLUDED.keep_firing_for_ms, EXCLUDED.interval_ms, EXCLUDED.no_data, EXCLUDED.labels, "
            + "EXCLUDED.annotations) RETURNING (xmax = 0)";

    private final PostgresCalls calls;
    private final ConnectionFactory connections;
    private final int maxRulesPerTenant;
    private final int maxListedAlerts;

    /**
     * @param maxRulesPerTenant {@code alerting.max-rules-per-tenant}
     * @param maxListedAlerts   {@code alerting.max-listed-alerts}: most alerts {@link #activeAlerts} lists
     */
    public RuleStore(PostgresCalls calls, int maxRulesPerTenant, int maxListedAlerts) {
        this.calls = calls;
        this.connections = calls.connections();
        this.maxRulesPerTenant = maxRulesPerTenant;
        this.maxListedAlerts = maxListedAlerts;
    }

    /** Another rule of the tenant has this group and name (409). */
    public static final class DuplicateRuleException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public DuplicateRuleException(String group, String name) {
            super("a rule named \"" + name + "\" already exists in group \"" + group + "\"", null, false, false);
        }
    }

    /** The tenant would have more than {@code alerting.max-rules-per-tenant} rules (422). */
    public static final class TooManyRulesException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public TooManyRulesException(int max, long wouldHave) {
            super("a tenant may have at most " + max + " alert rules (alerting.max-rules-per-tenant); this would make "
                    + wouldHave, null, false, false);
        }
    }

    /** What an import changed. */
    public record ImportResult(int created, int updated, int unchanged, int deleted) {
    }

    public int maxRulesPerTenant() {
        return maxRulesPerTenant;
    }

    /** Stores a new rule; fails with {@link DuplicateRuleException} or {@link TooManyRulesException}. */
    public Mono<StoredRule> create(AlertRule rule) {
        // inserted first, so a duplicate is a duplicate even at the limit; counted after, under the tenant's lock
        return inTransaction("alert_rules.create", c -> Transactions.lockTenant(c, "alert_rules", rule.tenant())
                .then(Flux.from(bindRule(c.createStatement("INSERT INTO alert_rules (tenant_id, group_name, name, "
                                + "expr, query, op, threshold, for_ms, keep_firing_for_ms, interval_ms, no_data, labels, "
                                + "annotations) VALUES (" + VALUES + ") RETURNING " + COLUMNS), rule).execute())
                        .flatMap(r -> r.map(RuleStore::stored)).next())
                .flatMap(stored -> count(c, rule.tenant()).flatMap(n -> n > maxRulesPerTenant
                        ? Mono.error(new TooManyRulesException(maxRulesPerTenant, n)) : Mono.just(stored))))
                .onErrorMap(e -> duplicate(e, rule));
    }

    /** A tenant's rule, or empty. */
    public Mono<StoredRule> get(String tenant, long id) {
        return calls.call("alert_rules.get", Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("SELECT " + COLUMNS + " FROM alert_rules WHERE id = $1 AND "
                        + "tenant_id = $2").bind("$1", id).bind("$2", tenant).execute())
                        .flatMap(r -> r.map(RuleStore::stored)).next(),
                Connection::close));
    }

    /** A tenant's rules (of one group when {@code group} is not null), by group and name; at most the per-tenant limit. */
    public Mono<List<StoredRule>> list(String tenant, String group) {
        String sql = "SELECT " + COLUMNS + " FROM alert_rules WHERE tenant_id = $1"
                + (group == null ? "" : " AND group_name = $2") + " ORDER BY group_name, name, id LIMIT "
                + maxRulesPerTenant;
        return calls.call("alert_rules.list", Mono.usingWhen(connections.create(), c -> {
            Statement s = c.createStatement(sql).bind("$1", tenant);
            if (group != null) {
                s.bind("$2", group);
            }
            return Flux.from(s.execute()).flatMap(r -> r.map(RuleStore::stored)).collectList();
        }, Connection::close));
    }

    /** A pending or firing alert, as read for listing. */
    public record ActiveAlert(long ruleId, java.util.SortedMap<String, String> labels,
                              java.util.SortedMap<String, String> annotations, String state, Double value,
                              java.time.Instant activeAt) {
    }

    /** A tenant's pending and firing alerts by rule, at most {@code alerting.max-listed-alerts}. */
    public Mono<List<ActiveAlert>> activeAlerts(String tenant) {
        return calls.call("alert_instances.list", Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("SELECT rule_id, labels::text, annotations::text, state, value, "
                                + "active_at FROM alert_instances WHERE tenant_id = $1 AND state IN ('pending', "
                                + "'firing') ORDER BY rule_id, fingerprint LIMIT $2")
                        .bind("$1", tenant).bind("$2", maxListedAlerts).execute())
                        .flatMap(r -> r.map(row -> new ActiveAlert(row.get(0, Long.class),
                                RuleJson.parseMap(row.get(1, String.class)), RuleJson.parseMap(row.get(2, String.class)),
                                row.get(3, String.class), row.get(4, Double.class),
                                row.get(5, OffsetDateTime.class).toInstant())))
                        .collectList(),
                Connection::close));
    }

    /**
     * Replaces a tenant's rule (every field but its id and schedule), bumping its version; empty when the tenant
     * has no such rule. Fails with {@link DuplicateRuleException} when the new group and name are another rule's.
     */
    public Mono<StoredRule> update(long id, AlertRule rule) {
        return calls.call("alert_rules.update", Mono.usingWhen(connections.create(),
                c -> Flux.from(bindRule(c.createStatement("UPDATE alert_rules SET (tenant_id, group_name, name, expr, "
                                + "query, op, threshold, for_ms, keep_firing_for_ms, interval_ms, no_data, labels, "
                                + "annotations) = (" + VALUES + "), version = version + 1, updated_at = now() "
                                + "WHERE id = $14 AND tenant_id = $1 RETURNING " + COLUMNS), rule)
                        .bind("$14", id).execute()).flatMap(r -> r.map(RuleStore::stored)).next(),
                Connection::close)).onErrorMap(e -> duplicate(e, rule));
    }

    /** Deletes a tenant's rule, resolving its alerts; false when the tenant has no such rule. */
    public Mono<Boolean> delete(String tenant, long id) {
        return inTransaction("alert_rules.delete", c -> deleteRules(c, tenant, List.of(id)).map(n -> n > 0));
    }

    /**
     * Replaces the tenant's rule groups named in a rule file by the file's rules, in one transaction: rules of those
     * groups are created, updated (version bumped only when something changed) or, when absent from the file,
     * deleted as {@link #delete} does. Other groups are untouched.
     */
    public Mono<ImportResult> replaceGroups(String tenant, List<String> groups, List<AlertRule> rules) {
        return inTransaction("alert_rules.import", c -> Transactions.lockTenant(c, "alert_rules", tenant)
                // the groups' rows locked first and in id order, as the evaluator's stores lock theirs
                // (AlertStore.storeAll): an import and a store over the same rules cannot deadlock
                .thenMany(Flux.from(c.createStatement("SELECT id, group_name, name FROM alert_rules WHERE tenant_id "
                                + "= $1 AND group_name = ANY($2) ORDER BY id FOR UPDATE").bind("$1", tenant)
                        .bind("$2", groups.toArray(new String[0])).execute())
                        .flatMap(r -> r.map(row -> new Object[] {row.get(0, Long.class), row.get(1, String.class),
                                row.get(2, String.class)})))
                .collectList()
                .flatMap(existing -> {
                    Set<List<String>> kept = new HashSet<>();
                    for (AlertRule r : rules) {
                        kept.add(List.of(r.group(), r.name()));
                    }
                    List<Long> gone = new ArrayList<>();
                    for (Object[] row : existing) {
                        if (!kept.contains(List.of((String) row[1], (String) row[2]))) {
                            gone.add((Long) row[0]);
                        }
                    }
                    Mono<Integer> deleted = deleteRules(c, tenant, gone);
                    Mono<int[]> upserted = upsertAll(c, tenant, rules);
                    // one statement after the other on the transaction's connection
                    return deleted.flatMap(d -> upserted.map(u -> new ImportResult(u[0], u[1], u[2], d)));
                })
                .flatMap(result -> count(c, tenant).flatMap(n -> n > maxRulesPerTenant
                        ? Mono.error(new TooManyRulesException(maxRulesPerTenant, n)) : Mono.just(result))));
    }

    /**
     * Every rule of an import in one statement (one round trip however many rules the file holds): created, updated
     * (only when something changed: the version is bumped) or left unchanged; counted as {created, updated, unchanged}.
     */
    private static Mono<int[]> upsertAll(Connection c, String tenant, List<AlertRule> rules) {
        int n = rules.size();
        if (n == 0) {
            return Mono.just(new int[3]);
        }
        String[] groups = new String[n];
        String[] names = new String[n];
        String[] exprs = new String[n];
        String[] queries = new String[n];
        String[] ops = new String[n];
        Double[] thresholds = new Double[n];
        Long[] fors = new Long[n];
        Long[] keepFiringFors = new Long[n];
        Long[] intervals = new Long[n];
        String[] noData = new String[n];
        String[] labels = new String[n];
        String[] annotations = new String[n];
        for (int i = 0; i < n; i++) {
            AlertRule rule = rules.get(i);
            groups[i] = rule.group();
            names[i] = rule.name();
            exprs[i] = rule.expr();
            queries[i] = rule.query() == null ? null : RuleJson.query(rule.query());
            ops[i] = rule.threshold() == null ? null : rule.threshold().op();
            thresholds[i] = rule.threshold() == null ? null : rule.threshold().value();
            fors[i] = rule.forDuration().toMillis();
            keepFiringFors[i] = rule.keepFiringFor().toMillis();
            intervals[i] = rule.interval().toMillis();
            noData[i] = rule.noData().name().toLowerCase(Locale.ROOT);
            labels[i] = RuleJson.map(rule.labels());
            annotations[i] = RuleJson.map(rule.annotations());
        }
        Statement s = c.createStatement("INSERT INTO alert_rules (tenant_id, group_name, name, expr, query, op, "
                        + "threshold, for_ms, keep_firing_for_ms, interval_ms, no_data, labels, annotations) "
                        + "SELECT $1, u.g, u.n, u.e, u.q::jsonb, u.o, u.t, u.f, u.k, u.i, u.nd, u.l::jsonb, u.a::jsonb "
                        + "FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], "
                        + "$8::int8[], $9::int8[], $10::int8[], $11::text[], $12::text[], $13::text[]) "
                        + "AS u(g, n, e, q, o, t, f, k, i, nd, l, a) " + ON_CONFLICT)
                .bind("$1", tenant).bind("$2", groups).bind("$3", names).bind("$4", exprs).bind("$5", queries)
                .bind("$6", ops).bind("$7", thresholds).bind("$8", fors).bind("$9", keepFiringFors)
                .bind("$10", intervals).bind("$11", noData).bind("$12", labels).bind("$13", annotations);
        return Flux.from(s.execute())
                .flatMap(r -> r.map(row -> Boolean.TRUE.equals(row.get(0, Boolean.class)) ? 0 : 1))
                .reduceWith(() -> new int[3], (acc, kind) -> {
                    acc[kind]++;
                    return acc;
                })
                .map(acc -> {
                    acc[2] = n - acc[0] - acc[1];
                    return acc;
                });
    }

    /**
     * Deletes those of the rules that are the tenant's and, in the same four statements however many there are,
     * resolves their firing alerts and ends their pending ones; completes with how many were deleted.
     */
    private static Mono<Integer> deleteRules(Connection c, String tenant, List<Long> ids) {
        if (ids.isEmpty()) {
            return Mono.just(0);
        }
        return Flux.from(c.createStatement("DELETE FROM alert_rules WHERE id = ANY($1) AND tenant_id = $2 RETURNING id")
                        .bind("$1", ids.toArray(Long[]::new)).bind("$2", tenant).execute())
                .flatMap(r -> r.map(row -> row.get(0, Long.class))).collectList()
                .flatMap(deleted -> deleted.isEmpty() ? Mono.just(0)
                        : update(c, "INSERT INTO alert_history (tenant_id, rule_id, fingerprint, labels, from_state, "
                                + "to_state, value, at) SELECT tenant_id, rule_id, fingerprint, labels, state, "
                                + "CASE state WHEN 'firing' THEN 'resolved' ELSE 'inactive' END, value, now() "
                                + "FROM alert_instances WHERE rule_id = ANY($1) AND state IN ('firing', 'pending') "
                                + "ORDER BY rule_id, fingerprint", deleted)
                        .then(update(c, "UPDATE alert_instances SET state = 'resolved', resolved_at = now(), "
                                + "updated_at = now() WHERE rule_id = ANY($1) AND state = 'firing'", deleted))
                        .then(update(c, "DELETE FROM alert_instances WHERE rule_id = ANY($1) AND state = 'pending'",
                                deleted))
                        .thenReturn(deleted.size()));
    }

    private static Mono<Long> update(Connection c, String sql, List<Long> ids) {
        return Flux.from(c.createStatement(sql).bind("$1", ids.toArray(Long[]::new)).execute())
                .flatMap(r -> r.getRowsUpdated()).reduce(0L, Long::sum);
    }

    private static Mono<Long> count(Connection c, String tenant) {
        return Flux.from(c.createStatement("SELECT count(*) FROM alert_rules WHERE tenant_id = $1")
                .bind("$1", tenant).execute()).flatMap(r -> r.map(row -> row.get(0, Long.class))).next();
    }

    private <T> Mono<T> inTransaction(String operation, Function<Connection, Mono<T>> work) {
        return calls.call(operation, Mono.usingWhen(connections.create(),
                c -> Mono.from(c.beginTransaction()).then(work.apply(c))
                        .flatMap(result -> Mono.from(c.commitTransaction()).thenReturn(result)),
                Connection::close,
                (c, err) -> Transactions.rollbackAndClose(c, calls.deadline()),
                c -> Transactions.rollbackAndClose(c, calls.deadline())));
    }

    private static Throwable duplicate(Throwable e, AlertRule rule) {
        if (e instanceof R2dbcDataIntegrityViolationException v && "23505".equals(v.getSqlState())) {
            return new DuplicateRuleException(rule.group(), rule.name());
        }
        return e;
    }

    private static Statement bindRule(Statement s, AlertRule rule) {
        s.bind("$1", rule.tenant()).bind("$2", rule.group()).bind("$3", rule.name());
        bind(s, "$4", rule.expr(), String.class);
        bind(s, "$5", rule.query() == null ? null : RuleJson.query(rule.query()), String.class);
        bind(s, "$6", rule.threshold() == null ? null : rule.threshold().op(), String.class);
        bind(s, "$7", rule.threshold() == null ? null : rule.threshold().value(), Double.class);
        s.bind("$8", rule.forDuration().toMillis()).bind("$9", rule.keepFiringFor().toMillis())
                .bind("$10", rule.interval().toMillis()).bind("$11", rule.noData().name().toLowerCase(Locale.ROOT))
                .bind("$12", RuleJson.map(rule.labels())).bind("$13", RuleJson.map(rule.annotations()));
        return s;
    }

    private static void bind(Statement s, String name, Object value, Class<?> type) {
        if (value == null) {
            s.bindNull(name, type);
        } else {
            s.bind(name, value);
        }
    }

    /** A rule from a row of {@link #COLUMNS} (its first 15 columns). */
    public static AlertRule rule(Readable row) {
        String query = row.get(5, String.class);
        String op = row.get(6, String.class);
        return new AlertRule(row.get(0, Long.class), row.get(1, String.class), row.get(2, String.class),
                row.get(3, String.class), row.get(4, String.class), query == null ? null : RuleJson.parseQuery(query),
                op == null ? null : new Threshold(op, row.get(7, Double.class)),
                Duration.ofMillis(row.get(8, Long.class)), Duration.ofMillis(row.get(9, Long.class)),
                Duration.ofMillis(row.get(10, Long.class)),
                NoData.valueOf(row.get(11, String.class).toUpperCase(Locale.ROOT)),
                RuleJson.parseMap(row.get(12, String.class)), RuleJson.parseMap(row.get(13, String.class)),
                row.get(14, Integer.class));
    }

    private static StoredRule stored(Readable row) {
        OffsetDateTime last = row.get(18, OffsetDateTime.class);
        return new StoredRule(rule(row), row.get(17, String.class), last == null ? null : last.toInstant(),
                row.get(19, Integer.class), row.get(20, String.class), row.get(15, OffsetDateTime.class).toInstant(),
                row.get(16, OffsetDateTime.class).toInstant());
    }
}
