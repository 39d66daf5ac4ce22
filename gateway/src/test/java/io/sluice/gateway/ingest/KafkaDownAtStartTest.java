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
import io.sluice.storage.SeriesIds;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.embedded.EmbeddedKafkaBroker;
import io.sluice.storage.kafka.Placement;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.sluice.storage.writer.WriterRole;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A gateway started while its Kafka is down serves: health answers (ready names Kafka), ingest over HTTP and
 * binary is acknowledged from the spool, redirects answer, and the writer role starts too; once the broker
 * starts, the topics are created, every acknowledged item reaches Kafka, in the partition its topic's real count
 * puts it in, and the writer stores it.
 *
 * <p>The broker is one of this test's own (the shared one stays up): its {@code metrics} topic exists with
 * {@value #METRICS_PARTITIONS} partitions while the gateway would create {@value #CONFIGURED_PARTITIONS}, so
 * what was spooled before the topics were known must be placed again.
 */
@RealInfrastructure
class KafkaDownAtStartTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int METRICS_PARTITIONS = 2;
    private static final int CONFIGURED_PARTITIONS = 6;
    /** Topics of their own: the writer keeps its offsets per topic in the shared PostgreSQL. */
    private static final String PREFIX = "down.";

    @Test
    void aGatewayStartedWithKafkaDownAcknowledgesFromTheSpoolAndDeliversOnceKafkaIsUp(TestInfrastructure infra)
            throws Exception {
        String tenant = "down-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.ENTERPRISE);
        try (EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker(infra.newDirectory("kafka-down-"),
                Duration.ofSeconds(120), "256m")) {
            broker.start(); // to fix its ports, and to give it a metrics topic of another partition count
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                    broker.bootstrapServers()))) {
                admin.createTopics(List.of(new NewTopic(PREFIX + "metrics", METRICS_PARTITIONS, (short) 1))).all()
                        .get(30, TimeUnit.SECONDS);
            }
            broker.stop();

            SluiceConfig config = config(infra, broker.bootstrapServers());
            Set<Double> acked = new HashSet<>();
            Set<String> ackedEvents = new HashSet<>();
            String code;
            SimpleMeterRegistry writerMetrics = new SimpleMeterRegistry();
            try (GatewayRole sluice = GatewayRole.start(config);
                 WriterRole writer = WriterRole.start(config, writerMetrics)) {
                assertThat(get(sluice, "/health/live").statusCode()).isEqualTo(200);
                HttpResponse<String> ready = get(sluice, "/health/ready");
                assertThat(ready.statusCode()).isEqualTo(503);
                assertThat(ready.body()).contains("\"kafka\":\"failed", "\"kafka_topics\":\"failed");

                for (int b = 0; b < 10; b++) {
                    HttpResponse<String> response = postSamples(sluice, key, b);
                    assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
                    for (int i = 0; i < 10; i++) {
                        acked.add((double) (b * 10 + i));
                    }
                }
                try (SluiceClient client = SluiceClient.builder().address("127.0.0.1", sluice.port()).apiKey(key)
                        .closeTimeout(Duration.ofSeconds(10)).build()) {
                    List<CompletableFuture<Void>> acks = new ArrayList<>();
                    long now = System.currentTimeMillis();
                    for (int b = 0; b < 10; b++) {
                        RecordBatch batch = client.newBatch();
                        for (int i = 0; i < 20; i++) {
                            batch.addSample(Series.of("down.binary", "host", "h" + i), now - b, 1_000 + b * 20 + i);
                        }
                        batch.addEvent("down-evt-" + b, "deploy", now, "api", Map.of("b", Integer.toString(b)));
                        acks.add(client.send(batch));
                    }
                    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
                    for (int n = 0; n < 200; n++) {
                        acked.add((double) (1_000 + n));
                    }
                    for (int b = 0; b < 10; b++) {
                        ackedEvents.add("down-evt-" + b);
                    }
                }
                assertThat(gauge(sluice, "sluice.spool.bytes")).as("acknowledged from the spool").isPositive();

                // links work while Kafka is down (PostgreSQL is up); the click waits for Kafka
                HttpResponse<String> created = send(sluice, "POST", "/api/v1/links", key,
                        "{\"url\":\"https://example.com/kafka-down\"}");
                assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
                Matcher m = Pattern.compile("\"code\":\"([^\"]+)\"").matcher(created.body());
                assertThat(m.find()).isTrue();
                code = m.group(1);
                assertThat(send(sluice, "GET", "/" + code, null, null).statusCode()).isEqualTo(302);

                broker.start();
                await().atMost(WAIT).untilAsserted(() -> assertThat(get(sluice, "/health/ready").statusCode())
                        .isEqualTo(200));
                await().atMost(WAIT).until(() -> gauge(sluice, "sluice.spool.bytes") == 0.0);
                await().atMost(WAIT).until(() -> sluice.meterRegistry().get("sluice_clicks").tag("outcome", "sent")
                        .counter().count() >= 1);
                await().atMost(WAIT).until(() -> writerMetrics.find("sluice_writer_rows").tag("table", "samples")
                        .counter() != null && writerMetrics.get("sluice_writer_rows").tag("table", "samples").counter()
                        .count() >= acked.size());
            }

            long tenantHash = SeriesIds.tenantHash(tenant);
            List<KafkaTopicReader.Item> samples = KafkaTopicReader.readAll(broker.bootstrapServers(),
                    PREFIX + "metrics").stream().filter(item -> item.tenant().equals(tenant)).toList();
            assertThat(samples.stream().map(KafkaTopicReader.Item::value).toList()).containsAll(acked);
            for (KafkaTopicReader.Item item : samples) {
                assertThat(item.partition()).as("partition of %s", item)
                        .isEqualTo(Placement.ofSample(tenantHash, Series.of(item.name(), item.labels()),
                                METRICS_PARTITIONS));
            }
            List<KafkaTopicReader.Item> events = KafkaTopicReader.readAll(broker.bootstrapServers(),
                    PREFIX + "events").stream().filter(item -> item.tenant().equals(tenant)).toList();
            assertThat(events.stream().map(e -> e.labels().get("id")).toList()).containsAll(ackedEvents);
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                    broker.bootstrapServers()))) {
                assertThat(admin.describeTopics(List.of(PREFIX + "events")).allTopicNames().get(30, TimeUnit.SECONDS)
                        .get(PREFIX + "events").partitions()).as("created by the gateway once Kafka was up")
                        .hasSize(CONFIGURED_PARTITIONS);
            }
            assertThat(KafkaTopicReader.readAll(broker.bootstrapServers(), PREFIX + "clicks"))
                    .anySatisfy(click -> assertThat(click.labels()).containsEntry("key", code));
        }
    }

    private static SluiceConfig config(TestInfrastructure infra, String bootstrap) {
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("kafka.send-timeout", "1s");
        overrides.put("kafka.admin-timeout", "1s");
        overrides.put("kafka.partitions", Integer.toString(CONFIGURED_PARTITIONS));
        overrides.put("kafka.topic-prefix", PREFIX);
        overrides.put("links.click-flush-interval", "200ms");
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        return config.withKafka(config.kafka().withBootstrapServers(bootstrap));
    }

    private static HttpResponse<String> postSamples(GatewayRole sluice, String key, int b) throws Exception {
        long now = System.currentTimeMillis();
        StringBuilder body = new StringBuilder("{\"samples\":[");
        for (int i = 0; i < 10; i++) {
            body.append(i == 0 ? "" : ",").append("{\"name\":\"down.http\",\"labels\":{\"s\":\"").append(i)
                    .append("\"},\"timestamp\":").append(now - b).append(",\"value\":").append(b * 10 + i).append('}');
        }
        return send(sluice, "POST", "/api/v1/ingest/metrics", key, body.append("]}").toString());
    }

    private static HttpResponse<String> get(GatewayRole sluice, String path) throws Exception {
        return send(sluice, "GET", path, null, null);
    }

    private static HttpResponse<String> send(GatewayRole sluice, String method, String path, String key, String body)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + path))
                .timeout(WAIT).method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static double gauge(GatewayRole sluice, String name) {
        var gauge = sluice.meterRegistry().find(name).gauge();
        return gauge == null ? -1 : gauge.value();
    }
}
