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
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Kafka down is not an outage: acks continue from the spool, and everything acknowledged reaches Kafka. */
@RealInfrastructure
class KafkaOutageTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final Duration WAIT = Duration.ofSeconds(60);

    @Test
    void theBrokerStoppedMidStreamThenRestartedLosesNothingAcknowledged(TestInfrastructure infra) throws Exception {
        String tenant = "outage-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.ENTERPRISE);
        try (GatewayRole sluice = GatewayRole.start(config(infra))) {
            Set<Double> acked = new HashSet<>();
            send(sluice, key, 0, 20, acked);
            infra.kafka().stop();
            try {
                send(sluice, key, 20, 40, acked); // answered from the spool
                assertThat(gauge(sluice, "sluice.spool.bytes")).isPositive();
                // the replayer keeps trying Kafka; its failures open the breaker
                await().atMost(WAIT).until(() -> gauge(sluice, "sluice_kafka_breaker_state") == 2.0);
            } finally {
                infra.kafka().start();
            }
            await().atMost(WAIT).until(() -> gauge(sluice, "sluice.spool.bytes") == 0.0);
            assertThat(valuesInKafka(infra, tenant)).containsAll(acked);
            assertThat(acked).hasSize(40 * 10);
        }
    }

    @Test
    void aGatewayRestartedWithANonEmptySpoolReplaysIt(TestInfrastructure infra) throws Exception {
        String tenant = "replay-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.ENTERPRISE);
        SluiceConfig config = config(infra);
        Set<Double> acked = new HashSet<>();
        try (GatewayRole sluice = GatewayRole.start(config)) {
            infra.kafka().stop();
            send(sluice, key, 0, 15, acked);
            assertThat(gauge(sluice, "sluice.spool.bytes")).isPositive();
        } finally {
            infra.kafka().start();
        }
        try (GatewayRole again = GatewayRole.start(config)) { // same spool directory: serves at once, replays behind
            await().atMost(WAIT).until(() -> gauge(again, "sluice.spool.bytes") == 0.0);
            assertThat(valuesInKafka(infra, tenant)).containsAll(acked);
            assertThat(acked).hasSize(15 * 10);
        }
    }

    @Test
    void aFullSpoolAnswers503WithRetryAfter(TestInfrastructure infra) throws Exception {
        String tenant = "full-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.ENTERPRISE);
        SluiceConfig base = config(infra);
        // a spool far below the spool.max-bytes minimum, so the test fills it quickly
        SluiceConfig config = base.withSpool(new io.sluice.config.SpoolConfig(base.spool().dir(), 4096, 1 << 20,
                Duration.ZERO, Duration.ofMillis(500)));
        try (GatewayRole sluice = GatewayRole.start(config)) {
            infra.kafka().stop();
            try {
                HttpResponse<String> response = null;
                for (int b = 0; b < 200; b++) {
                    response = post(sluice, key, b);
                    if (response.statusCode() != 202) {
                        break;
                    }
                }
                assertThat(response.statusCode()).isEqualTo(503);
                assertThat(response.headers().firstValue("retry-after")).isPresent();
                assertThat(response.body()).contains("\"code\":\"unavailable\"", "nothing was accepted");
                assertThat(sluice.meterRegistry().get("sluice_sink_segments").tag("outcome", "spool_full").counter()
                        .count()).isPositive();
                assertThat(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port()
                        + "/health/live")).build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
            } finally {
                infra.kafka().start();
            }
        }
    }

    private static HttpResponse<String> post(GatewayRole sluice, String key, int b) throws Exception {
        StringBuilder body = new StringBuilder("{\"samples\":[");
        for (int i = 0; i < 50; i++) {
            body.append(i == 0 ? "" : ",").append("{\"name\":\"full\",\"labels\":{\"s\":\"").append(i)
                    .append("\"},\"value\":").append(b * 50 + i).append('}');
        }
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + "/api/v1/ingest/metrics"))
                        .header("Authorization", "Bearer " + key).timeout(WAIT)
                        .POST(HttpRequest.BodyPublishers.ofString(body.append("]}").toString())).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static SluiceConfig config(TestInfrastructure infra) {
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("kafka.send-timeout", "500ms");
        overrides.put("kafka.request-timeout", "2s");
        return infra.configure(ConfigLoader.load(null, Map.of(), overrides));
    }

    /** Posts batches {@code from..to} of 10 samples each; every 202 adds its values to {@code acked}. */
    private static void send(GatewayRole sluice, String key, int from, int to, Set<Double> acked) throws Exception {
        long now = System.currentTimeMillis();
        for (int b = from; b < to; b++) {
            StringBuilder body = new StringBuilder("{\"samples\":[");
            for (int i = 0; i < 10; i++) {
                double value = b * 10 + i;
                body.append(i == 0 ? "" : ",").append("{\"name\":\"outage\",\"labels\":{\"s\":\"").append(i)
                        .append("\"},\"timestamp\":").append(now - b).append(",\"value\":").append(value).append('}');
            }
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + sluice.port() + "/api/v1/ingest/metrics"))
                    .header("Authorization", "Bearer " + key).timeout(WAIT)
                    .POST(HttpRequest.BodyPublishers.ofString(body.append("]}").toString())).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
            for (int i = 0; i < 10; i++) {
                acked.add((double) (b * 10 + i));
            }
        }
    }

    private static Set<Double> valuesInKafka(TestInfrastructure infra, String tenant) {
        Set<Double> values = new HashSet<>();
        for (KafkaTopicReader.Item item : KafkaTopicReader.readAll(infra.bootstrapServers(), "sluice.metrics")) {
            if (item.tenant().equals(tenant)) {
                values.add(item.value());
            }
        }
        return values;
    }

    private static double gauge(GatewayRole sluice, String name) {
        var gauge = sluice.meterRegistry().find(name).gauge();
        return gauge == null ? -1 : gauge.value();
    }
}
