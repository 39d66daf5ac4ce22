package io.sluice.gateway.alerting;

import io.r2dbc.spi.Connection;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.app.SluiceProcess;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code roles=alerter} in a process of its own: it answers health and metrics on {@code admin.port} and evaluates a
 * rule over data ingested through a gateway and stored by a writer (another process), the whole real path.
 */
@RealInfrastructure
class AlerterRoleTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final Duration WAIT = Duration.ofSeconds(90);

    private static SluiceConfig config(TestInfrastructure infra, Path spool, String roles) {
        return infra.configure(ConfigLoader.load(null, Map.of(), Map.of("roles", roles, "server.port", "0",
                "admin.port", "0", "spool.dir", spool.toString(), "alerting.poll-interval", "200ms",
                "cluster.node-id", "node-" + roles.replace(',', '-'))));
    }

    @Test
    void anAlerterAloneEvaluatesRulesOverIngestedData(TestInfrastructure infra, @TempDir Path dir) throws Exception {
        String tenant = "alert-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.PAID);
        try (SluiceProcess alerter = SluiceProcess.start(config(infra, dir.resolve("a"), "alerter"));
             SluiceProcess ingest = SluiceProcess.start(config(infra, dir.resolve("g"), "gateway,writer"))) {
            assertThat(alerter.roleNames()).containsExactly("alerter");
            int admin = alerter.adminPort().orElseThrow();
            await().atMost(WAIT).untilAsserted(() -> {
                HttpResponse<String> ready = get(admin, "/health/ready");
                assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
                assertThat(ready.body()).contains("\"alerter\":\"ok\"", "\"postgres\":\"ok\"");
            });

            long rule = sqlLong(infra, """
                    INSERT INTO alert_rules (tenant_id, group_name, name, expr, op, threshold, interval_ms, annotations)
                    VALUES ('%s', 'g', 'HotRoom', 'room_temp', '>', 50, 1000,
                            '{"summary": "{{ $labels.room }} is at {{ $value }}"}') RETURNING id""".formatted(tenant));
            String maxPerRoom = io.sluice.storage.alerting.RuleJson.query(new io.sluice.storage.alerting.AlertRule.RuleQuery(
                    "room_temp", List.of(), io.sluice.storage.query.Aggregation.MAX, List.of("room"),
                    Duration.ofMinutes(5)));
            long queryForm = sqlLong(infra, """
                    INSERT INTO alert_rules (tenant_id, group_name, name, query, op, threshold, interval_ms)
                    VALUES ('%s', 'g', 'HotRoomByQuery', '%s', '>', 50, 1000) RETURNING id"""
                    .formatted(tenant, maxPerRoom.replace("'", "''")));
            int port = ingest.gateway().orElseThrow().port();
            long ts = System.currentTimeMillis() - 2_000;
            HttpResponse<String> sent = http.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + port + "/api/v1/ingest/metrics"))
                    .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"samples\":[{\"name\":\"room_temp\",\"labels\":"
                            + "{\"room\":\"kitchen\"},\"timestamp\":" + ts + ",\"value\":71},{\"name\":\"room_temp\","
                            + "\"labels\":{\"room\":\"hall\"},\"timestamp\":" + ts + ",\"value\":20}]}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(sent.statusCode()).as(sent.body()).isEqualTo(202);

            await().atMost(WAIT).untilAsserted(() -> assertThat(sqlStrings(infra,
                    "SELECT state || ' ' || (labels->>'room') || ' ' || (annotations->>'summary') FROM alert_instances"
                            + " WHERE rule_id = " + rule)).containsExactly("firing kitchen kitchen is at 71"));
            await().atMost(WAIT).untilAsserted(() -> assertThat(sqlStrings(infra,
                    "SELECT state || ' ' || (labels->>'room') || ' ' || value FROM alert_instances"
                            + " WHERE rule_id = " + queryForm)).as("the query form, read as the rules API stored it")
                    .containsExactly("firing kitchen 71"));
            assertThat(sqlStrings(infra, "SELECT health || ' ' || coalesce(lease_owner, '-') FROM alert_rules"
                    + " WHERE id = " + rule).get(0)).startsWith("ok");
            assertThat(get(admin, "/metrics").body())
                    .containsPattern("sluice_alert_evaluations_total\\{application=\"sluice\",result=\"ok\"} [1-9]")
                    .contains("sluice_alert_evaluation_lag_seconds_bucket");
        }
    }

    private static long sqlLong(TestInfrastructure infra, String sql) {
        return Long.parseLong(sqlStrings(infra, sql).get(0));
    }

    private static List<String> sqlStrings(TestInfrastructure infra, String sql) {
        return Mono.usingWhen(infra.connectionFactory().create(), (Connection c) -> Flux.from(c.createStatement(sql)
                        .execute()).flatMap(r -> r.map((row, meta) -> String.valueOf(row.get(0)))).collectList(),
                Connection::close).block(Duration.ofSeconds(30));
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }
}
