package io.sluice.gateway.ingest;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.KafkaTopicReader;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.protocol.client.RecordBatch;
import io.sluice.protocol.client.SluiceClient;
import io.sluice.protocol.record.Series;
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
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A broker that dies or freezes under a running gateway: ingest keeps being acknowledged from the spool
 * without each batch waiting out {@code kafka.send-timeout} when the producer has lost its connections, within
 * {@code kafka.send-timeout} when the broker merely stops answering; readiness answers within its deadline;
 * and everything acknowledged reaches Kafka once the broker is back.
 */
@RealInfrastructure
class KafkaBrokerLossTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final Duration WAIT = Duration.ofSeconds(90);

    @Test
    void batchesWaitingForAKilledBrokerAreSpooledWithoutWaitingForTheSendTimeout(TestInfrastructure infra)
            throws Exception {
        String tenant = "killed-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.ENTERPRISE);
        Duration sendTimeout = Duration.ofSeconds(60); // far longer than anything this test may wait
        Set<Double> acked = new HashSet<>();
        try (GatewayRole sluice = GatewayRole.start(config(infra, Map.of("kafka.send-timeout", "60s")))) {
            post(sluice, key, 0, acked); // the producer is connected
            assertThat(counter(sluice, "sluice_sink_segments", "kafka")).isPositive();
            infra.kafka().kill();
            try {
                long began = System.nanoTime();
                post(sluice, key, 1, acked);
                assertThat(Duration.ofNanos(System.nanoTime() - began)).as("acked from the spool, not after the send timeout")
                        .isLessThan(sendTimeout.dividedBy(2));
                assertThat(sluice.meterRegistry().get("sluice_sink_diverted_segments").counter().count()).isPositive();
                try (SluiceClient client = SluiceClient.builder().address("127.0.0.1", sluice.port()).apiKey(key)
                        .closeTimeout(Duration.ofSeconds(10)).build()) {
                    RecordBatch batch = client.newBatch();
                    for (int i = 0; i < 10; i++) {
                        batch.addSample(Series.of("killed.binary", "i", Integer.toString(i)),
                                System.currentTimeMillis(), 500 + i);
                    }
                    client.send(batch).get(sendTimeout.toMillis() / 2, TimeUnit.MILLISECONDS);
                    for (int i = 0; i < 10; i++) {
                        acked.add(500.0 + i);
                    }
                }
                for (int b = 2; b < 6; b++) {
                    post(sluice, key, b, acked);
                }
            } finally {
                infra.kafka().start();
            }
            await().atMost(WAIT).until(() -> gauge(sluice, "sluice.spool.bytes") == 0.0);
            post(sluice, key, 6, acked);
        }
        assertThat(valuesInKafka(infra, tenant)).containsAll(acked);
        assertThat(acked).hasSize(7 * 10 + 10);
    }

    @Test
    void aFrozenBrokerLeavesNothingUnansweredAndEverythingWorksAfterItResumes(TestInfrastructure infra)
            throws Exception {
        String tenant = "frozen-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.ENTERPRISE);
        Duration sendTimeout = Duration.ofSeconds(2);
        Duration healthTimeout = Duration.ofSeconds(2);
        Duration slack = Duration.ofSeconds(1);
        Set<Double> acked = new HashSet<>();
        try (GatewayRole sluice = GatewayRole.start(config(infra, Map.of("kafka.send-timeout", "2s",
                "kafka.admin-timeout", "1s", "server.health-timeout", "2s")))) {
            post(sluice, key, 0, acked);
            long pid = infra.kafka().pid();
            signal("STOP", pid);
            try {
                for (int b = 1; b < 5; b++) {
                    long began = System.nanoTime();
                    post(sluice, key, b, acked);
                    assertThat(Duration.ofNanos(System.nanoTime() - began)).as("batch %d acknowledged", b)
                            .isLessThanOrEqualTo(sendTimeout.plus(slack));
                }
                try (SluiceClient client = SluiceClient.builder().address("127.0.0.1", sluice.port()).apiKey(key)
                        .closeTimeout(Duration.ofSeconds(10)).build()) {
                    RecordBatch batch = client.newBatch();
                    for (int i = 0; i < 10; i++) {
                        batch.addSample(Series.of("frozen.binary", "i", Integer.toString(i)),
                                System.currentTimeMillis(), 700 + i);
                    }
                    long began = System.nanoTime();
                    client.send(batch).get(30, TimeUnit.SECONDS);
                    assertThat(Duration.ofNanos(System.nanoTime() - began)).as("binary batch acknowledged")
                            .isLessThanOrEqualTo(sendTimeout.plus(slack));
                    for (int i = 0; i < 10; i++) {
                        acked.add(700.0 + i);
                    }
                }
                long began = System.nanoTime();
                HttpResponse<String> ready = get(sluice, "/health/ready");
                assertThat(Duration.ofNanos(System.nanoTime() - began)).as("readiness answered")
                        .isLessThanOrEqualTo(healthTimeout.plus(slack));
                assertThat(ready.statusCode()).isEqualTo(503);
                assertThat(ready.body()).contains("\"kafka\":\"failed");
                assertThat(get(sluice, "/health/live").statusCode()).isEqualTo(200);
            } finally {
                signal("CONT", pid);
            }
            await().atMost(WAIT).until(() -> gauge(sluice, "sluice.spool.bytes") == 0.0);
            await().atMost(WAIT).untilAsserted(() -> assertThat(get(sluice, "/health/ready").statusCode())
                    .isEqualTo(200));
            post(sluice, key, 5, acked);
        }
        assertThat(valuesInKafka(infra, tenant)).containsAll(acked);
        assertThat(acked).hasSize(6 * 10 + 10);
    }

    private static void signal(String signal, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).as("kill -%s %d", signal, pid).isZero();
    }

    private static SluiceConfig config(TestInfrastructure infra, Map<String, String> settings) {
        Map<String, String> overrides = new HashMap<>(settings);
        overrides.put("server.port", "0");
        overrides.put("kafka.request-timeout", "5s");
        return infra.configure(ConfigLoader.load(null, Map.of(), overrides));
    }

    /** Posts batch {@code b} of 10 samples and expects 202; adds its values to {@code acked}. */
    private static void post(GatewayRole sluice, String key, int b, Set<Double> acked) throws Exception {
        long now = System.currentTimeMillis();
        StringBuilder body = new StringBuilder("{\"samples\":[");
        for (int i = 0; i < 10; i++) {
            body.append(i == 0 ? "" : ",").append("{\"name\":\"loss\",\"labels\":{\"s\":\"").append(i)
                    .append("\"},\"timestamp\":").append(now - b).append(",\"value\":").append(b * 10 + i).append('}');
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

    private static HttpResponse<String> get(GatewayRole sluice, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + path)).timeout(WAIT)
                .build(), HttpResponse.BodyHandlers.ofString());
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

    private static double counter(GatewayRole sluice, String name, String outcome) {
        return sluice.meterRegistry().get(name).tag("outcome", outcome).counter().count();
    }

    private static double gauge(GatewayRole sluice, String name) {
        var gauge = sluice.meterRegistry().find(name).gauge();
        return gauge == null ? -1 : gauge.value();
    }
}
