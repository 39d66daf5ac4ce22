package io.sluice.gateway;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.gateway.http.HttpTracing;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
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

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Trace ids and the request log over a real gateway: every answer, routed or refused by the pipeline,
 * carries {@code X-Trace-Id} and {@code traceresponse}; with {@code server.request-log=true} each answered
 * request is one line of {@code sluice.request}, without the API key or the query string.
 */
@RealInfrastructure
class TracingTest {

    private static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
    private static final String TRACEPARENT = "00-" + TRACE + "-00f067aa0ba902b7-01";
    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final ListAppender<ILoggingEvent> requestLog = new ListAppender<>();
    private static GatewayRole sluice;
    private static String key;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        requestLog.start();
        ((Logger) LoggerFactory.getLogger(HttpTracing.REQUEST_LOGGER)).addAppender(requestLog);
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("server.request-log", "true");
        overrides.put("server.max-body-bytes", "1KiB");
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), "traced", Tier.ENTERPRISE);
        sluice = GatewayRole.start(config);
    }

    @AfterAll
    static void stop() {
        sluice.close();
        ((Logger) LoggerFactory.getLogger(HttpTracing.REQUEST_LOGGER)).detachAppender(requestLog);
    }

    @Test
    void aValidTraceparentsTraceIdIsEchoed() throws Exception {
        HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/health/live")).header("traceparent", TRACEPARENT));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("x-trace-id")).hasValue(TRACE);
        assertThat(response.headers().firstValue("traceresponse")).hasValueSatisfying(v ->
                assertThat(v).matches("00-" + TRACE + "-[0-9a-f]{16}-01").doesNotContain("00f067aa0ba902b7"));
    }

    @Test
    void withoutOrWithAnInvalidTraceparentEachRequestGetsANewTraceId() throws Exception {
        String first = send(HttpRequest.newBuilder(uri("/health/live"))).headers().firstValue("x-trace-id").orElseThrow();
        String second = send(HttpRequest.newBuilder(uri("/health/live"))).headers().firstValue("x-trace-id").orElseThrow();
        String invalid = send(HttpRequest.newBuilder(uri("/health/live"))
                .header("traceparent", "00-" + "0".repeat(32) + "-00f067aa0ba902b7-01"))
                .headers().firstValue("x-trace-id").orElseThrow();
        assertThat(List.of(first, second, invalid)).allSatisfy(id -> assertThat(id).matches("[0-9a-f]{32}"))
                .doesNotHaveDuplicates().doesNotContain("0".repeat(32));
    }

    @Test
    void errorAnswersCarryTheTraceToo() throws Exception {
        Map<String, HttpResponse<String>> answers = Map.of(
                "404", send(HttpRequest.newBuilder(uri("/no/such/route")).header("traceparent", TRACEPARENT)),
                "405", send(HttpRequest.newBuilder(uri("/health/live")).header("traceparent", TRACEPARENT)
                        .POST(HttpRequest.BodyPublishers.ofString("x"))),
                "401", send(HttpRequest.newBuilder(uri("/api/v1/ingest/metrics")).header("traceparent", TRACEPARENT)
                        .POST(HttpRequest.BodyPublishers.ofString("{\"samples\":[]}"))),
                "413", send(HttpRequest.newBuilder(uri("/api/v1/ingest/metrics")).header("traceparent", TRACEPARENT)
                        .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[4096]))),
                "415", send(HttpRequest.newBuilder(uri("/api/v1/ingest/metrics")).header("traceparent", TRACEPARENT)
                        .header("Content-Encoding", "compress").POST(HttpRequest.BodyPublishers.ofString("x"))));
        answers.forEach((status, response) -> {
            assertThat(response.statusCode()).as(response.body()).isEqualTo(Integer.parseInt(status));
            assertThat(response.body()).contains("\"error\"");
            assertThat(response.headers().firstValue("x-trace-id")).as(status).hasValue(TRACE);
            assertThat(response.headers().firstValue("traceresponse")).as(status).isPresent();
        });
        String undecodable = raw("\u0001\u0002 NOT HTTP\r\n\r\n");
        assertThat(undecodable).startsWith("HTTP/1.1 400").containsPattern("(?i)x-trace-id: [0-9a-f]{32}\r\n");
    }

    @Test
    void eachAnsweredRequestIsOneRequestLogLineWithoutTheKeyOrTheQuery() throws Exception {
        String traceId = "0af7651916cd43dd8448eb211c80319c";
        String body = "{\"samples\":[{\"name\":\"traced.metric\",\"value\":1}]}";
        HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/api/v1/ingest/metrics?token=query-secret"))
                .header("traceparent", "00-" + traceId + "-00f067aa0ba902b7-00")
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);

        ILoggingEvent line = await().atMost(Duration.ofSeconds(30)).until(() -> lineOf(traceId), l -> l != null);
        assertThat(line.getFormattedMessage()).startsWith("POST /api/v1/ingest/metrics 202 ");
        assertThat(fields(line)).containsEntry("method", "POST").containsEntry("path", "/api/v1/ingest/metrics")
                .containsEntry("route", "/api/v1/ingest/metrics").containsEntry("status", "202")
                .containsEntry("tenant", "traced").containsEntry("remote", "127.0.0.1")
                .containsEntry("bytes_in", Integer.toString(body.length()))
                .containsEntry("bytes_out", Integer.toString(response.body().length()))
                .containsKey("duration_ms");
        synchronized (requestLog) {
            assertThat(List.copyOf(requestLog.list)).allSatisfy(l -> assertThat(
                    l.getFormattedMessage() + l.getKeyValuePairs() + l.getMDCPropertyMap())
                    .doesNotContain(key).doesNotContain("query-secret").doesNotContain("token="));
        }
    }

    private static ILoggingEvent lineOf(String traceId) {
        synchronized (requestLog) {
            return requestLog.list.stream().filter(l -> traceId.equals(l.getMDCPropertyMap().get("trace_id")))
                    .findFirst().orElse(null);
        }
    }

    private static Map<String, String> fields(ILoggingEvent event) {
        return event.getKeyValuePairs().stream().collect(Collectors.toMap(kv -> kv.key, kv -> String.valueOf(kv.value)));
    }

    private static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + sluice.port() + path);
    }

    private static String raw(String request) throws Exception {
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
