package io.sluice.gateway.ingest;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.KafkaTopicReader;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;

/** HTTP ingest end to end: auth, quotas, validation, and exactly the acknowledged items in real Kafka. */
@RealInfrastructure
class HttpIngestTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static GatewayRole sluice;
    private static String bootstrap;
    private static String acmeKey;
    private static String tinyKey;
    private static String cappedKey;
    private static String floodKey;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("tenants.free.requests-per-minute", "3");
        overrides.put("tenants.paid.items-per-minute", "1000");
        overrides.put("ingest.max-active-series", "100");
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        bootstrap = infra.bootstrapServers();
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        acmeKey = KeysCommand.create(keys, "acme", Tier.ENTERPRISE);
        tinyKey = KeysCommand.create(keys, "tiny", Tier.FREE);
        cappedKey = KeysCommand.create(keys, "capped", Tier.PAID);
        floodKey = KeysCommand.create(keys, "flooder", Tier.FREE);
        sluice = GatewayRole.start(config);
    }

    @AfterAll
    static void stop() {
        sluice.close();
    }

    @Test
    void missingOrWrongKeyGets401() throws Exception {
        HttpResponse<String> none = post("/api/v1/ingest/metrics", null, "{\"samples\":[]}");
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("www-authenticate")).hasValue("Bearer");
        assertThat(none.body()).contains("\"code\":\"unauthorized\"");
        HttpResponse<String> wrong = post("/api/v1/ingest/metrics", "sk_not-a-real-key", "{\"samples\":[]}");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(counter("sluice_auth_rejected", "reason", "invalid_key")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void acknowledgedSamplesAreExactlyWhatReachesKafka() throws Exception {
        long now = System.currentTimeMillis();
        StringBuilder body = new StringBuilder("{\"samples\":[");
        int valid = 500;
        for (int i = 0; i < valid; i++) {
            body.append(String.format("{\"name\":\"http.requests\",\"labels\":{\"host\":\"h%d\",\"route\":\"/r%d\"},"
                    + "\"timestamp\":%d,\"value\":%d},", i % 17, i % 5, now - i, i));
        }
        body.append("{\"name\":\"bad name!\",\"value\":1},");
        body.append("{\"name\":\"old\",\"timestamp\":").append(now - Duration.ofHours(2).toMillis()).append(",\"value\":1},");
        body.append("{\"name\":\"word\",\"value\":\"fast\"}]}");
        HttpResponse<String> response = post("/api/v1/ingest/metrics", acmeKey, body.toString());
        assertThat(response.statusCode()).isEqualTo(202);
        assertThat(response.body()).startsWith("{\"accepted\":500,\"rejected\":[")
                .contains("{\"index\":500,\"reason\":\"invalid_name\"")
                .contains("{\"index\":501,\"reason\":\"too_old\"")
                .contains("{\"index\":502,\"reason\":\"invalid_value\"");
        assertThat(response.headers().firstValue("ratelimit-limit")).hasValue("10000");

        List<KafkaTopicReader.Item> inKafka = KafkaTopicReader.readAll(bootstrap, "sluice.metrics").stream()
                .filter(item -> item.tenant().equals("acme")).toList();
        assertThat(inKafka).hasSize(valid);
        assertThat(inKafka.stream().mapToDouble(KafkaTopicReader.Item::value).sum())
                .isEqualTo(valid * (valid - 1) / 2.0);
        // one series always lands in one partition
        Map<Map<String, String>, java.util.Set<Integer>> partitionsBySeries = inKafka.stream().collect(
                Collectors.groupingBy(KafkaTopicReader.Item::labels,
                        Collectors.mapping(KafkaTopicReader.Item::partition, Collectors.toSet())));
        assertThat(partitionsBySeries.values()).allSatisfy(p -> assertThat(p).hasSize(1));
    }

    @Test
    void gzipBodiesAreAccepted() throws Exception {
        String body = "{\"samples\":[{\"name\":\"gz.metric\",\"labels\":{\"a\":\"b\"},\"value\":42.5}]}";
        ByteArrayOutputStream zipped = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(zipped)) {
            gz.write(body.getBytes(StandardCharsets.UTF_8));
        }
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri("/api/v1/ingest/metrics"))
                .header("Authorization", "Bearer " + acmeKey).header("Content-Encoding", "gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(zipped.toByteArray())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(202);
        assertThat(response.body()).isEqualTo("{\"accepted\":1,\"rejected\":[]}");
        assertThat(KafkaTopicReader.readAll(bootstrap, "sluice.metrics"))
                .anySatisfy(item -> assertThat(item.name()).isEqualTo("gz.metric"));
    }

    @Test
    void eventsAreValidatedAndReachKafka() throws Exception {
        HttpResponse<String> response = post("/api/v1/ingest/events", acmeKey, "{\"events\":["
                + "{\"id\":\"deploy-1\",\"type\":\"deploy\",\"timestamp\":\""
                + java.time.Instant.now().minusSeconds(5) + "\",\"key\":\"api\",\"attributes\":{\"version\":\"1.2\"}},"
                + "{\"type\":\"deploy\"}]}");
        assertThat(response.statusCode()).isEqualTo(202);
        assertThat(response.body()).contains("\"accepted\":1", "{\"index\":1,\"reason\":\"missing_field\",\"message\":\"id is required\"}");
        assertThat(KafkaTopicReader.readAll(bootstrap, "sluice.events"))
                .anySatisfy(item -> assertThat(item.labels()).containsEntry("id", "deploy-1"));
    }

    @Test
    void malformedBodiesGetClearErrorsAndTheServerStaysHealthy() throws Exception {
        HttpResponse<String> notJson = post("/api/v1/ingest/metrics", acmeKey, "{\"samples\":[{\"name\":");
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(notJson.body()).contains("\"code\":\"invalid_json\"", "line 1");
        HttpResponse<String> wrongShape = post("/api/v1/ingest/metrics", acmeKey, "[1,2,3]");
        assertThat(wrongShape.statusCode()).isEqualTo(400);
        assertThat(wrongShape.body()).contains("\"code\":\"invalid_batch\"", "\\\"samples\\\" array");
        HttpResponse<String> allBad = post("/api/v1/ingest/metrics", acmeKey, "{\"samples\":[{\"value\":1}]}");
        assertThat(allBad.statusCode()).isEqualTo(422);
        assertThat(allBad.body()).contains("\"code\":\"no_valid_items\"", "\"reason\":\"missing_field\"");
        assertThat(counter("sluice_ingest_rejected", "reason", "invalid_json")).isGreaterThanOrEqualTo(1);
        assertThat(http.send(HttpRequest.newBuilder(uri("/health/live")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
    }

    @Test
    void aTenantOverQuotaGets429WhileAnotherIsServed() throws Exception {
        String body = "{\"samples\":[{\"name\":\"q\",\"value\":1}]}";
        for (int i = 0; i < 3; i++) {
            assertThat(post("/api/v1/ingest/metrics", tinyKey, body).statusCode()).isEqualTo(202);
        }
        HttpResponse<String> refused = post("/api/v1/ingest/metrics", tinyKey, body);
        assertThat(refused.statusCode()).isEqualTo(429);
        assertThat(refused.headers().firstValue("retry-after")).hasValueSatisfying(v -> assertThat(Long.parseLong(v)).isPositive());
        assertThat(refused.headers().firstValue("ratelimit-limit")).hasValue("3");
        assertThat(refused.headers().firstValue("ratelimit-remaining")).hasValue("0");
        assertThat(refused.headers().firstValue("ratelimit-reset")).isPresent();
        assertThat(refused.body()).contains("\"code\":\"rate_limited\"", "tiny");
        assertThat(post("/api/v1/ingest/metrics", acmeKey, body).statusCode()).as("another tenant").isEqualTo(202);
        assertThat(counter("sluice_ratelimit_rejected", "tier", "free")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void aRequestSentBeforeTheRetryAfterOfItsKeysRefusalIsAnsweredUnreadAndCounted() throws Exception {
        Map<String, String> headers = Map.of("Authorization", "Bearer " + floodKey, "Content-Type", "application/json");
        byte[] body = "{\"samples\":[{\"name\":\"q\",\"value\":1}]}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try (io.sluice.gateway.RawHttp connection = new io.sluice.gateway.RawHttp(sluice.port())) {
            io.sluice.gateway.RawHttp.Response answer;
            int accepted = 0;
            while ((answer = connection.send("POST", "/api/v1/ingest/metrics", headers, body)).status() == 202) {
                accepted++;
            }
            assertThat(accepted).as("the free tier's 3 requests a minute").isBetween(3, 4);
            assertThat(answer.status()).isEqualTo(429);
            assertThat(answer.headers()).containsKey("ratelimit-limit"); // the route's own refusal
            double before = counter("sluice_http_rejected", "reason", "early_retry");

            // at once, on the same connection: answered by the gate, before the key or the body is read
            io.sluice.gateway.RawHttp.Response early = connection.send("POST", "/api/v1/ingest/metrics", headers, body);
            assertThat(early.status()).isEqualTo(429);
            assertThat(early.text()).contains("\"code\":\"rate_limited\"", "sent before the Retry-After");
            assertThat(early.headers()).containsKey("retry-after").doesNotContainKey("ratelimit-limit");
            assertThat(early.closed()).isFalse();
            assertThat(counter("sluice_http_rejected", "reason", "early_retry")).isEqualTo(before + 1);
        }
    }

    @Test
    void newSeriesBeyondTheActiveSeriesLimitAreRejectedWithTheirOwnReason() throws Exception {
        StringBuilder body = new StringBuilder("{\"samples\":[");
        for (int i = 0; i < 102; i++) {
            body.append(i == 0 ? "" : ",").append("{\"name\":\"c\",\"labels\":{\"s\":\"").append(i)
                    .append("\"},\"value\":1}");
        }
        body.append(",{\"name\":\"c\",\"labels\":{\"s\":\"0\"},\"value\":2}]}");
        HttpResponse<String> response = post("/api/v1/ingest/metrics", cappedKey, body.toString());
        assertThat(response.statusCode()).isEqualTo(202);
        assertThat(response.body()).startsWith("{\"accepted\":101,")
                .contains("{\"index\":100,\"reason\":\"cardinality_limit\"")
                .contains("{\"index\":101,\"reason\":\"cardinality_limit\"")
                .doesNotContain("\"index\":102");
    }

    @Test
    void aBatchOverTheItemQuotaIsRefusedWhole() throws Exception {
        StringBuilder body = new StringBuilder("{\"samples\":[");
        for (int i = 0; i < 1001; i++) {
            body.append(i == 0 ? "" : ",").append("{\"name\":\"c\",\"labels\":{\"s\":\"1\"},\"value\":").append(i).append('}');
        }
        HttpResponse<String> response = post("/api/v1/ingest/metrics", cappedKey, body.append("]}").toString());
        assertThat(response.statusCode()).isEqualTo(429);
        assertThat(response.body()).contains("can never fit", "1000");
    }

    private double counter(String name, String tag, String value) {
        var c = sluice.meterRegistry().find(name).tag(tag, value).counter();
        return c == null ? 0 : c.count();
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + sluice.port() + path);
    }

    private static HttpResponse<String> post(String path, String key, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
