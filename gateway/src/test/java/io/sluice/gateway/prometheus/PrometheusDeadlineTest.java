package io.sluice.gateway.prometheus;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.embedded.FrozenProcesses;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A frozen PostgreSQL (SIGSTOP) never leaves a Prometheus API request unanswered: each PostgreSQL-backed route
 * answers 503 in Prometheus' error envelope with {@code Retry-After} within the queries' deadline
 * ({@code query.statement-timeout + postgres.call-timeout}) + 1 s, and answers again after SIGCONT.
 */
@RealInfrastructure
class PrometheusDeadlineTest {

    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(1);
    private static final Duration STATEMENT_TIMEOUT = Duration.ofMillis(500);
    private static final Duration DEADLINE = CALL_TIMEOUT.plus(STATEMENT_TIMEOUT);
    private static final Duration SLACK = Duration.ofSeconds(1);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void aFrozenPostgresIs503WithRetryAfterWithinTheDeadlineAndRecoversAfterSigcont(TestInfrastructure infra)
            throws Exception {
        String tenant = "prom-frozen-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.ENTERPRISE);
        Map<String, String> settings = new HashMap<>();
        settings.put("server.port", "0");
        settings.put("postgres.call-timeout", CALL_TIMEOUT.toMillis() + "ms");
        settings.put("query.statement-timeout", STATEMENT_TIMEOUT.toMillis() + "ms");
        List<String> paths = List.of(
                "/prometheus/api/v1/query?query=up&time=1700000000",
                "/prometheus/api/v1/query_range?query=up&start=1700000000&end=1700000600&step=60",
                "/prometheus/api/v1/series?match[]=up",
                "/prometheus/api/v1/labels",
                "/prometheus/api/v1/label/job/values");
        try (GatewayRole sluice = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), settings)))) {
            int port = sluice.port();
            // the key gets cached and the pool warm, so that each call below fails for its own query
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                for (String path : paths) {
                    assertThat(get(port, key, path).statusCode()).as(path).isEqualTo(200);
                }
            });
            Map<String, HttpResponse<String>> answers = new LinkedHashMap<>();
            Map<String, Duration> took = new LinkedHashMap<>();
            // PromQL answers are cached: the frozen calls ask other times (no cached or stale answer), and a cached
            // answer is still served while PostgreSQL is frozen
            List<String> uncached = paths.stream().map(p -> p.replace("1700000000", "1700000300")).toList();
            HttpResponse<String> cached;
            try (FrozenProcesses frozen = FrozenProcesses.postgres(infra.postgres())) {
                assertThat(frozen.size()).isGreaterThan(1);
                for (String path : uncached) { // one at a time, so each is timed alone
                    long start = System.nanoTime();
                    answers.put(path, get(port, key, path));
                    took.put(path, Duration.ofNanos(System.nanoTime() - start));
                }
                cached = get(port, key, paths.get(1));
            }
            assertThat(cached.statusCode()).as(cached.body()).isEqualTo(200);
            assertThat(cached.headers().firstValue("x-sluice-cache")).hasValue("hit");
            for (String path : uncached) {
                HttpResponse<String> r = answers.get(path);
                assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(503);
                assertThat(took.get(path)).as(path).isLessThan(DEADLINE.plus(SLACK));
                assertThat(r.headers().firstValue("retry-after")).as(path).hasValue("5");
                JsonNode body = JSON.readTree(r.body());
                assertThat(body.get("status").asText()).isEqualTo("error");
                assertThat(body.get("errorType").asText()).as(path).isIn("timeout", "unavailable");
                assertThat(body.get("error").asText()).isNotBlank();
            }
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                for (String path : paths) {
                    HttpResponse<String> r = get(port, key, path);
                    assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
                    assertThat(JSON.readTree(r.body()).get("status").asText()).isEqualTo("success");
                }
            });
        }
    }

    private HttpResponse<String> get(int port, String key, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(20)).header("Authorization", "Bearer " + key).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
