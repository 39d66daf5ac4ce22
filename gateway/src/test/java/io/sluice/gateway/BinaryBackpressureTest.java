package io.sluice.gateway;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.protocol.TestFrames;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Ack;
import io.sluice.protocol.frame.ErrorFrame;
import io.sluice.protocol.frame.GoAway;
import io.sluice.protocol.frame.HelloOk;
import io.r2dbc.pool.ConnectionPool;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Flow control of binary sessions, made deterministic by holding Kafka's acknowledgements at a gate in front
 * of the real broker: the per-connection window, the global in-flight mark pausing and resuming socket
 * reads (and HTTP answering 503 meanwhile), and GOAWAY at shutdown.
 */
@RealInfrastructure
class BinaryBackpressureTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static TestInfrastructure infra;
    private static SluiceConfig config;
    private static GatedSink gate;
    private static GatewayRole sluice;
    private static String key;

    @BeforeAll
    static void start(TestInfrastructure testInfra) {
        infra = testInfra;
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("binary.max-in-flight-batches", "2");
        overrides.put("ingest.max-in-flight-items", "100");
        overrides.put("server.shutdown-grace", "20s");
        config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        // A pool of its own: the shared one may hold connections from before another class restarted PostgreSQL.
        ConnectionPool pool = PostgresConnections.pool(config.postgres());
        try {
            key = KeysCommand.create(new ApiKeyStore(pool), "flow", Tier.ENTERPRISE);
        } finally {
            pool.dispose();
        }
        sluice = GatewayRole.start(config, sink -> gate = new GatedSink(sink));
    }

    @AfterAll
    static void stop() {
        sluice.close();
    }

    @AfterEach
    void drain() {
        gate.open();
        await().atMost(Duration.ofSeconds(20)).until(() -> gauge(sluice, "sluice_ingest_in_flight_items") == 0);
    }

    @Test
    void aClientBeyondItsWindowGetsAProtocolErrorAndIsClosed() throws Exception {
        gate.shut();
        long now = System.currentTimeMillis();
        try (RawAgent agent = RawAgent.connect(sluice.port())) {
            agent.hello(key);
            assertThat(agent.next()).isInstanceOfSatisfying(HelloOk.class,
                    ok -> assertThat(ok.maxInFlightBatches()).isEqualTo(2));
            agent.send(TestFrames.concat(agent.batch(1, "w", 1, now, 0), agent.batch(2, "w", 1, now, 0),
                    agent.batch(3, "w", 1, now, 0)));
            assertThat(agent.next()).isInstanceOfSatisfying(ErrorFrame.class, e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.PROTOCOL_ERROR);
                assertThat(e.message()).contains("BATCH 3", "maxInFlightBatches");
            });
            assertThat(agent.closedByServer()).isTrue();
        }
        assertThat(rejected("window_exceeded")).isEqualTo(1);
    }

    @Test
    void aboveTheHighMarkReadsPauseAndHttpGets503UntilKafkaCatchesUp() throws Exception {
        long now = System.currentTimeMillis();
        try (RawAgent first = RawAgent.session(sluice.port(), key);
             RawAgent second = RawAgent.session(sluice.port(), key)) {
            gate.shut();
            first.send(first.batch(1, "bp", 100, now, 0)); // 100 items = ingest.max-in-flight-items
            await().atMost(Duration.ofSeconds(10)).until(() -> gauge(sluice, "sluice_binary_connections_paused") == 2);
            assertThat(gauge(sluice, "sluice_ingest_reads_paused")).isEqualTo(1);
            assertThat(gauge(sluice, "sluice_ingest_in_flight_items")).isEqualTo(100);

            HttpResponse<String> saturated = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + sluice.port() + "/api/v1/ingest/metrics"))
                    .header("Authorization", "Bearer " + key)
                    .POST(HttpRequest.BodyPublishers.ofString("{\"samples\":[{\"name\":\"h\",\"value\":1}]}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(saturated.statusCode()).isEqualTo(503);
            assertThat(saturated.headers().firstValue("retry-after")).hasValue("1");
            assertThat(saturated.body()).contains("ingest.max-in-flight-items");

            // Sent while reads are paused: they wait in the socket instead of being refused.
            first.send(first.batch(2, "bp", 10, now, 0));
            second.send(second.batch(1, "bp", 10, now, 0));
            assertThat(gauge(sluice, "sluice_ingest_in_flight_items")).as("nothing more was admitted").isEqualTo(100);

            gate.open();
            assertThat(List.of(first.next(), first.next())).containsExactly(new Ack(1), new Ack(2));
            assertThat(second.next()).isEqualTo(new Ack(1));
        }
        assertThat(gauge(sluice, "sluice_ingest_reads_paused")).isZero();
        assertThat(rejected("saturated")).as("binary batches waited, none was refused").isZero();
        assertThat(counter(sluice, "sluice_ingest_read_pauses")).isEqualTo(1);
    }

    @Test
    void shutdownSendsGoAwayAndClosesOnceInFlightBatchesAreAcknowledged() throws Exception {
        GatedSink[] ownGate = new GatedSink[1];
        SluiceConfig own = config.withSpool(config.spool().withDir(java.nio.file.Files.createTempDirectory("spool-")));
        GatewayRole closing = GatewayRole.start(own, sink -> ownGate[0] = new GatedSink(sink));
        try (RawAgent agent = RawAgent.session(closing.port(), key)) {
            ownGate[0].shut();
            agent.send(agent.batch(1, "bye", 5, System.currentTimeMillis(), 0));
            await().atMost(Duration.ofSeconds(10)).until(() -> gauge(closing, "sluice_ingest_in_flight_items") == 5);
            CompletableFuture<Void> closed = CompletableFuture.runAsync(closing::close);
            assertThat(agent.next()).isInstanceOfSatisfying(GoAway.class,
                    g -> assertThat(g.reason()).isEqualTo(ErrorCode.SHUTTING_DOWN));
            assertThat(closed).isNotDone();
            ownGate[0].open();
            assertThat(agent.next()).as("the in-flight batch is still answered").isEqualTo(new Ack(1));
            assertThat(agent.closedByServer()).isTrue();
            closed.get(20, TimeUnit.SECONDS);
        } finally {
            ownGate[0].open();
            closing.close();
        }
    }

    private static double rejected(String reason) {
        var c = sluice.meterRegistry().find("sluice_ingest_rejected").tag("reason", reason)
                .tag("transport", "binary").counter();
        return c == null ? 0 : c.count();
    }

    private static double gauge(GatewayRole s, String name) {
        return s.meterRegistry().get(name).gauge().value();
    }

    private static double counter(GatewayRole s, String name) {
        return s.meterRegistry().get(name).counter().count();
    }
}
