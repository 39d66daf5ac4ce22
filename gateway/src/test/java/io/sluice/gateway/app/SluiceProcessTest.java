package io.sluice.gateway.app;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.StoredSamples;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Roles mean what they say: a writer-only process binds no ingest port and answers health and metrics on
 * {@code admin.port}; a gateway-only process runs no writer; the two together store what the gateway acknowledged.
 */
@RealInfrastructure
class SluiceProcessTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final Duration WAIT = Duration.ofSeconds(90);

    private static SluiceConfig config(TestInfrastructure infra, Path spool, String roles, int serverPort) {
        return infra.configure(ConfigLoader.load(null, Map.of(), Map.of("roles", roles,
                "server.port", Integer.toString(serverPort), "admin.port", "0",
                "spool.dir", spool.toString())));
    }

    @Test
    void aWriterAloneBindsOnlyItsAdminPortAndAGatewayAloneWritesNothing(TestInfrastructure infra,
                                                                       @TempDir Path dir) throws Exception {
        int ingestPort = freePort();
        try (SluiceProcess writer = SluiceProcess.start(config(infra, dir.resolve("w"), "writer", ingestPort))) {
            assertThat(writer.roleNames()).containsExactly("writer");
            assertThat(writer.gateway()).isEmpty();
            assertThatThrownBy(() -> new Socket("127.0.0.1", ingestPort).close())
                    .as("server.port is not bound by a writer-only process").isInstanceOf(ConnectException.class);
            int admin = writer.adminPort().orElseThrow();
            assertThat(get(admin, "/health/live").statusCode()).isEqualTo(200);
            await().atMost(WAIT).untilAsserted(() -> {
                HttpResponse<String> ready = get(admin, "/health/ready");
                assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
                assertThat(ready.body()).contains("\"writer\":\"ok\"", "\"kafka\":\"ok\"", "\"postgres\":\"ok\"");
            });
            String metrics = get(admin, "/metrics").body();
            assertThat(metrics).contains("sluice_writer_rows_total", "jvm_memory_used_bytes")
                    .as("no gateway in this process").doesNotContain("sluice_ingest_in_flight_items");
            HttpResponse<String> ingest = http.send(HttpRequest.newBuilder(uri(admin, "/api/v1/ingest/metrics"))
                    .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ingest.statusCode()).as("the admin listener serves no API").isIn(404, 405);

            String tenant = "roles-" + UUID.randomUUID().toString().substring(0, 8);
            String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.FREE);
            try (SluiceProcess gateway = SluiceProcess.start(config(infra, dir.resolve("g"), "gateway", 0))) {
                assertThat(gateway.roleNames()).containsExactly("gateway");
                assertThat(gateway.adminPort()).as("a gateway serves health on its own port").isEmpty();
                int port = gateway.gateway().orElseThrow().port();
                long now = System.currentTimeMillis();
                HttpResponse<String> sent = http.send(HttpRequest.newBuilder(uri(port, "/api/v1/ingest/metrics"))
                        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"samples\":[{\"name\":\"split.roles\","
                                + "\"timestamp\":" + now + ",\"value\":7}]}")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(sent.statusCode()).as(sent.body()).isEqualTo(202);
                await().atMost(WAIT).untilAsserted(() -> assertThat(StoredSamples.of(infra.connectionFactory(), tenant))
                        .extracting(StoredSamples.Sample::value).containsExactly(7.0));
                assertThat(get(port, "/metrics").body()).as("no writer in the gateway-only process")
                        .doesNotContain("sluice_writer_rows_total");
                assertThat(get(admin, "/metrics").body()).as("the writer-only process stored it")
                        .containsPattern("sluice_writer_rows_total\\{application=\"sluice\",table=\"samples\"} [1-9]");
            }
        }
    }

    @Test
    void theAdminPortIsReleasedOnCloseAndATakenOneIsNamed(TestInfrastructure infra, @TempDir Path dir)
            throws Exception {
        int admin;
        try (SluiceProcess writer = SluiceProcess.start(config(infra, dir.resolve("w"), "writer", 0))) {
            admin = writer.adminPort().orElseThrow();
        }
        assertThatThrownBy(() -> get(admin, "/health/live")).isInstanceOf(IOException.class);
        try (ServerSocket taken = new ServerSocket(0)) {
            SluiceConfig onTaken = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("roles", "writer",
                    "admin.port", Integer.toString(taken.getLocalPort()), "spool.dir", dir.resolve("t").toString())));
            assertThatThrownBy(() -> SluiceProcess.start(onTaken))
                    .hasMessageContaining("admin.port: " + taken.getLocalPort() + " is already in use");
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static URI uri(int port, String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(port, path)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
