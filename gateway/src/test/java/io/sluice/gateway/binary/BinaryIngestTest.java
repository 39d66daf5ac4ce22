package io.sluice.gateway.binary;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.KafkaTopicReader;
import io.sluice.gateway.RawAgent;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.protocol.client.RecordBatch;
import io.sluice.protocol.client.SluiceClient;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Ack;
import io.sluice.protocol.frame.ErrorFrame;
import io.sluice.protocol.frame.Nack;
import io.sluice.protocol.record.Series;
import io.r2dbc.pool.ConnectionPool;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The binary protocol end to end on the shared port (plain and TLS) and the binary-only port: exactly the
 * acknowledged samples in real Kafka, auth, quotas, refused records and malformed input; with
 * {@code binary.flush-delay} 0.
 */
@RealInfrastructure
class BinaryIngestTest {

    private static GatewayRole sluice;
    private static String bootstrap;
    private static Path cert;
    private static final Map<String, String> keys = new HashMap<>();

    @BeforeAll
    static void start(TestInfrastructure infra) throws Exception {
        cert = Path.of(BinaryIngestTest.class.getResource("/tls/cert.pem").toURI());
        Path key = Path.of(BinaryIngestTest.class.getResource("/tls/key.pem").toURI());
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("server.binary-port", "0");
        overrides.put("server.tls.cert-file", cert.toString());
        overrides.put("server.tls.key-file", key.toString());
        overrides.put("binary.max-frame-bytes", "64KiB");
        overrides.put("tenants.free.items-per-minute", "100");
        overrides.put("ingest.max-active-series", "50");
        // each read's batches sent at once (BinarySessionRulesTest runs with a delay)
        overrides.put("binary.flush-delay", "0s");
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        bootstrap = infra.bootstrapServers();
        // A pool of its own: the shared one may hold connections from before another class restarted PostgreSQL.
        ConnectionPool pool = PostgresConnections.pool(config.postgres());
        try {
            ApiKeyStore store = new ApiKeyStore(pool);
            for (String tenant : List.of("bin-exact", "bin-tls", "bin-other", "bin-refused")) {
                keys.put(tenant, KeysCommand.create(store, tenant, Tier.ENTERPRISE));
            }
            keys.put("bin-free", KeysCommand.create(store, "bin-free", Tier.FREE));
        } finally {
            pool.dispose();
        }
        sluice = GatewayRole.start(config);
    }

    @AfterAll
    static void stop() {
        sluice.close();
    }

    @Test
    void everyAcknowledgedSampleIsInKafkaExactlyOnce() throws Exception {
        int batches = 40;
        int perBatch = 250;
        long now = System.currentTimeMillis();
        List<CompletableFuture<Void>> acks = new ArrayList<>();
        try (SluiceClient client = client(keys.get("bin-exact"), null)) {
            for (int b = 0; b < batches; b++) {
                RecordBatch batch = client.newBatch();
                for (int i = 0; i < perBatch; i++) {
                    int n = b * perBatch + i;
                    batch.addSample(Series.of("agent.cpu", "host", "h" + n % 20), now - n % 1000, n);
                }
                acks.add(client.send(batch));
            }
            RecordBatch events = client.newBatch();
            for (int i = 0; i < 3; i++) {
                events.addEvent("bin-evt-" + i, "deploy", now, "api", Map.of("v", Integer.toString(i)));
            }
            acks.add(client.send(events));
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        }

        List<KafkaTopicReader.Item> samples = KafkaTopicReader.readAll(bootstrap, "sluice.metrics").stream()
                .filter(item -> item.tenant().equals("bin-exact")).toList();
        assertThat(samples).hasSize(batches * perBatch);
        assertThat(samples.stream().mapToDouble(KafkaTopicReader.Item::value).sorted().toArray())
                .containsExactly(IntStream.range(0, batches * perBatch).asDoubleStream().toArray());
        assertThat(samples).allSatisfy(s -> {
            assertThat(s.name()).isEqualTo("agent.cpu");
            assertThat(s.labels()).containsEntry("host", "h" + (long) s.value() % 20);
            assertThat(s.timestampMs()).isEqualTo(now - (long) s.value() % 1000);
        });
        assertThat(KafkaTopicReader.readAll(bootstrap, "sluice.events").stream()
                .filter(item -> item.tenant().equals("bin-exact")).map(item -> item.labels().get("id")))
                .containsExactlyInAnyOrder("bin-evt-0", "bin-evt-1", "bin-evt-2");
        assertThat(counter("sluice_ingest_accepted", "kind", "samples")).isGreaterThanOrEqualTo(batches * perBatch);
    }

