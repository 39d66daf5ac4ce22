package io.sluice.gateway;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Ack;
import io.sluice.protocol.frame.GoAway;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Graceful shutdown, made deterministic by holding Kafka's acknowledgements at a gate: while work admitted
 * before the TERM is still in flight, the listener stays open, new HTTP requests get 503 shutting_down,
 * readiness says shutting_down and binary sessions get GOAWAY; the in-flight HTTP request and binary batch are
 * still answered; then everything closes.
 */
@RealInfrastructure
class GracefulShutdownTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void theListenerAnswers503ShuttingDownWhileInFlightWorkDrains(TestInfrastructure infra) throws Exception {
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("server.shutdown-grace", "60s");
        overrides.put("kafka.send-timeout", "60s"); // held batches wait at the gate, never go to the spool
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), "drain", Tier.ENTERPRISE);
        GatedSink[] gate = new GatedSink[1];
        GatewayRole sluice = GatewayRole.start(config, sink -> gate[0] = new GatedSink(sink));
        int port = sluice.port();
        try (RawAgent agent = RawAgent.session(port, key)) {
            gate[0].shut();
            long now = System.currentTimeMillis();
            CompletableFuture<HttpResponse<String>> heldHttp = http.sendAsync(ingest(port, key, now),
                    HttpResponse.BodyHandlers.ofString());
            agent.send(agent.batch(1, "drain.bin", 3, now, 0));
            await().atMost(Duration.ofSeconds(60)).until(() -> sluice.meterRegistry()
                    .get("sluice_ingest_in_flight_items").gauge().value() == 4); // 1 over HTTP, 3 over binary

            CompletableFuture<Void> closed = CompletableFuture.runAsync(sluice::close);
            assertThat(agent.next()).isInstanceOfSatisfying(GoAway.class,
                    g -> assertThat(g.reason()).isEqualTo(ErrorCode.SHUTTING_DOWN));

            HttpResponse<String> refused = http.send(ingest(port, key, now), HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(503);
            assertThat(refused.body()).startsWith("{\"error\":{\"status\":503,\"code\":\"shutting_down\",\"message\":");
            assertThat(refused.headers().firstValue("retry-after")).hasValue("1");
            HttpResponse<String> query = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/api/v1/labels")).header("Authorization", "Bearer " + key).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(query.statusCode()).isEqualTo(503);
            assertThat(query.body()).contains("\"code\":\"shutting_down\"");
            HttpResponse<String> ready = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).isEqualTo(503);
            assertThat(ready.body()).contains("\"status\":\"shutting_down\"");
            assertThat(sluice.meterRegistry().get("sluice_http_rejected").tag("reason", "shutting_down").counter()
                    .count()).isEqualTo(2);

            assertThat(closed).as("shutdown waits for the work admitted before").isNotDone();
            assertThat(heldHttp).isNotDone();
            gate[0].open();
            assertThat(heldHttp.get(30, TimeUnit.SECONDS).statusCode()).as("the in-flight request is answered")
                    .isEqualTo(202);
            assertThat(agent.next()).as("the in-flight batch is answered").isEqualTo(new Ack(1));
            assertThat(agent.closedByServer()).isTrue();
            closed.get(30, TimeUnit.SECONDS);
        } finally {
            gate[0].open();
            sluice.close();
        }
        assertThatThrownBy(() -> new Socket("127.0.0.1", port).close()).as("the listener is closed once drained")
                .isInstanceOf(ConnectException.class);
    }

    @Test
    void withNothingInFlightShutdownDoesNotWaitForTheGrace(TestInfrastructure infra) {
        Map<String, String> overrides = Map.of("server.port", "0", "server.shutdown-grace", "60s");
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        GatewayRole sluice = GatewayRole.start(config);
        long began = System.nanoTime();
        sluice.close();
        assertThat(Duration.ofNanos(System.nanoTime() - began)).isLessThan(Duration.ofSeconds(30));
    }

    private static HttpRequest ingest(int port, String key, long now) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/ingest/metrics"))
                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString("{\"samples\":[{\"name\":\"drain.http\",\"timestamp\":" + now
                        + ",\"value\":1}]}")).build();
    }
}
