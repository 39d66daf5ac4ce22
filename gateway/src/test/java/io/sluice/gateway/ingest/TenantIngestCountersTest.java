package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.Counter;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.protocol.client.RecordBatch;
import io.sluice.protocol.client.SluiceClient;
import io.sluice.protocol.record.Series;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code sluice_ingest_tenant_samples_total} and {@code sluice_ingest_tenant_events_total}: the same batch
 * counts the same over HTTP and the binary protocol, and tenants beyond {@code ingest.max-metered-tenants}
 * are counted under {@code tenant="_other"}.
 */
@RealInfrastructure
class TenantIngestCountersTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static GatewayRole sluice;
    private static final Map<String, String> keys = new HashMap<>();

    @BeforeAll
    static void start(TestInfrastructure infra) {
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("ingest.max-metered-tenants", "2");
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        ApiKeyStore store = new ApiKeyStore(infra.connectionFactory());
        for (String tenant : new String[]{"meter-http", "meter-bin", "meter-third"}) {
            keys.put(tenant, KeysCommand.create(store, tenant, Tier.ENTERPRISE));
        }
        sluice = GatewayRole.start(config);
    }

    @AfterAll
    static void stop() {
        sluice.close();
    }

    @Test
    void httpAndBinaryCountTheSameBatchTheSameAndTenantsBeyondTheCapAreOther() throws Exception {
        long now = System.currentTimeMillis();
        // the same three samples (one of them refused: counted nowhere here) and two events, over HTTP ...
        HttpResponse<String> samples = post("/api/v1/ingest/metrics", keys.get("meter-http"), "{\"samples\":["
                + "{\"name\":\"cpu\",\"labels\":{\"host\":\"a\"},\"timestamp\":" + now + ",\"value\":1},"
                + "{\"name\":\"cpu\",\"labels\":{\"host\":\"b\"},\"timestamp\":" + now + ",\"value\":2},"
                + "{\"name\":\"bad name!\",\"timestamp\":" + now + ",\"value\":3}]}");
        assertThat(samples.statusCode()).as(samples.body()).isEqualTo(202);
        HttpResponse<String> events = post("/api/v1/ingest/events", keys.get("meter-http"), "{\"events\":["
                + "{\"id\":\"e1\",\"type\":\"deploy\",\"timestamp\":\"" + Instant.ofEpochMilli(now) + "\"},"
                + "{\"id\":\"e2\",\"type\":\"deploy\",\"timestamp\":\"" + Instant.ofEpochMilli(now) + "\"}]}");
        assertThat(events.statusCode()).as(events.body()).isEqualTo(202);
        // ... and over the binary protocol
        try (SluiceClient client = client(keys.get("meter-bin"))) {
            RecordBatch batch = client.newBatch();
            batch.addSample(Series.of("cpu", "host", "a"), now, 1);
            batch.addSample(Series.of("cpu", "host", "b"), now, 2);
            batch.addEvent("e1", "deploy", now, "", Map.of());
            batch.addEvent("e2", "deploy", now, "", Map.of());
            client.send(batch).get(30, TimeUnit.SECONDS);
        }
        assertThat(count("sluice_ingest_tenant_samples", "meter-http")).isEqualTo(2);
        assertThat(count("sluice_ingest_tenant_events", "meter-http")).isEqualTo(2);
        assertThat(count("sluice_ingest_tenant_samples", "meter-bin"))
                .isEqualTo(count("sluice_ingest_tenant_samples", "meter-http"));
        assertThat(count("sluice_ingest_tenant_events", "meter-bin"))
                .isEqualTo(count("sluice_ingest_tenant_events", "meter-http"));

        // a third tenant is past ingest.max-metered-tenants=2: its items are counted, under _other
        assertThat(post("/api/v1/ingest/metrics", keys.get("meter-third"), "{\"samples\":["
                + "{\"name\":\"cpu\",\"timestamp\":" + now + ",\"value\":1}]}").statusCode()).isEqualTo(202);
        try (SluiceClient client = client(keys.get("meter-third"))) {
            RecordBatch batch = client.newBatch();
            batch.addEvent("e3", "deploy", now, "", Map.of());
            client.send(batch).get(30, TimeUnit.SECONDS);
        }
        assertThat(count("sluice_ingest_tenant_samples", IngestMetrics.OTHER_TENANTS)).isEqualTo(1);
        assertThat(count("sluice_ingest_tenant_events", IngestMetrics.OTHER_TENANTS)).isEqualTo(1);
        assertThat(sluice.meterRegistry().find("sluice_ingest_tenant_samples").tag("tenant", "meter-third").counter())
                .as("no series of its own").isNull();
        // tenants already metered keep their own series
        assertThat(post("/api/v1/ingest/metrics", keys.get("meter-http"), "{\"samples\":["
                + "{\"name\":\"cpu\",\"timestamp\":" + now + ",\"value\":1}]}").statusCode()).isEqualTo(202);
        assertThat(count("sluice_ingest_tenant_samples", "meter-http")).isEqualTo(3);

        String scrape = http.send(HttpRequest.newBuilder(uri("/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        assertThat(scrape).contains("sluice_ingest_tenant_samples_total{application=\"sluice\",tenant=\"meter-http\"} 3.0",
                "sluice_ingest_tenant_events_total{application=\"sluice\",tenant=\"meter-bin\"} 2.0",
                "sluice_ingest_tenant_samples_total{application=\"sluice\",tenant=\"_other\"} 1.0");
    }

    private static double count(String name, String tenant) {
        Counter counter = sluice.meterRegistry().find(name).tag("tenant", tenant).counter();
        return counter == null ? 0 : counter.count();
    }

    private static SluiceClient client(String key) {
        return SluiceClient.builder().address("127.0.0.1", sluice.port()).apiKey(key)
                .closeTimeout(Duration.ofSeconds(10)).build();
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + sluice.port() + path);
    }

    private static HttpResponse<String> post(String path, String key, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + key)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
