package io.sluice.gateway.alerting;

import io.r2dbc.spi.Connection;
import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The alert rules API on a real gateway with real PostgreSQL. */
@RealInfrastructure
class RulesApiTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static TestInfrastructure infra;
    private static GatewayRole gateway;
    private static String key;
    private static String otherKey;
    private static String limitedKey;
    private static String grafanaKey;

    @BeforeAll
    static void start(TestInfrastructure infrastructure) {
        infra = infrastructure;
        gateway = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "tenants.paid.requests-per-minute", "100000", "alerting.max-rules-per-tenant", "4",
                "alerting.max-rule-name-length", "40", "alerting.max-labels-per-rule", "3",
                "alerting.max-expr-bytes", "1KiB"))));
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        key = KeysCommand.create(keys, "rules-a", Tier.PAID);
        otherKey = KeysCommand.create(keys, "rules-b", Tier.PAID);
        limitedKey = KeysCommand.create(keys, "rules-c", Tier.PAID);
        grafanaKey = KeysCommand.create(keys, "rules-d", Tier.PAID);
    }

    @AfterAll
    static void stop() {
        gateway.close();
    }

    @Test
    void createGetListUpdateDelete() throws Exception {
        HttpResponse<String> created = api("POST", "/api/v1/alerts/rules", key, """
                {"group": "crud", "name": "HighCpu", "expr": "avg by (host) (cpu)", "op": ">", "threshold": 0.9,
                 "for": "5m", "labels": {"severity": "page"},
                 "annotations": {"summary": "{{ $labels.host }} at {{ $value | humanizePercentage }}"}}""");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        String id = field(created.body(), "id");
        assertThat(created.body()).contains("\"group\":\"crud\"", "\"name\":\"HighCpu\"", "\"op\":\">\"",
                "\"threshold\":0.9", "\"for\":\"5m\"", "\"interval\":\"30s\"", "\"keep_firing_for\":\"0s\"",
                "\"no_data\":\"keep\"", "\"labels\":{\"severity\":\"page\"}", "\"version\":1", "\"health\":\"unknown\"",
                "\"last_evaluation\":null", "\"last_error\":null", "\"promql\":\"(avg by (host) (cpu)) > 0.9\"");

        HttpResponse<String> got = api("GET", "/api/v1/alerts/rules/" + id, key, null);
        assertThat(got.statusCode()).isEqualTo(200);
        assertThat(got.body()).contains("\"id\":" + id);
        assertThat(api("GET", "/api/v1/alerts/rules/" + id, otherKey, null).statusCode()).as("other tenant")
                .isEqualTo(404);
        assertThat(api("DELETE", "/api/v1/alerts/rules/" + id, otherKey, null).statusCode()).isEqualTo(404);
        assertThat(api("PUT", "/api/v1/alerts/rules/" + id, otherKey, "{\"name\": \"x\", \"expr\": \"up\"}")
                .statusCode()).isEqualTo(404);

        HttpResponse<String> updated = api("PUT", "/api/v1/alerts/rules/" + id, key, """
                {"group": "crud", "name": "HighCpu", "query": {"metric": "cpu", "matchers": {"dc": "eu"},
                 "aggregation": "max", "group_by": ["host"], "window": "10m"}, "interval": "1m"}""");
        assertThat(updated.statusCode()).as(updated.body()).isEqualTo(200);
        assertThat(updated.body()).contains("\"version\":2", "\"interval\":\"1m\"", "\"window\":\"10m\"",
                "\"matchers\":[{\"label\":\"dc\",\"op\":\"=\",\"value\":\"eu\"}]").doesNotContain("\"expr\"");

        assertThat(api("GET", "/api/v1/alerts/rules?group=crud", key, null).body()).contains("\"id\":" + id);
        assertThat(api("GET", "/api/v1/alerts/rules?group=nope", key, null).body()).isEqualTo("{\"rules\":[]}");
        assertThat(api("GET", "/api/v1/alerts/rules", otherKey, null).body()).doesNotContain("HighCpu");

        assertThat(api("DELETE", "/api/v1/alerts/rules/" + id, key, null).statusCode()).isEqualTo(204);
        assertThat(api("GET", "/api/v1/alerts/rules/" + id, key, null).statusCode()).isEqualTo(404);
        assertThat(api("GET", "/api/v1/alerts/rules/abc", key, null).statusCode()).isEqualTo(404);
    }

    @Test
    void badRulesAre400NamingTheProblem() throws Exception {
        Map<String, String> cases = Map.of(
                "{\"name\": \"a\", \"expr\": \"nope(up)\"}", "expr: ",
                "{\"name\": \"a\", \"expr\": \"up{h=~\\\"a(b\\\"}\"}", "invalid regular expression \\\"a(b\\\"",
                "{\"name\": \"a\", \"expr\": \"up\", \"annotations\": {\"s\": \"{{ $nope }}\"}}",
                "annotations.s: invalid template: unknown variable \\\"$nope\\\"",
                "{\"name\": \"a\", \"expr\": \"up\", \"interval\": \"10s\"}",
                "interval: 10s is below the minimum interval of the paid tier, 15s",
                "{\"expr\": \"up\"}", "name: missing",
                "{\"name\": \"a\", \"expr\": \"up\", \"query\": {\"metric\": \"x\"}}",
                "expr: give either expr or query, not both",
                "{\"name\": \"a\"", "\"code\":\"invalid_json\"",
                "{\"name\": \"" + "n".repeat(41) + "\", \"expr\": \"up\"}",
                "name: longer than 40 characters (alerting.max-rule-name-length)",
                "{\"name\": \"a\", \"expr\": \"up\", \"labels\": {\"a\": \"1\", \"b\": \"2\", \"c\": \"3\", \"d\": \"4\"}}",
                "labels: 4 entries, more than 3 (alerting.max-labels-per-rule)",
                "{\"name\": \"a\", \"expr\": \"up" + " ".repeat(1023) + "\"}",
                "expr: longer than 1024 bytes (UTF-8) (alerting.max-expr-bytes)");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            HttpResponse<String> response = api("POST", "/api/v1/alerts/rules", key, c.getKey());
            assertThat(response.statusCode()).as(c.getKey()).isEqualTo(400);
            assertThat(response.body()).as(c.getKey()).contains(c.getValue());
        }
        HttpResponse<String> unknown = api("POST", "/api/v1/alerts/rules", key, "{\"name\": \"a\", \"expr\": "
                + "\"nope(up)\"}");
        assertThat(unknown.body()).contains("\"code\":\"invalid_rule\"", "\"problems\":[\"expr: ",
                "unknown function with name \\\"nope\\\"");
        assertThat(api("GET", "/api/v1/alerts/rules", key, null).body()).doesNotContain("\"name\":\"a\"");
        assertThat(metrics()).containsPattern("sluice_alert_rule_rejections_total\\{application=\"sluice\","
                + "reason=\"invalid_rule\"\\} ([9]|\\d\\d)");
    }

    @Test
    void duplicatesAre409AndTheLimitIs422() throws Exception {
        String rule = "{\"group\": \"lim\", \"name\": \"r%d\", \"expr\": \"up == 0\"}";
        for (int i = 0; i < 4; i++) {
            assertThat(api("POST", "/api/v1/alerts/rules", limitedKey, rule.formatted(i)).statusCode()).isEqualTo(201);
        }
        HttpResponse<String> duplicate = api("POST", "/api/v1/alerts/rules", limitedKey, rule.formatted(0));
        assertThat(duplicate.statusCode()).isEqualTo(409);
        assertThat(duplicate.body()).contains("duplicate_rule", "a rule named \\\"r0\\\" already exists in group "
                + "\\\"lim\\\"");
        HttpResponse<String> over = api("POST", "/api/v1/alerts/rules", limitedKey, rule.formatted(9));
        assertThat(over.statusCode()).isEqualTo(422);
        assertThat(over.body()).contains("too_many_rules", "alerting.max-rules-per-tenant");
        assertThat(metrics()).contains("sluice_alert_rule_rejections_total{application=\"sluice\",reason=\"too_many_rules\"} 1.0");
    }

    @Test
    void deleteResolvesFiringAlerts() throws Exception {
        String id = field(api("POST", "/api/v1/alerts/rules", key,
                "{\"group\": \"del\", \"name\": \"Down\", \"expr\": \"up == 0\"}").body(), "id");
        sql("INSERT INTO alert_instances (rule_id, fingerprint, tenant_id, labels, annotations, state, value, "
                + "active_at, fired_at, last_seen_at, updated_at) VALUES (" + id + ", 11, 'rules-a', '{}', '{}', "
                + "'firing', 0, now(), now(), now(), now())");
        assertThat(api("DELETE", "/api/v1/alerts/rules/" + id, key, null).statusCode()).isEqualTo(204);
        assertThat(sql("SELECT state FROM alert_instances WHERE rule_id = " + id)).containsExactly("resolved");
        assertThat(sql("SELECT from_state || '->' || to_state FROM alert_history WHERE rule_id = " + id))
                .containsExactly("firing->resolved");
    }

    @Test
    void importReplacesGroupsAndRefusesWhatPrometheusFormatDoesNotAllow() throws Exception {
        api("POST", "/api/v1/alerts/rules", otherKey, "{\"group\": \"node\", \"name\": \"Stale\", \"expr\": \"up\"}");
        String file = """
                groups:
                  - name: node
                    interval: 1m
                    rules:
                      - alert: InstanceDown
                        expr: up == 0
                        for: 5m
                        labels:
                          severity: page
                        annotations:
                          summary: "{{ $labels.instance }} is down"
                """;
        HttpResponse<String> imported = yaml(otherKey, file, "application/yaml");
        assertThat(imported.statusCode()).as(imported.body()).isEqualTo(200);
        assertThat(imported.body()).isEqualTo("{\"groups\":[\"node\"],\"created\":1,\"updated\":0,\"unchanged\":0,"
                + "\"deleted\":1}");
        assertThat(api("GET", "/api/v1/alerts/rules?group=node", otherKey, null).body())
                .contains("\"name\":\"InstanceDown\"", "\"interval\":\"1m\"").doesNotContain("Stale");
        assertThat(yaml(otherKey, file, "text/yaml; charset=utf-8").body()).contains("\"unchanged\":1");

        HttpResponse<String> recording = yaml(otherKey, """
                groups:
                  - name: rec
                    rules:
                      - record: job:up:sum
                        expr: sum(up)
                """, "application/yaml");
        assertThat(recording.statusCode()).isEqualTo(400);
        assertThat(recording.body()).contains("groups[0].rules[0].record: recording rules are not supported");
        HttpResponse<String> unknownField = yaml(otherKey, """
                groups:
                  - name: node
                    rules:
                      - alert: X
                        expr: up
                        severity: page
                """, "application/yaml");
        assertThat(unknownField.statusCode()).isEqualTo(400);
        assertThat(unknownField.body()).contains("groups[0].rules[0].severity: unknown key");
        assertThat(api("GET", "/api/v1/alerts/rules?group=node", otherKey, null).body())
                .as("a refused import changes nothing").contains("InstanceDown");
        assertThat(yaml(otherKey, file, "application/json").statusCode()).isEqualTo(415);
    }

    @Test
    void prometheusRulesListsRulesWithTheirAlerts() throws Exception {
        String id = field(api("POST", "/api/v1/alerts/rules", grafanaKey, """
                {"group": "g", "name": "Down", "expr": "up == 0", "for": "1m", "labels": {"severity": "page"}}""")
                .body(), "id");
        api("POST", "/api/v1/alerts/rules", grafanaKey, "{\"group\": \"g\", \"name\": \"Quiet\", \"expr\": \"up\"}");
        sql("INSERT INTO alert_instances (rule_id, fingerprint, tenant_id, labels, annotations, state, value, "
                + "active_at, fired_at, last_seen_at, updated_at) VALUES "
                + "(" + id + ", 1, 'rules-d', '{\"alertname\":\"Down\",\"host\":\"a\"}', '{}', 'firing', 1.5, "
                + "'2026-01-01T00:00:00Z', now(), now(), now()), "
                + "(" + id + ", 2, 'rules-d', '{\"host\":\"b\"}', '{}', 'pending', 0, now(), null, now(), now()), "
                + "(" + id + ", 3, 'rules-d', '{\"host\":\"c\"}', '{}', 'resolved', 0, now(), now(), now(), now())");
        HttpResponse<String> rules = api("GET", "/prometheus/api/v1/rules", grafanaKey, null);
        assertThat(rules.statusCode()).isEqualTo(200);
        assertThat(rules.body()).startsWith("{\"status\":\"success\",\"data\":{\"groups\":[{\"name\":\"g\",\"file\":\"\","
                + "\"rules\":[{\"state\":\"firing\",\"name\":\"Down\",\"query\":\"up == 0\",\"duration\":60.0,")
                .contains("\"labels\":{\"alertname\":\"Down\",\"host\":\"a\"},\"annotations\":{},\"state\":\"firing\","
                        + "\"activeAt\":\"2026-01-01T00:00:00Z\",\"value\":\"1.5e+00\"}",
                        "\"state\":\"pending\"", "\"health\":\"unknown\"", "\"lastEvaluation\":\"0001-01-01T00:00:00Z\"",
                        "\"type\":\"alerting\"", "{\"state\":\"inactive\",\"name\":\"Quiet\"")
                .doesNotContain("\"host\":\"c\"");
        assertThat(api("GET", "/prometheus/api/v1/rules?exclude_alerts=true", grafanaKey, null).body())
                .contains("\"alerts\":[]").doesNotContain("activeAt");
        assertThat(api("GET", "/prometheus/api/v1/rules?type=record", grafanaKey, null).body())
                .isEqualTo("{\"status\":\"success\",\"data\":{\"groups\":[]}}");
        assertThat(api("GET", "/prometheus/api/v1/rules?type=bogus", grafanaKey, null).statusCode()).isEqualTo(400);
        assertThat(api("GET", "/prometheus/api/v1/rules", otherKey, null).body()).doesNotContain("Quiet");
    }

    private static HttpResponse<String> yaml(String apiKey, String body, String type) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port()
                        + "/api/v1/alerts/rules/import")).timeout(WAIT).header("Authorization", "Bearer " + apiKey)
                .header("Content-Type", type).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String metrics() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/metrics"))
                .timeout(WAIT).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    private static List<Object> sql(String sql) {
        return Mono.usingWhen(Mono.from(infra.connectionFactory().create()),
                c -> Flux.from(c.createStatement(sql).execute()).flatMap(r -> r.map(row -> row.get(0))).collectList(),
                Connection::close).block(WAIT);
    }

    private static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":\"?([^\",}]*)").matcher(json);
        assertThat(m.find()).as(json).isTrue();
        return m.group(1);
    }

    private static HttpResponse<String> api(String method, String path, String apiKey, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + path))
                .timeout(WAIT).header("Authorization", "Bearer " + apiKey)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