    @Test
    void httpAndBinaryShareThePortInsideAndOutsideTls() throws Exception {
        HttpClient plain = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        assertThat(plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + "/health/live"))
                .build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        HttpClient tls = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(trustingTestCert()).build();
        HttpResponse<String> overTls = tls.send(HttpRequest.newBuilder(
                URI.create("https://127.0.0.1:" + sluice.port() + "/health/live")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(overTls.statusCode()).isEqualTo(200);

        long now = System.currentTimeMillis();
        SslContext clientTls = SslContextBuilder.forClient().trustManager(cert.toFile()).build();
        for (int port : new int[] {sluice.port(), sluice.binaryPort()}) {
            try (SluiceClient client = client(keys.get("bin-tls"), clientTls, port)) {
                RecordBatch batch = client.newBatch();
                for (int i = 0; i < 100; i++) {
                    batch.addSample(Series.of("tls.metric", "port", port == sluice.port() ? "shared" : "binary"), now - i, i);
                }
                client.send(batch).get(30, TimeUnit.SECONDS);
            }
        }
        List<KafkaTopicReader.Item> inKafka = KafkaTopicReader.readAll(bootstrap, "sluice.metrics").stream()
                .filter(item -> item.tenant().equals("bin-tls")).toList();
        assertThat(inKafka).hasSize(200);
        assertThat(inKafka.stream().filter(i -> i.labels().get("port").equals("shared"))).hasSize(100);
    }

    @Test
    void aWrongKeyGetsAuthFailedAndAClosedConnection() throws Exception {
        try (RawAgent agent = RawAgent.connect(sluice.port())) {
            agent.hello("sk_not-a-real-key");
            assertThat(agent.next()).isInstanceOfSatisfying(ErrorFrame.class,
                    e -> assertThat(e.code()).isEqualTo(ErrorCode.AUTH_FAILED));
            assertThat(agent.closedByServer()).isTrue();
        }
        assertThat(rejected("auth_failed")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void aTenantOverItsItemQuotaIsThrottledWhileAnotherIsServed() throws Exception {
        long now = System.currentTimeMillis();
        try (RawAgent free = RawAgent.session(sluice.port(), keys.get("bin-free"));
             RawAgent other = RawAgent.session(sluice.port(), keys.get("bin-other"))) {
            free.send(free.batch(1, "quota.metric", 60, now, 0));
            assertThat(free.next()).isEqualTo(new Ack(1));
            free.send(free.batch(2, "quota.metric", 60, now, 0));
            assertThat(free.next()).isInstanceOfSatisfying(Nack.class, nack -> {
                assertThat(nack.sequence()).isEqualTo(2);
                assertThat(nack.code()).isEqualTo(ErrorCode.THROTTLED);
                assertThat(nack.retryAfterMs()).isPositive();
                assertThat(nack.message()).contains("bin-free", "item quota of 100");
            });
            other.send(other.batch(7, "quota.metric", 60, now, 0));
            assertThat(other.next()).as("another tenant").isEqualTo(new Ack(7));
        }
        assertThat(rejected("item_quota")).isGreaterThanOrEqualTo(60);
    }

    @Test
    void recordsTheGatewayRefusesGetANonRetriableNackForTheWholeBatch() throws Exception {
        long now = System.currentTimeMillis();
        try (RawAgent agent = RawAgent.session(sluice.port(), keys.get("bin-refused"))) {
            agent.send(agent.batch(1, "late.metric", 5, now - Duration.ofHours(2).toMillis(), 0));
            assertThat(agent.next()).isInstanceOfSatisfying(Nack.class, nack -> {
                assertThat(nack.code()).isEqualTo(ErrorCode.INVALID_RECORD);
                assertThat(nack.message()).contains("ingest.late-window");
            });
            byte[] tooMany = new byte[0];
            for (int s = 0; s < 6; s++) { // 6 metrics x 10 label values = 60 series > 50
                tooMany = io.sluice.protocol.TestFrames.concat(tooMany, agent.batch(10 + s, "card" + s, 10, now, 0));
            }
            agent.send(tooMany);
            List<Object> answers = new ArrayList<>();
            for (int s = 0; s < 6; s++) {
                answers.add(agent.next());
            }
            assertThat(answers).anySatisfy(a -> assertThat(a).isInstanceOfSatisfying(Nack.class, nack -> {
                assertThat(nack.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
                assertThat(nack.message()).contains("ingest.max-active-series");
            }));
        }
        assertThat(rejected("too_old")).isEqualTo(5);
        assertThat(rejected("cardinality_limit")).isGreaterThanOrEqualTo(10);
    }

    @Test
    void malformedInputGetsTheRightErrorAndTheServerStaysHealthy() throws Exception {
        long now = System.currentTimeMillis();
        try (RawAgent bystander = RawAgent.session(sluice.port(), keys.get("bin-other"))) {
            // Not the magic on the binary-only port.
            expectError(RawAgent.connect(sluice.binaryPort()), "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
                    ErrorCode.PROTOCOL_ERROR);
            // The magic, then a version the gateway does not speak.
            expectError(RawAgent.connect(sluice.port()), new byte[] {(byte) 0x89, 'S', 'L', 'U', 0, 9},
                    ErrorCode.UNSUPPORTED_VERSION);
            // A frame header announcing more than binary.max-frame-bytes (64 KiB).
            expectError(RawAgent.session(sluice.port(), keys.get("bin-other")), new byte[] {0, 0x10, 0, 0, 3, 0},
                    ErrorCode.FRAME_TOO_LARGE);
            // Garbage: an unknown frame type.
            expectError(RawAgent.session(sluice.port(), keys.get("bin-other")), new byte[] {0, 0, 0, 0, 0x7f, 0, 1, 2},
                    ErrorCode.PROTOCOL_ERROR);

            bystander.send(bystander.batch(1, "bystander.metric", 3, now, 0));
            assertThat(bystander.next()).as("another connection is unaffected").isEqualTo(new Ack(1));
        }
        HttpClient http = HttpClient.newHttpClient();
        assertThat(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + "/health/live"))
                .build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        assertThat(rejected("frame_too_large")).isGreaterThanOrEqualTo(1);
        assertThat(rejected("unsupported_version")).isGreaterThanOrEqualTo(1);
        assertThat(rejected("protocol_error")).isGreaterThanOrEqualTo(2);
    }

    private static void expectError(RawAgent agent, byte[] bytes, ErrorCode code) throws Exception {
        try (agent) {
            agent.send(bytes);
            assertThat(agent.next()).isInstanceOfSatisfying(ErrorFrame.class, e -> assertThat(e.code()).isEqualTo(code));
            assertThat(agent.closedByServer()).isTrue();
        }
    }

    private static SluiceClient client(String key, SslContext tls) {
        return client(key, tls, sluice.port());
    }

    private static SluiceClient client(String key, SslContext tls, int port) {
        return SluiceClient.builder().address("127.0.0.1", port).apiKey(key).tls(tls)
                .closeTimeout(Duration.ofSeconds(10)).build();
    }

    private static SSLContext trustingTestCert() throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = BinaryIngestTest.class.getResourceAsStream("/tls/cert.pem")) {
            trust.setCertificateEntry("sluice-test", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return ssl;
    }

    private static double rejected(String reason) {
        var c = sluice.meterRegistry().find("sluice_ingest_rejected").tag("reason", reason)
                .tag("transport", "binary").counter();
        return c == null ? 0 : c.count();
    }

    private static double counter(String name, String tag, String value) {
        var c = sluice.meterRegistry().find(name).tag(tag, value).tag("transport", "binary").counter();
        return c == null ? 0 : c.count();
    }
}
