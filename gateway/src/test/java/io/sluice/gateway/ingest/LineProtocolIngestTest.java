package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.influx.InfluxConfig;
import io.micrometer.influx.InfluxMeterRegistry;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.sluice.storage.writer.WriterRole;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Influx line protocol end to end: Micrometer's real Influx registry (v1 and v2 APIs) and hand-written bodies
 * into a real gateway, through Kafka and the writer into PostgreSQL, and back out of {@code GET /api/v1/query} with
 * the exact values; bad input answered as InfluxDB answers it, counted, with the good lines of a body still written.
 */
@RealInfrastructure
class LineProtocolIngestTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static GatewayRole sluice;
    private static WriterRole writer;
    private static String key;
    private static String quotaKey;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("tenants.free.requests-per-minute", "100000");
        overrides.put("tenants.paid.items-per-minute", "5");
        overrides.put("ingest.max-labels", "4");
        overrides.put("ingest.max-items-per-request", "50");
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        key = KeysCommand.create(keys, "influx-" + suffix, Tier.FREE);
        quotaKey = KeysCommand.create(keys, "influxq-" + suffix, Tier.PAID);
        sluice = GatewayRole.start(config);
        writer = WriterRole.start(sluice.config(), new SimpleMeterRegistry());
    }

    @AfterAll
    static void stop() {
        if (writer != null) {
            writer.close();
        }
        if (sluice != null) {
            sluice.close();
        }
    }

    // ---- a real client ---------------------------------------------------------------------------

    @Test
    void micrometerV1WritesGaugesThatQueryBackExactly() throws Exception {
        Map<String, String> settings = Map.of(
                "influx.uri", "http://127.0.0.1:" + sluice.port(),
                "influx.db", "telegraf",
                "influx.userName", "micrometer",
                "influx.password", key,
                "influx.autoCreateDb", "false",
                "influx.step", "1h");
        double accepted = counter("sluice_ingest_accepted", "transport", "influx");
        publish(settings, "lp.v1");
        assertThat(counter("sluice_ingest_accepted", "transport", "influx")).isEqualTo(accepted + 2);
        assertRoundTrip("lp_v1");
    }

    @Test
    void micrometerV2WritesGaugesThatQueryBackExactly() throws Exception {
        Map<String, String> settings = Map.of(
                "influx.uri", "http://127.0.0.1:" + sluice.port(),
                "influx.apiVersion", "V2",
                "influx.org", "sluice",
                "influx.bucket", "metrics",
                "influx.token", key,
                "influx.step", "1h");
        double accepted = counter("sluice_ingest_accepted", "transport", "influx");
        publish(settings, "lp.v2");
        assertThat(counter("sluice_ingest_accepted", "transport", "influx")).isEqualTo(accepted + 2);
        assertRoundTrip("lp_v2");
    }

    /**
     * Two gauges with exact values, published once (gzip-compressed, as the registry sends by default) when the
     * registry closes.
     */
    private static void publish(Map<String, String> settings, String prefix) {
        InfluxConfig config = settings::get;
        InfluxMeterRegistry registry = InfluxMeterRegistry.builder(config).build();
        AtomicLong big = new AtomicLong(1_234_567_890_123L);
        Gauge.builder(prefix + ".temperature", () -> -17.625).tag("host", "a b,c=d").register(registry);
        Gauge.builder(prefix + ".bytes", big, AtomicLong::get).tag("host", "a b,c=d").register(registry);
        registry.close();
    }

    private static void assertRoundTrip(String prefix) {
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            assertThat(query(prefix + "_temperature_value"))
                    .contains("{\"labels\":{\"host\":\"a b,c=d\",\"metric_type\":\"gauge\"},\"points\":[[")
                    .contains(",-17.625]]");
            assertThat(query(prefix + "_bytes_value")).contains(",1.234567890123E12]]");
        });
    }

    // ---- hand-written bodies -------------------------------------------------------------------

    @Test
    void aMixedBodyWritesItsGoodLinesAndAnswers400NamingTheFirstBadLine() throws Exception {
        long now = System.currentTimeMillis();
        String body = "# written by hand\n"
                + "lp_mixed,host=a load=1.5," + "up=true," + "note=\"ignored\" " + now + "\n"
                + "lp_mixed,host=b load=NaN " + now + "\n"
                + "lp_mixed,host=c load=2.5 " + now + "\n"
                + "lp_mixed,host=d " + now + "\n";
        double written = counter("sluice_ingest_accepted", "transport", "influx");
        double strings = rejected("string_field");
        HttpResponse<String> response = send("/api/v2/write?org=o&bucket=b&precision=ms", "Token " + key, body, false);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        assertThat(response.body())
                .startsWith("{\"error\":{\"status\":400,\"code\":\"invalid_line\",\"message\":\"partial write: line 3: "
                        + "unable to parse 'lp_mixed,host=b load=NaN " + now + "': invalid value 'NaN'")
                .contains("\"line\":3,\"reason\":\"invalid_value\",\"refused_lines\":2,\"written\":3}",
                        "\"code\":\"invalid\",\"message\":\"partial write: line 3: ");
        assertThat(counter("sluice_ingest_accepted", "transport", "influx")).isEqualTo(written + 3);
        assertThat(rejected("string_field")).isEqualTo(strings + 1);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            String load = query("lp_mixed_load");
            assertThat(load).contains("{\"labels\":{\"host\":\"a\"},\"points\":[[", ",1.5]]",
                    "{\"labels\":{\"host\":\"c\"},\"points\":[[", ",2.5]]").doesNotContain("\"host\":\"b\"");
            assertThat(query("lp_mixed_up")).contains("{\"labels\":{\"host\":\"a\"},\"points\":[[", ",1.0]]");
        });
    }

    @Test
    void gzipBodiesAndEveryWayOfPresentingTheKey() throws Exception {
        long now = System.currentTimeMillis();
        String basic = "Basic " + Base64.getEncoder().encodeToString(("anyone:" + key).getBytes(StandardCharsets.UTF_8));
        assertThat(send("/write?db=x&precision=ms", basic, "lp_auth f=1 " + now, true).statusCode()).isEqualTo(204);
        assertThat(send("/write?db=x&precision=ms", "Bearer " + key, "lp_auth f=1 " + now, false).statusCode())
                .isEqualTo(204);
        assertThat(send("/write?db=x&precision=ms&u=me&p=" + URLEncoder.encode(key, StandardCharsets.UTF_8), null,
                "lp_auth f=1 " + now, false).statusCode()).isEqualTo(204);
        assertThat(send("/api/v2/write?bucket=x&precision=ms", "Token " + key, "lp_auth f=1 " + now, true).statusCode())
                .isEqualTo(204);
        double invalid = counter("sluice_auth_rejected", "reason", "invalid_key");
        double missing = counter("sluice_auth_rejected", "reason", "missing_key");
        assertThat(send("/write?db=x&u=me&p=sk_wrong", null, "lp_auth f=1", false).statusCode()).isEqualTo(401);
        assertThat(send("/api/v2/write?bucket=x", "Token sk_wrong", "lp_auth f=1", false).statusCode()).isEqualTo(401);
        assertThat(send("/api/v2/write?bucket=x", null, "lp_auth f=1", false).statusCode()).isEqualTo(401);
        assertThat(send("/api/v2/write?bucket=x&p=" + URLEncoder.encode(key, StandardCharsets.UTF_8), null,
                "lp_auth f=1", false).statusCode()).as("only InfluxDB 1's /write takes a key in its query").isEqualTo(401);
        assertThat(counter("sluice_auth_rejected", "reason", "invalid_key")).isEqualTo(invalid + 2);
        assertThat(counter("sluice_auth_rejected", "reason", "missing_key")).isEqualTo(missing + 2);
    }

    static Stream<Arguments> badInput() {
        long now = System.currentTimeMillis();
        String nowNs = now + "000000";
        long old = (now - 3 * 3600_000L) * 1_000_000L;
        long ahead = (now + 3600_000L) * 1_000_000L;
        return Stream.of(
                Arguments.of("unescaped = in a tag value", "lp_bad,t=a=b f=1 " + nowNs, "invalid_label"),
                Arguments.of("an unescaped space ends the tags", "lp_bad,t=a b f=1 " + nowNs, "missing_field"),
                Arguments.of("an escape at the end of the line", "lp_bad f=1\\", "invalid_value"),
                Arguments.of("no fields", "lp_bad,t=a " + nowNs, "missing_field"),
                Arguments.of("no field value", "lp_bad f= " + nowNs, "missing_field"),
                Arguments.of("NaN", "lp_bad f=NaN " + nowNs, "invalid_value"),
                Arguments.of("+Inf", "lp_bad f=+Inf " + nowNs, "invalid_value"),
                Arguments.of("-Inf", "lp_bad f=-Inf " + nowNs, "invalid_value"),
                Arguments.of("a float beyond a double", "lp_bad f=1e999 " + nowNs, "invalid_value"),
                Arguments.of("an integer beyond 64 bits", "lp_bad f=9223372036854775808i " + nowNs, "invalid_value"),
                Arguments.of("a timestamp that is not an integer", "lp_bad f=1 " + now + ".5", "invalid_timestamp"),
                Arguments.of("a timestamp beyond 64 bits", "lp_bad f=1 99999999999999999999", "invalid_timestamp"),
                Arguments.of("too many labels", "lp_bad,a=1,b=2,c=3,d=4,e=5 f=1 " + nowNs, "too_many_labels"),
                Arguments.of("older than the late window", "lp_bad f=1 " + old, "too_old"),
                Arguments.of("beyond the clock skew", "lp_bad f=1 " + ahead, "too_new"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInput")
    void aBadLineIsAnswered400CountedAndTheOthersWritten(String what, String line, String reason) throws Exception {
        String nowNs = System.currentTimeMillis() + "000000";
        String body = "lp_good,k=1 f=1 " + nowNs + "\n" + line + "\nlp_good,k=2 f=2 " + nowNs + "\n";
        double before = rejected(reason);
        double written = counter("sluice_ingest_accepted", "transport", "influx");
        HttpResponse<String> response = send("/write?db=x", "Token " + key, body, false);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        assertThat(response.body()).contains("\"code\":\"invalid_line\"", "line 2: unable to parse",
                "\"line\":2,\"reason\":\"" + reason + "\",\"refused_lines\":1,\"written\":2}");
        assertThat(rejected(reason)).isEqualTo(before + 1);
        assertThat(counter("sluice_ingest_accepted", "transport", "influx")).isEqualTo(written + 2);
    }

    @Test
    void requestsRefusedWholeAreCountedAndWriteNothing() throws Exception {
        double written = counter("sluice_ingest_accepted", "transport", "influx");
        String line = "lp_whole f=1\n";
        assertRefused(send("/write?db=x&precision=d", "Token " + key, line, false), 400, "invalid_precision");
        assertRefused(send("/api/v2/write?bucket=x&precision=h", "Token " + key, line, false), 400,
                "invalid_precision");
        assertRefused(send("/write?precision=ms", "Token " + key, line, false), 400, "missing_database");
        assertRefused(send("/api/v2/write?org=o", "Token " + key, line, false), 400, "missing_bucket");
        assertRefused(send("/write?db=x", "Token " + key, line.repeat(51), false), 413, "too_many_items");
        assertThat(counter("sluice_ingest_accepted", "transport", "influx")).isEqualTo(written);
        assertThat(rejected("invalid_precision")).isGreaterThanOrEqualTo(2);
        assertThat(rejected("missing_database")).isGreaterThanOrEqualTo(1);
        assertThat(rejected("missing_bucket")).isGreaterThanOrEqualTo(1);
        assertThat(rejected("too_many_items")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void anEmptyBodyOrOnlyStringFieldsIs204() throws Exception {
        assertThat(send("/write?db=x", "Token " + key, "", false).statusCode()).isEqualTo(204);
        assertThat(send("/write?db=x", "Token " + key, "lp_str s=\"text\"\n", false).statusCode()).isEqualTo(204);
    }

    @Test
    void theItemQuotaAnswers429WithRetryAfter() throws Exception {
        String five = "lp_quota,i=1 f=1\nlp_quota,i=2 f=1\nlp_quota,i=3 f=1\nlp_quota,i=4 f=1\nlp_quota,i=5 f=1\n";
        HttpResponse<String> never = send("/write?db=x", "Token " + quotaKey, five + "lp_quota,i=6 f=1\n", false);
        assertThat(never.statusCode()).as(never.body()).isEqualTo(429);
        assertThat(never.body()).contains("can never fit");
        assertThat(send("/write?db=x", "Token " + quotaKey, five, false).statusCode()).isEqualTo(204);
        HttpResponse<String> throttled = send("/write?db=x", "Token " + quotaKey, "lp_quota,i=1 f=2\n", false);
        assertThat(throttled.statusCode()).as(throttled.body()).isEqualTo(429);
        assertThat(throttled.headers().firstValue("retry-after")).isPresent();
        assertThat(throttled.body()).contains("\"code\":\"rate_limited\"");
        assertThat(rejected("item_quota")).isGreaterThanOrEqualTo(7);
    }

    private static void assertRefused(HttpResponse<String> response, int status, String code) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.body()).startsWith("{\"error\":{\"status\":" + status + ",\"code\":\"" + code + "\"");
    }

    private static HttpResponse<String> send(String path, String authorization, String body, boolean gzip)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + path))
                .timeout(Duration.ofSeconds(30));
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        if (gzip) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (GZIPOutputStream z = new GZIPOutputStream(out)) {
                z.write(bytes);
            }
            bytes = out.toByteArray();
            request.header("Content-Encoding", "gzip");
        }
        return http.send(request.POST(HttpRequest.BodyPublishers.ofByteArray(bytes)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The metric's series in raw samples (10 s steps) around now. */
    private static String query(String metric) throws Exception {
        Instant now = Instant.now();
        String uri = "http://127.0.0.1:" + sluice.port() + "/api/v1/query?metric=" + metric + "&agg=max&step=10s&from="
                + now.minus(Duration.ofMinutes(10)) + "&to=" + now.plus(Duration.ofMinutes(1));
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(uri))
                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return response.body();
    }

    private static double rejected(String reason) {
        var c = sluice.meterRegistry().find("sluice_ingest_rejected").tag("reason", reason)
                .tag("transport", "influx").counter();
        return c == null ? 0 : c.count();
    }

    private static double counter(String name, String tag, String value) {
        var c = sluice.meterRegistry().find(name).tag(tag, value).counter();
        return c == null ? 0 : c.count();
    }
}
