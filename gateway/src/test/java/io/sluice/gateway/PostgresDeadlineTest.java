package io.sluice.gateway;

import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.ErrorFrame;
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
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A frozen PostgreSQL (every process SIGSTOPped: connections stay open, nothing answers) never leaves a request
 * unanswered: every PostgreSQL-backed route answers 503 within its deadline + 1 s ({@code postgres.call-timeout},
 * queries {@code query.statement-timeout} + that), with {@code Retry-After} and the one error shape; a binary HELLO
 * with a key never seen gets ERROR RETRY_LATER; and after SIGCONT everything works again.
 */
@RealInfrastructure
class PostgresDeadlineTest {

    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(1);
    private static final Duration STATEMENT_TIMEOUT = Duration.ofMillis(500);
    private static final Duration QUERY_DEADLINE = CALL_TIMEOUT.plus(STATEMENT_TIMEOUT);
    private static final Duration SLACK = Duration.ofSeconds(1);
    private static final Pattern CODE = Pattern.compile("\"code\":\"([0-9A-Za-z]+)\"");

    private final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private record Call(String name, String method, String path, String key, String body, Duration deadline,
                        boolean retryAfter) {
    }

    private record Answer(HttpResponse<String> response, Duration took) {
    }

    @Test
    void everyPostgresBackedRouteAnswers503WithinItsDeadlineAndRecoversAfterSigcont(TestInfrastructure infra)
            throws Exception {
        String tenant = "frozen-" + UUID.randomUUID().toString().substring(0, 8);
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        String known = KeysCommand.create(keys, tenant, Tier.ENTERPRISE);
        String unseen = KeysCommand.create(keys, tenant, Tier.ENTERPRISE);
        String unseenBinary = KeysCommand.create(keys, tenant, Tier.ENTERPRISE);
        String unseenAfter = KeysCommand.create(keys, tenant, Tier.ENTERPRISE);
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("postgres.call-timeout", CALL_TIMEOUT.toMillis() + "ms");
        overrides.put("query.statement-timeout", STATEMENT_TIMEOUT.toMillis() + "ms");
        try (GatewayRole sluice = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), overrides)))) {
            int port = sluice.port();
            // the known key is cached and a link exists, so each route below fails for its own PostgreSQL call
            // (a cold pool on a busy machine may miss the short deadline at first: warming up, not the subject)
            String code = await().atMost(Duration.ofSeconds(30)).until(() -> {
                HttpResponse<String> created = send(port, "POST", "/api/v1/links", known,
                        "{\"url\":\"https://example.com/frozen\"}");
                return created.statusCode() == 201 ? code(created.body()) : null;
            }, java.util.Objects::nonNull);
            String rule = await().atMost(Duration.ofSeconds(30)).until(() -> {
                HttpResponse<String> created = send(port, "POST", "/api/v1/alerts/rules", known,
                        "{\"name\":\"frozen\",\"expr\":\"up == 0\"}");
                java.util.regex.Matcher id = Pattern.compile("\"id\":(\\d+)").matcher(created.body());
                return created.statusCode() == 201 && id.find() ? id.group(1) : null;
            }, java.util.Objects::nonNull);
            String metric = "frozen.q" + UUID.randomUUID().toString().substring(0, 8).replace("-", "");

            List<Call> calls = List.of(
                    new Call("uncached query", "GET", "/api/v1/query?metric=" + metric, known, null, QUERY_DEADLINE, true),
                    new Call("series", "GET", "/api/v1/series?metric=" + metric, known, null, QUERY_DEADLINE, true),
                    new Call("labels", "GET", "/api/v1/labels", known, null, QUERY_DEADLINE, true),
                    new Call("label values", "GET", "/api/v1/labels/host/values", known, null, QUERY_DEADLINE, true),
                    new Call("link create", "POST", "/api/v1/links", known, "{\"url\":\"https://example.com/new\"}",
                            CALL_TIMEOUT, true),
                    new Call("link get", "GET", "/api/v1/links/" + code, known, null, CALL_TIMEOUT, true),
                    new Call("link list", "GET", "/api/v1/links", known, null, CALL_TIMEOUT, true),
                    new Call("link patch", "PATCH", "/api/v1/links/" + code, known, "{\"redirect\":307}",
                            CALL_TIMEOUT, true),
                    new Call("link delete", "DELETE", "/api/v1/links/" + code, known, null, CALL_TIMEOUT, true),
                    new Call("link stats", "GET", "/api/v1/links/" + code + "/stats", known, null, CALL_TIMEOUT, true),
                    new Call("rule create", "POST", "/api/v1/alerts/rules", known,
                            "{\"name\":\"frozen2\",\"expr\":\"up\"}", CALL_TIMEOUT, true),
                    new Call("rule list", "GET", "/api/v1/alerts/rules", known, null, CALL_TIMEOUT, true),
                    new Call("rule get", "GET", "/api/v1/alerts/rules/" + rule, known, null, CALL_TIMEOUT, true),
                    new Call("rule put", "PUT", "/api/v1/alerts/rules/" + rule, known,
                            "{\"name\":\"frozen\",\"expr\":\"up == 1\"}", CALL_TIMEOUT, true),
                    new Call("rule delete", "DELETE", "/api/v1/alerts/rules/" + rule, known, null, CALL_TIMEOUT, true),
                    new Call("events", "GET", "/api/v1/events?type=deploy", known, null, CALL_TIMEOUT, true),
                    new Call("alert receivers", "GET", "/api/v1/alerts/receivers", known, null, CALL_TIMEOUT, true),
                    new Call("alert receiver create", "POST", "/api/v1/alerts/receivers", known, "{\"name\":\"ops\","
                            + "\"kind\":\"webhook\",\"url\":\"https://hooks.example.com/\"}", CALL_TIMEOUT, true),
                    new Call("alert routes", "PUT", "/api/v1/alerts/routes", known, "{\"routes\":[]}", CALL_TIMEOUT,
                            true),
                    new Call("alert silences", "GET", "/api/v1/alerts/silences", known, null, CALL_TIMEOUT, true),
                    new Call("alert silence create", "POST", "/api/v1/alerts/silences", known, "{\"matchers\":"
                            + "[{\"name\":\"a\",\"value\":\"b\"}],\"starts_at\":\"" + java.time.Instant.now()
                            + "\",\"ends_at\":\"" + java.time.Instant.now().plusSeconds(3600)
                            + "\",\"created_by\":\"ann\",\"comment\":\"frozen\"}", CALL_TIMEOUT, true),
                    new Call("redirect never looked up", "GET", "/neverLookedUp" + code, null, null, CALL_TIMEOUT, true),
                    new Call("auth with an unseen key", "GET", "/api/v1/links", unseen, null, CALL_TIMEOUT, true),
                    new Call("readiness", "GET", "/health/ready", null, null, CALL_TIMEOUT, false));

            Map<Call, Answer> answers = new LinkedHashMap<>();
            Duration helloTook;
            Object helloAnswer;
            try (FrozenProcesses frozen = FrozenProcesses.postgres(infra.postgres())) {
                assertThat(frozen.size()).as("postmaster and its backends").isGreaterThan(1);
                // one at a time, so each is timed alone on this busy machine
                for (Call call : calls) {
                    answers.put(call, sendTimed(port, call).join());
                }
                long helloStart = System.nanoTime();
                try (RawAgent agent = RawAgent.connect(port)) {
                    agent.hello(unseenBinary);
                    helloAnswer = agent.next();
                    helloTook = Duration.ofNanos(System.nanoTime() - helloStart);
                }
            }

            answers.forEach((call, answer) -> System.out.printf("frozen PostgreSQL: %s -> %d in %d ms%n", call.name(),
                    answer.response().statusCode(), answer.took().toMillis()));
            answers.forEach((call, answer) -> {
                HttpResponse<String> r = answer.response();
                assertThat(r.statusCode()).as(call.name() + ": " + r.body()).isEqualTo(503);
                assertThat(answer.took()).as(call.name() + " answered within its deadline + 1 s")
                        .isLessThan(call.deadline().plus(SLACK));
                if (call.retryAfter()) {
                    assertThat(r.headers().firstValue("retry-after")).as(call.name()).hasValue("5");
                    assertThat(r.body()).as(call.name())
                            .startsWith("{\"error\":{\"status\":503,\"code\":\"unavailable\",\"message\":\"");
                } else {
                    assertThat(r.body()).as(call.name()).contains("\"failing\":[\"postgres\"]");
                }
            });
            assertThat(helloAnswer).isInstanceOfSatisfying(ErrorFrame.class,
                    e -> assertThat(e.code()).isEqualTo(ErrorCode.RETRY_LATER));
            assertThat(helloTook).as("HELLO answered within the deadline + 1 s").isLessThan(CALL_TIMEOUT.plus(SLACK));
            assertThat(sluice.meterRegistry().get("sluice_postgres_call_failures").tag("reason", "deadline")
                    .counters()).isNotEmpty().allSatisfy(c -> assertThat(c.count()).isPositive());
            assertThat(sluice.meterRegistry().get("sluice_postgres_call_failures").tag("operation", "auth.find")
                    .counter().count()).isPositive();
            assertThat(sluice.meterRegistry().get("sluice_auth_rejected").tag("reason", "postgres_unavailable")
                    .counter().count()).isGreaterThanOrEqualTo(2); // HTTP and binary
            assertThat(sluice.meterRegistry().get("sluice_http_server_requests").tag("status", "503").timers())
                    .isNotEmpty();

            // after SIGCONT everything works again
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(send(port, "GET", "/health/ready", null, null).statusCode()).isEqualTo(200));
            assertThat(send(port, "GET", "/api/v1/query?metric=" + metric, known, null).statusCode()).isEqualTo(200);
            assertThat(send(port, "GET", "/api/v1/series?metric=" + metric, known, null).statusCode()).isEqualTo(200);
            assertThat(send(port, "GET", "/api/v1/labels", known, null).statusCode()).isEqualTo(200);
            assertThat(send(port, "GET", "/api/v1/events", known, null).statusCode()).isEqualTo(200);
            assertThat(send(port, "GET", "/api/v1/labels/host/values", known, null).statusCode()).isEqualTo(200);
            assertThat(send(port, "GET", "/api/v1/links", unseenAfter, null).statusCode()).isEqualTo(200);
            HttpResponse<String> again = send(port, "POST", "/api/v1/links", known, "{\"url\":\"https://example.com/b\"}");
            assertThat(again.statusCode()).as(again.body()).isEqualTo(201);
            String code2 = code(again.body());
            assertThat(send(port, "GET", "/api/v1/links/" + code, known, null).statusCode()).isEqualTo(200);
            assertThat(send(port, "PATCH", "/api/v1/links/" + code, known, "{\"redirect\":307}").statusCode())
                    .isEqualTo(200);
            assertThat(send(port, "GET", "/api/v1/links/" + code + "/stats", known, null).statusCode()).isEqualTo(200);
            assertThat(send(port, "GET", "/" + code2, null, null).statusCode()).isEqualTo(302);
            assertThat(send(port, "GET", "/neverLookedUp" + code, null, null).statusCode()).isEqualTo(404);
            assertThat(send(port, "DELETE", "/api/v1/links/" + code, known, null).statusCode()).isEqualTo(204);
            try (RawAgent agent = RawAgent.session(port, unseenBinary)) {
                agent.send(agent.batch(1, "frozen.binary", 3, System.currentTimeMillis(), 0));
                assertThat(agent.next()).isEqualTo(new io.sluice.protocol.frame.Ack(1));
            }
        }
    }

    private CompletableFuture<Answer> sendTimed(int port, Call call) {
        long start = System.nanoTime();
        return http.sendAsync(request(port, call.method(), call.path(), call.key(), call.body()),
                        HttpResponse.BodyHandlers.ofString())
                .thenApply(r -> new Answer(r, Duration.ofNanos(System.nanoTime() - start)));
    }

    private HttpResponse<String> send(int port, String method, String path, String key, String body) throws Exception {
        return http.send(request(port, method, path, key, body), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpRequest request(int port, String method, String path, String key, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            b.header("Authorization", "Bearer " + key);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return b.build();
    }

    private static String code(String body) {
        Matcher m = CODE.matcher(body);
        assertThat(m.find()).as(body).isTrue();
        return m.group(1);
    }
}
