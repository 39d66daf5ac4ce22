package io.sluice.gateway;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every user mistake is a 4xx in the one error shape, counted, and the connection answered: limits the
 * pipeline enforces (413, 414, 431, 415, a body that does not decompress), JSON beyond the reader's
 * limits, query parameters PostgreSQL cannot take, and link fields out of range.
 */
@RealInfrastructure
class HttpErrorsTest {

    private static final String METRICS = "/api/v1/ingest/metrics";
    private static GatewayRole sluice;
    private static String key;
    private RawHttp http;
    private final java.util.List<RawHttp> others = new java.util.ArrayList<>();

    @BeforeAll
    static void start(TestInfrastructure infra) {
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0")));
        key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), "errors", Tier.ENTERPRISE);
        sluice = GatewayRole.start(config);
    }

    @AfterAll
    static void stop() {
        sluice.close();
    }

    @BeforeEach
    void connect() {
        http = new RawHttp(sluice.port());
    }

    @AfterEach
    void disconnect() throws IOException {
        http.close();
        for (RawHttp other : others) {
            other.close();
        }
    }

    /** Another connection, closed after the test. */
    private RawHttp another() {
        RawHttp other = new RawHttp(sluice.port());
        others.add(other);
        return other;
    }

    // --- JSON the reader refuses -------------------------------------------------------------------------

    @Test
    void ingestBodiesNestedTooDeepAre400InvalidJson() throws Exception {
        String deep = "[".repeat(20) + "]".repeat(20);
        double before = counter("sluice_ingest_rejected", "reason", "invalid_json");
        RawHttp.Response metrics = post(METRICS, "{\"samples\":[{\"name\":\"a\",\"value\":1,\"x\":" + deep + "}]}");
        assertThat(metrics.assertError(400, "invalid_json")).contains("nesting depth", "16")
                .doesNotContain("StreamReadConstraints");
        RawHttp.Response events = post("/api/v1/ingest/events",
                "{\"events\":[{\"id\":\"e\",\"type\":\"t\",\"attributes\":" + deep + "}]}");
        events.assertError(400, "invalid_json");
        assertThat(counter("sluice_ingest_rejected", "reason", "invalid_json")).isEqualTo(before + 2);
    }

    @Test
    void ingestNumbersOfAThousandDigitsAre400InvalidJson() throws Exception {
        RawHttp.Response response = post(METRICS, "{\"samples\":[{\"name\":\"a\",\"value\":" + "9".repeat(1001) + "}]}");
        assertThat(response.assertError(400, "invalid_json")).contains("Number value length", "1000");
        RawHttp.Response timestamp = post("/api/v1/ingest/events",
                "{\"events\":[{\"id\":\"e\",\"type\":\"t\",\"timestamp\":" + "1".repeat(5000) + "}]}");
        timestamp.assertError(400, "invalid_json");
    }

    @Test
    void anRfc3339TimestampBeyondEpochMillisIsAnItemRejectionNotAServerError() throws Exception {
        RawHttp.Response response = post(METRICS,
                "{\"samples\":[{\"name\":\"a\",\"value\":1,\"timestamp\":\"+999999999-12-31T23:59:59Z\"}]}");
        assertThat(response.assertError(422, "no_valid_items")).isNotEmpty();
        assertThat(response.text()).contains("\"reason\":\"invalid_timestamp\"");
    }

    // --- limits the HTTP pipeline enforces ---------------------------------------------------------------

    @Test
    void aBodyOverTheLimitGets413InTheErrorShape() throws Exception {
        double before = rejected("body_too_large");
        RawHttp.Response declared = http.send("POST", METRICS, Map.of(), new byte[(4 << 20) + 1]);
        assertThat(declared.assertError(413, "body_too_large")).contains("server.max-body-bytes");

        ByteArrayOutputStream chunked = new ByteArrayOutputStream();
        chunked.writeBytes(("POST " + METRICS + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        byte[] chunk = new byte[1 << 20];
        for (int i = 0; i < 5; i++) {
            chunked.writeBytes(("100000\r\n").getBytes(StandardCharsets.US_ASCII));
            chunked.writeBytes(chunk);
            chunked.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        chunked.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        another().exchange(chunked.toByteArray()).assertError(413, "body_too_large");

        RawHttp.Response early = another().exchange(("POST " + METRICS + " HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                + "Content-Length: " + (5 << 20) + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        early.assertError(413, "body_too_large");
        assertThat(rejected("body_too_large")).isEqualTo(before + 3);
    }

    @Test
    void aGzipBombIsCutOffAtTheLimitWith413() throws Exception {
        double before = rejected("body_too_large");
        ByteArrayOutputStream zipped = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(zipped)) {
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 64; i++) {
                gz.write(zeros);
            }
        }
        assertThat(zipped.size()).isLessThan(100_000);
        RawHttp.Response response = http.send("POST", METRICS, Map.of("Authorization", "Bearer " + key,
                "Content-Encoding", "gzip"), zipped.toByteArray());
        response.assertError(413, "body_too_large");
        assertThat(rejected("body_too_large")).isEqualTo(before + 1);
    }

    @Test
    void anUnsupportedExpectationGets417InTheErrorShape() throws Exception {
        double before = rejected("expectation_failed");
        RawHttp.Response response = http.send("POST", METRICS, Map.of("Expect", "something-else"), "{}".getBytes());
        assertThat(response.assertError(417, "expectation_failed")).contains("100-continue");
        assertThat(rejected("expectation_failed")).isEqualTo(before + 1);
    }

    @Test
    void aGzipHeaderOnAPlainBodyGets400AndIsCounted() throws Exception {
        double before = rejected("invalid_encoding");
        RawHttp.Response response = http.send("POST", METRICS, Map.of("Authorization", "Bearer " + key,
                "Content-Encoding", "gzip"), "{\"samples\":[{\"name\":\"a\",\"value\":1}]}".getBytes());
        assertThat(response.assertError(400, "invalid_encoding")).contains("gzip");
        assertThat(response.closed()).isTrue();
        assertThat(rejected("invalid_encoding")).isEqualTo(before + 1);
        assertThat(get("/health/live", Map.of()).status()).isEqualTo(200);
    }

    @Test
    void anUnsupportedContentEncodingGets415NamingTheSupportedOnes() throws Exception {
        double before = rejected("unsupported_encoding");
        RawHttp.Response br = http.send("POST", METRICS, Map.of("Authorization", "Bearer " + key,
                "Content-Encoding", "br"), "{\"samples\":[{\"name\":\"a\",\"value\":1}]}".getBytes());
        assertThat(br.assertError(415, "unsupported_encoding")).contains("br", "gzip, deflate, identity");
        RawHttp.Response list = another().send("POST", METRICS, Map.of("Authorization",
                "Bearer " + key, "Content-Encoding", "gzip, br"), "x".getBytes());
        list.assertError(415, "unsupported_encoding");
        assertThat(rejected("unsupported_encoding")).isEqualTo(before + 2);
    }

    @Test
    void identityAndDeflateBodiesAreAccepted() throws Exception {
        byte[] body = "{\"samples\":[{\"name\":\"enc\",\"value\":1}]}".getBytes(StandardCharsets.UTF_8);
        RawHttp.Response identity = http.send("POST", METRICS, Map.of("Authorization", "Bearer " + key,
                "Content-Encoding", "identity"), body);
        assertThat(identity.status()).as(identity.text()).isEqualTo(202);
        ByteArrayOutputStream deflated = new ByteArrayOutputStream();
        try (DeflaterOutputStream out = new DeflaterOutputStream(deflated)) {
            out.write(body);
        }
        RawHttp.Response deflate = http.send("POST", METRICS, Map.of("Authorization", "Bearer " + key,
                "Content-Encoding", "deflate"), deflated.toByteArray());
        assertThat(deflate.status()).as(deflate.text()).isEqualTo(202);
    }

    @Test
    void headersAndRequestLinesOverTheLimitGetTheErrorShape() throws Exception {
        double headers = rejected("headers_too_large");
        double uri = rejected("uri_too_long");
        get("/health/live", Map.of("X-Big", "a".repeat(10_000))).assertError(431, "headers_too_large");
        another().send("GET", "/health/live?" + "a".repeat(10_000), Map.of(), null)
                .assertError(414, "uri_too_long");
        assertThat(rejected("headers_too_large")).isEqualTo(headers + 1);
        assertThat(rejected("uri_too_long")).isEqualTo(uri + 1);
    }

    @Test
    void aMalformedPercentEscapeInThePathIs400() throws Exception {
        get("/api/v1/%zz", Map.of()).assertError(400, "invalid_path");
        get("/%", Map.of()).assertError(400, "invalid_path");
    }

    // --- query parameters ----------------------------------------------------------------------------

    @Test
    void aNulInAQueryParameterIs400NotAServerError() throws Exception {
        assertThat(query("/api/v1/query?metric=m&match=host=a%00b").assertError(400, "invalid_query"))
                .contains("NUL");
        query("/api/v1/series?match=host=a%00b").assertError(400, "invalid_query");
        query("/api/v1/series?metric=m%00").assertError(400, "invalid_query");
        query("/api/v1/labels/host%00/values").assertError(400, "invalid_query");
    }

    @Test
    void queryStringsThatAreNotUtf8OrNotPercentEncodingAre400() throws Exception {
        assertThat(query("/api/v1/query?metric=m&match=host=%C3%28").assertError(400, "invalid_query"))
                .contains("UTF-8");
        query("/api/v1/query?metric=m&match=host=%ED%A0%80").assertError(400, "invalid_query"); // a surrogate
        query("/api/v1/query?metric=m&match=host=%zz").assertError(400, "invalid_query");
        query("/api/v1/series?match=host=%").assertError(400, "invalid_query");
        query("/api/v1/links?cursor=%zz").assertError(400, "invalid_query");
        assertThat(query("/api/v1/query?metric=m&match=host=%C3%A9").status()).as("é is fine").isEqualTo(200);
    }

    @Test
    void timesAndStepsOutOfRangeAre400() throws Exception {
        assertThat(query("/api/v1/query?metric=m&from=%2B999999999-12-31T23:59:59Z")
                .assertError(400, "invalid_query")).contains("0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z");
        query("/api/v1/query?metric=m&to=9999999999999999").assertError(400, "invalid_query");
        query("/api/v1/query?metric=m&step=9223372036854775807s").assertError(400, "invalid_query");
        query("/api/v1/query?metric=m&step=99999999999999999999s").assertError(400, "invalid_query");
        query("/api/v1/query?metric=m&from=-999999999-01-01T00:00:00Z").assertError(400, "invalid_query");
        query("/api/v1/links/some-link/stats?step=9223372036854775807s").assertError(400, "invalid_query");
        query("/api/v1/links/some-link/stats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")
                .assertError(400, "invalid_query");
    }

    @Test
    void aRegexOnlyPostgresqlRefusesIsAppliedByTheGatewayAndOneJavaRefusesTooIs400() throws Exception {
        // valid for java.util.regex, not for PostgreSQL (bounds above 255): the gateway applies it itself
        RawHttp.Response series = query("/api/v1/series?match=host=~a%7B1,300%7D");
        assertThat(series.status()).as(series.text()).isEqualTo(200);
        RawHttp.Response range = query("/api/v1/query?metric=m&match=host=~a%7B1,300%7D");
        assertThat(range.status()).as(range.text()).isEqualTo(200);
        // an unclosed group: refused before anything is asked
        query("/api/v1/series?match=host=~a(").assertError(400, "invalid_query");
    }

    @Test
    void linkListParametersThatCannotBeACursorAre400() throws Exception {
        String crafted = java.util.Base64.getUrlEncoder().encodeToString(
                "+999999999-12-31T23:59:59Z|abc".getBytes(StandardCharsets.UTF_8));
        query("/api/v1/links?cursor=" + crafted).assertError(400, "invalid_cursor");
        String nul = java.util.Base64.getUrlEncoder().encodeToString(
                "2026-01-01T00:00:00Z|ab\u0000c".getBytes(StandardCharsets.UTF_8));
        query("/api/v1/links?cursor=" + nul).assertError(400, "invalid_cursor");
        query("/api/v1/links?limit=99999999999").assertError(400, "invalid_query");
    }

    // --- links bodies ----------------------------------------------------------------------------------

    @Test
    void anExpiryBeyondYear9999Is400InvalidExpiry() throws Exception {
        RawHttp.Response created = post("/api/v1/links",
                "{\"url\":\"https://example.com/a\",\"expires_at\":\"+999999999-12-31T23:59:59Z\"}");
        assertThat(created.assertError(400, "invalid_expiry")).contains("9999");
        RawHttp.Response ok = post("/api/v1/links", "{\"url\":\"https://example.com/b\"}");
        assertThat(ok.status()).as(ok.text()).isEqualTo(201);
        String code = ok.text().replaceAll(".*\"code\":\"([^\"]+)\".*", "$1");
        http.send("PATCH", "/api/v1/links/" + code, Map.of("Authorization", "Bearer " + key),
                "{\"expires_at\":\"+10000-01-01T00:00:00Z\"}".getBytes()).assertError(400, "invalid_expiry");
    }

    @Test
    void linkFieldsOfTheWrongKindAre400() throws Exception {
        post("/api/v1/links", "{\"url\":\"https://example.com/\",\"redirect\":99999999999}")
                .assertError(400, "invalid_redirect");
        post("/api/v1/links", "{\"url\":\"https://example.com/\",\"redirect\":301.0}")
                .assertError(400, "invalid_redirect");
        assertThat(post("/api/v1/links", "{\"url\":\"https://example.com/\\ud800\"}").assertError(400, "invalid_field"))
                .contains("surrogate");
        post("/api/v1/links", "{\"url\":\"https://example.com/\\u0000\"}").assertError(400, "invalid_url");
        post("/api/v1/links", "{\"url\":\"https://example.com/\",\"alias\":\"a\\u0000bcd\"}")
                .assertError(400, "invalid_alias");
        post("/api/v1/links", "{\"url\":" + "[".repeat(40) + "]".repeat(40) + "}").assertError(400, "invalid_field");
        post("/api/v1/links", "{\"url\":\"https://example.com/\",\"redirect\":" + "3".repeat(2000) + "}")
                .assertError(400, "invalid_json");
        post("/api/v1/links", "{\"url\":\"https://example.com/\"} {}").assertError(400, "invalid_json");
    }

    private RawHttp.Response post(String path, String body) throws IOException {
        return http.send("POST", path, Map.of("Authorization", "Bearer " + key, "Content-Type", "application/json"),
                body.getBytes(StandardCharsets.UTF_8));
    }

    private RawHttp.Response query(String target) throws IOException {
        return get(target, Map.of("Authorization", "Bearer " + key));
    }

    private RawHttp.Response get(String target, Map<String, String> headers) throws IOException {
        return http.send("GET", target, new HashMap<>(headers), null);
    }

    private static double rejected(String reason) {
        return counter("sluice_http_rejected", "reason", reason);
    }

    private static double counter(String name, String tag, String value) {
        var c = sluice.meterRegistry().find(name).tag(tag, value).counter();
        return c == null ? 0 : c.count();
    }
}
