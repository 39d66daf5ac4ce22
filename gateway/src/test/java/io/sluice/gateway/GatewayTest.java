package io.sluice.gateway;

import io.sluice.config.SluiceConfig;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The gateway's server, health and metrics against the real Kafka and PostgreSQL. */
@RealInfrastructure
class GatewayTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static GatewayRole sluice;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        SluiceConfig config = infra.config();
        sluice = GatewayRole.start(config.withServer(config.server().withPort(0)));
    }

    @AfterAll
    static void stop() {
        sluice.close();
    }

    @Test
    void liveAnswers() throws Exception {
        HttpResponse<String> response = get("/health/live");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("{\"status\":\"live\"}");
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
    }

    @Test
    void readyWhenKafkaAndPostgresAnswer() throws Exception {
        HttpResponse<String> response = get("/health/ready");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("{\"status\":\"ready\",\"checks\":{\"kafka\":\"ok\",\"kafka_topics\":\"ok\",\"postgres\":\"ok\"}}");
    }

    @Test
    void notReadyWhilePostgresIsDownAndNamesIt(TestInfrastructure infra) throws Exception {
        infra.postgres().stop();
        try {
            HttpResponse<String> response = get("/health/ready");
            assertThat(response.statusCode()).isEqualTo(503);
            assertThat(response.body()).contains("\"status\":\"unavailable\"", "\"failing\":[\"postgres\"]",
                    "\"kafka\":\"ok\"", "\"postgres\":\"failed: ");
        } finally {
            infra.postgres().start();
        }
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(get("/health/ready").statusCode()).isEqualTo(200));
    }

    @Test
    void metricsExposeJvmNettyAndRouteMeters() throws Exception {
        get("/health/live");
        HttpResponse<String> response = get("/metrics");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
        assertThat(response.body())
                .contains("jvm_memory_used_bytes")
                .contains("jvm_gc_")
                .contains("netty_allocator_memory_used")
                .contains("sluice_connections_open")
                .containsPattern("sluice_http_server_requests_seconds_count\\{[^}]*route=\"/health/live\"[^}]*status=\"200\"");
    }

    @Test
    void unknownRoutesGetTheApiErrorShape() throws Exception {
        HttpResponse<String> missing = get("/no/such/route");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.body()).isEqualTo(
                "{\"error\":{\"status\":404,\"code\":\"not_found\",\"message\":\"no route for /no/such/route\"}}");
        HttpResponse<String> noLink = get("/nope"); // a single segment is a short-link code
        assertThat(noLink.statusCode()).isEqualTo(404);
        assertThat(noLink.body()).contains("\"code\":\"not_found\"", "no link nope");
        HttpResponse<String> wrongMethod = http.send(HttpRequest.newBuilder(uri("/health/live"))
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(wrongMethod.statusCode()).isEqualTo(405);
        assertThat(wrongMethod.body()).contains("\"code\":\"method_not_allowed\"", "allowed: GET");
    }

    @Test
    void oversizedHeadersGet431AndAreCounted() throws Exception {
        double before = counter("sluice_http_rejected", "headers_too_large");
        String response = raw("GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(10_000) + "\r\n\r\n");
        assertThat(response).startsWith("HTTP/1.1 431").contains("headers_too_large", "server.max-header-bytes");
        assertThat(counter("sluice_http_rejected", "headers_too_large")).isEqualTo(before + 1);
        assertThat(get("/health/live").statusCode()).as("server still healthy").isEqualTo(200);
    }

    @Test
    void oversizedBodiesGet413AndAreCounted() throws Exception {
        double before = counter("sluice_http_rejected", "body_too_large");
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri("/health/live"))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[5 << 20])).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(counter("sluice_http_rejected", "body_too_large")).isEqualTo(before + 1);
    }

    @Test
    void garbageGets400AndTheServerStaysUp() throws Exception {
        String response = raw("\u0001\u0002 NOT HTTP\r\n\r\n");
        assertThat(response).startsWith("HTTP/1.1 400").contains("bad_request");
        assertThat(get("/health/live").statusCode()).isEqualTo(200);
    }

    @Test
    void connectionsBeyondTheLimitAreClosedAndCounted(TestInfrastructure infra) throws Exception {
        SluiceConfig config = infra.config();
        io.sluice.config.ServerConfig s = config.server();
        io.sluice.config.ServerConfig one = new io.sluice.config.ServerConfig(s.host(), 0, 1, 1, s.idleTimeout(),
                s.maxHeaderBytes(), s.maxBodyBytes(), s.earlyRetries(), Duration.ofSeconds(1), s.healthTimeout(), s.requestLog(),
                s.adminPort());
        try (GatewayRole small = GatewayRole.start(config.withServer(one));
             Socket first = new Socket("127.0.0.1", small.port())) {
            first.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(first.getInputStream().readNBytes(12), StandardCharsets.US_ASCII)).isEqualTo("HTTP/1.1 200");
            try (Socket second = new Socket("127.0.0.1", small.port())) {
                second.setSoTimeout(5_000);
                assertThat(second.getInputStream().read()).as("second connection closed").isEqualTo(-1);
            }
            assertThat(small.meterRegistry().get("sluice_connections_rejected").tag("reason", "max_connections")
                    .counter().count()).isEqualTo(1.0);
        }
    }

    @Test
    void ioThreadsZeroMeansOneEventLoopPerCore(TestInfrastructure infra) {
        io.sluice.config.ServerConfig s = infra.config().server();
        io.sluice.config.ServerConfig zero = new io.sluice.config.ServerConfig(s.host(), 0, 0, s.maxConnections(),
                s.idleTimeout(), s.maxHeaderBytes(), s.maxBodyBytes(), s.earlyRetries(), s.shutdownGrace(),
                s.healthTimeout(), s.requestLog(), s.adminPort());
        try (io.sluice.gateway.server.GatewayServer server = new io.sluice.gateway.server.GatewayServer(zero)) {
            assertThat(((io.netty.util.concurrent.MultithreadEventExecutorGroup) server.workers()).executorCount())
                    .isEqualTo(Runtime.getRuntime().availableProcessors());
        }
        io.sluice.config.ServerConfig three = new io.sluice.config.ServerConfig(s.host(), 0, 3, s.maxConnections(),
                s.idleTimeout(), s.maxHeaderBytes(), s.maxBodyBytes(), s.earlyRetries(), s.shutdownGrace(),
                s.healthTimeout(), s.requestLog(), s.adminPort());
        try (io.sluice.gateway.server.GatewayServer server = new io.sluice.gateway.server.GatewayServer(three)) {
            assertThat(((io.netty.util.concurrent.MultithreadEventExecutorGroup) server.workers()).executorCount())
                    .isEqualTo(3);
        }
    }

    private double counter(String name, String reason) {
        var counter = sluice.meterRegistry().find(name).tag("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + sluice.port() + path);
    }

    private static HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String raw(String request) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", sluice.port())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
