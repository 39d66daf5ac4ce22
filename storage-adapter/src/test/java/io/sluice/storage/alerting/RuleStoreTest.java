package io.sluice.storage.alerting;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.AlertingConfig;
import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Rules in real PostgreSQL: CRUD, limits, deletion resolving alerts, and rule-file imports. */
@RealInfrastructure
class RuleStoreTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final AlertingConfig CONFIG = ConfigLoader.load(null, Map.of(), Map.of()).alerting();
    private static ConnectionFactory connections;
    private static RuleStore store;
    private final RuleValidator validator = new RuleValidator(CONFIG);

    @BeforeAll
    static void start(TestInfrastructure infra) {
        connections = infra.connectionFactory();
        store = new RuleStore(PostgresCalls.withDefaultDeadline(connections), 3, 2);
    }

    private static String tenant() {
        String tenant = "rules-" + UUID.randomUUID();
        sql("INSERT INTO tenants (id, tier) VALUES ('" + tenant + "', 'paid')");
        return tenant;
    }

    private static List<Object> sql(String sql) {
        return Mono.usingWhen(Mono.from(connections.create()),
                c -> Flux.from(c.createStatement(sql).execute()).flatMap(r -> r.map(row -> {
                    Object v = row.get(0);
                    return v == null ? "null" : v;
                })).collectList(),
                Connection::close).block(WAIT);
    }

    private AlertRule rule(String tenant, String json) {
        return validator.apiRule(RuleDocument.readJson(new com.fasterxml.jackson.core.JsonFactory(),
                new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8))), tenant, Tier.PAID);
    }

    @Test
    void createGetUpdateListDelete() {
        String tenant = tenant();
        StoredRule created = store.create(rule(tenant, """
                {"group": "g", "name": "a", "query": {"metric": "cpu", "matchers": [{"label": "h", "op": "=~",
                 "value": "w.*"}], "aggregation": "avg", "group_by": ["h"], "window": "5m"}, "op": ">", "threshold": 2,
                 "labels": {"severity": "page"}, "annotations": {"s": "{{ $value }}"}, "no_data": "alert"}"""))
                .block(WAIT);
        assertThat(created.rule().id()).isPositive();
        assertThat(created.rule().version()).isEqualTo(1);
        assertThat(created.health()).isEqualTo("unknown");
        assertThat(created.lastEvaluation()).isNull();
        StoredRule got = store.get(tenant, created.rule().id()).block(WAIT);
        assertThat(got.rule()).isEqualTo(created.rule());
        assertThat(got.rule().query().matchers()).hasSize(1);
        assertThat(got.rule().noData()).isEqualTo(AlertRule.NoData.ALERT);
        assertThat(store.get("someone-else", created.rule().id()).block(WAIT)).isNull();

        sql("UPDATE alert_rules SET next_eval_at = '2030-01-01T00:00:00Z' WHERE id = " + created.rule().id());
        StoredRule updated = store.update(created.rule().id(), rule(tenant,
                "{\"group\": \"g\", \"name\": \"a2\", \"expr\": \"up == 0\", \"for\": \"1m\"}")).block(WAIT);
        assertThat(updated.rule().version()).isEqualTo(2);
        assertThat(updated.rule().expr()).isEqualTo("up == 0");
        assertThat(updated.rule().query()).isNull();
        assertThat(sql("SELECT next_eval_at::text FROM alert_rules WHERE id = " + created.rule().id()))
                .as("the schedule is kept").containsExactly("2030-01-01 00:00:00+00");
        assertThat(store.update(created.rule().id(), rule("someone-else", "{\"name\": \"x\", \"expr\": \"up\"}"))
                .block(WAIT)).isNull();

        store.create(rule(tenant, "{\"group\": \"h\", \"name\": \"b\", \"expr\": \"up\"}")).block(WAIT);
        assertThat(store.list(tenant, null).block(WAIT)).extracting(r -> r.rule().name()).containsExactly("a2", "b");
        assertThat(store.list(tenant, "h").block(WAIT)).extracting(r -> r.rule().name()).containsExactly("b");

        assertThat(store.delete("someone-else", created.rule().id()).block(WAIT)).isFalse();
        assertThat(store.delete(tenant, created.rule().id()).block(WAIT)).isTrue();
        assertThat(store.get(tenant, created.rule().id()).block(WAIT)).isNull();
        assertThat(store.delete(tenant, created.rule().id()).block(WAIT)).isFalse();
    }

    @Test
    void duplicatesAndTheLimitAreRefused() {
        String tenant = tenant();
        store.create(rule(tenant, "{\"name\": \"a\", \"expr\": \"up\"}")).block(WAIT);
        assertThatThrownBy(() -> store.create(rule(tenant, "{\"name\": \"a\", \"expr\": \"down\"}")).block(WAIT))
                .isInstanceOf(RuleStore.DuplicateRuleException.class)
                .hasMessage("a rule named \"a\" already exists in group \"default\"");
        StoredRule b = store.create(rule(tenant, "{\"name\": \"b\", \"expr\": \"up\"}")).block(WAIT);
        assertThatThrownBy(() -> store.update(b.rule().id(), rule(tenant, "{\"name\": \"a\", \"expr\": \"up\"}"))
                .block(WAIT)).isInstanceOf(RuleStore.DuplicateRuleException.class);
        store.create(rule(tenant, "{\"name\": \"c\", \"expr\": \"up\"}")).block(WAIT);
        assertThatThrownBy(() -> store.create(rule(tenant, "{\"name\": \"d\", \"expr\": \"up\"}")).block(WAIT))
                .isInstanceOf(RuleStore.TooManyRulesException.class)
                .hasMessageContaining("at most 3 alert rules (alerting.max-rules-per-tenant)");
        assertThat(store.list(tenant, null).block(WAIT)).hasSize(3);
    }

    @Test
    void activeAlertsListsAtMostTheConfiguredNumber() {
        String tenant = tenant();
        long id = store.create(rule(tenant, "{\"name\": \"a\", \"expr\": \"up == 0\"}")).block(WAIT).rule().id();
        sql("INSERT INTO alert_instances (rule_id, fingerprint, tenant_id, labels, annotations, state, value, "
                + "active_at, fired_at, last_seen_at, updated_at) VALUES "
                + "(" + id + ", 1, '" + tenant + "', '{\"h\":\"a\"}', '{}', 'firing', 0, now(), now(), now(), now()), "
                + "(" + id + ", 2, '" + tenant + "', '{\"h\":\"b\"}', '{}', 'pending', 0, now(), null, now(), now()), "
                + "(" + id + ", 3, '" + tenant + "', '{\"h\":\"c\"}', '{}', 'firing', 0, now(), now(), now(), now())");
        // alerting.max-listed-alerts is 2 here: three active alerts, the first two (by rule and fingerprint) listed
        assertThat(store.activeAlerts(tenant).block(WAIT)).extracting(a -> a.labels().get("h"))
                .containsExactly("a", "b");
        RuleStore larger = new RuleStore(PostgresCalls.withDefaultDeadline(connections), 3, 3);
        assertThat(larger.activeAlerts(tenant).block(WAIT)).hasSize(3);
    }

    @Test
    void importingAGroupEmptyDeletesAllItsRulesAtOnceAndResolvesTheirAlerts() {
        String tenant = tenant();
        String other = tenant();
        RuleValidator.RuleFile file = ruleFile("""
                groups:
                  - name: node
                    rules:
                      - alert: Down
                        expr: up == 0
                      - alert: Load
                        expr: load > 2
                """, tenant);
        assertThat(store.replaceGroups(tenant, file.groups(), file.rules()).block(WAIT))
                .isEqualTo(new RuleStore.ImportResult(2, 0, 0, 0));
        RuleValidator.RuleFile theirs = ruleFile("""
                groups:
                  - name: node
                    rules:
                      - alert: Down
                        expr: up == 0
                """, other);
        store.replaceGroups(other, theirs.groups(), theirs.rules()).block(WAIT);
        List<Long> ids = store.list(tenant, "node").block(WAIT).stream().map(r -> r.rule().id()).toList();
        sql("INSERT INTO alert_instances (rule_id, fingerprint, tenant_id, labels, annotations, state, value, "
                + "active_at, fired_at, last_seen_at, updated_at) VALUES "
                + "(" + ids.get(0) + ", 1, '" + tenant + "', '{\"h\":\"a\"}', '{}', 'firing', 0, now(), now(), now(), "
                + "now()), (" + ids.get(1) + ", 2, '" + tenant + "', '{\"h\":\"b\"}', '{}', 'pending', 0, now(), null, "
                + "now(), now())");

        RuleValidator.RuleFile empty = ruleFile("""
                groups:
                  - name: node
                """, tenant);
        assertThat(store.replaceGroups(tenant, empty.groups(), empty.rules()).block(WAIT))
                .isEqualTo(new RuleStore.ImportResult(0, 0, 0, 2));
        assertThat(store.list(tenant, "node").block(WAIT)).isEmpty();
        assertThat(store.list(other, "node").block(WAIT)).as("another tenant's group of that name stays").hasSize(1);
        assertThat(sql("SELECT fingerprint || ':' || state FROM alert_instances WHERE tenant_id = '" + tenant + "'"))
                .containsExactly("1:resolved");
        assertThat(sql("SELECT fingerprint || ':' || from_state || '->' || to_state FROM alert_history WHERE tenant_id = '"
                + tenant + "' ORDER BY fingerprint")).containsExactly("1:firing->resolved", "2:pending->inactive");
    }

    @Test
    void deletingARuleResolvesItsFiringAlertsAndEndsPendingOnes() {
        String tenant = tenant();
        long id = store.create(rule(tenant, "{\"name\": \"a\", \"expr\": \"up == 0\"}")).block(WAIT).rule().id();
        sql("INSERT INTO alert_instances (rule_id, fingerprint, tenant_id, labels, annotations, state, value, "
                + "active_at, fired_at, last_seen_at, updated_at) VALUES "
                + "(" + id + ", 1, '" + tenant + "', '{\"h\":\"a\"}', '{}', 'firing', 0, now(), now(), now(), now()), "
                + "(" + id + ", 2, '" + tenant + "', '{\"h\":\"b\"}', '{}', 'pending', 0, now(), null, now(), now())");
        assertThat(store.delete(tenant, id).block(WAIT)).isTrue();
        assertThat(sql("SELECT fingerprint || ':' || state || ':' || (resolved_at IS NOT NULL) FROM alert_instances "
                + "WHERE rule_id = " + id)).containsExactly("1:resolved:true");
        assertThat(sql("SELECT fingerprint || ':' || from_state || '->' || to_state FROM alert_history "
                + "WHERE rule_id = " + id + " ORDER BY fingerprint"))
                .containsExactly("1:firing->resolved", "2:pending->inactive");
    }

    @Test
    void importReplacesTheNamedGroupsOnly() {
        String tenant = tenant();
        StoredRule kept = store.create(rule(tenant, "{\"group\": \"other\", \"name\": \"k\", \"expr\": \"up\"}"))
                .block(WAIT);
        StoredRule old = store.create(rule(tenant, "{\"group\": \"node\", \"name\": \"Old\", \"expr\": \"up\"}"))
                .block(WAIT);
        sql("INSERT INTO alert_instances (rule_id, fingerprint, tenant_id, labels, annotations, state, value, "
                + "active_at, fired_at, last_seen_at, updated_at) VALUES (" + old.rule().id() + ", 7, '" + tenant
                + "', '{}', '{}', 'firing', 1, now(), now(), now(), now())");
        RuleValidator.RuleFile file = ruleFile("""
                groups:
                  - name: node
                    rules:
                      - alert: Down
                        expr: up == 0
                      - alert: Load
                        expr: load > 1
                """, tenant);
        assertThat(store.replaceGroups(tenant, file.groups(), file.rules()).block(WAIT))
                .isEqualTo(new RuleStore.ImportResult(2, 0, 0, 1));
        assertThat(store.list(tenant, null).block(WAIT)).extracting(r -> r.rule().group() + "/" + r.rule().name())
                .containsExactly("node/Down", "node/Load", "other/k");
        assertThat(sql("SELECT state FROM alert_instances WHERE rule_id = " + old.rule().id()))
                .containsExactly("resolved");

        RuleValidator.RuleFile changed = ruleFile("""
                groups:
                  - name: node
                    rules:
                      - alert: Down
                        expr: up == 0
                      - alert: Load
                        expr: load > 2
                """, tenant);
        assertThat(store.replaceGroups(tenant, changed.groups(), changed.rules()).block(WAIT))
                .isEqualTo(new RuleStore.ImportResult(0, 1, 1, 0));
        assertThat(store.list(tenant, "node").block(WAIT)).extracting(r -> r.rule().name() + "@" + r.rule().version())
                .containsExactly("Down@1", "Load@2");

        RuleValidator.RuleFile tooMany = ruleFile("""
                groups:
                  - name: more
                    rules:
                      - alert: A
                        expr: up
                      - alert: B
                        expr: up
                """, tenant);
        assertThatThrownBy(() -> store.replaceGroups(tenant, tooMany.groups(), tooMany.rules()).block(WAIT))
                .isInstanceOf(RuleStore.TooManyRulesException.class);
        assertThat(store.list(tenant, null).block(WAIT)).as("nothing of a refused import stays").hasSize(3);
        assertThat(store.get(tenant, kept.rule().id()).block(WAIT)).isNotNull();
    }

    /** A Prometheus rule file (YAML) validated for the tenant. */
    private RuleValidator.RuleFile ruleFile(String yaml, String tenant) {
        return validator.ruleFile(RuleDocument.readYaml(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8))),
                tenant, Tier.PAID);
    }
}
