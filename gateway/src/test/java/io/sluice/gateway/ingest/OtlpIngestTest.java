package io.sluice.gateway.ingest;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;
import io.opentelemetry.exporter.otlp.http.metrics.OtlpHttpMetricExporter;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.metrics.v1.ExponentialHistogram;
import io.opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint;
import io.opentelemetry.proto.metrics.v1.Gauge;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import io.opentelemetry.proto.metrics.v1.ScopeMetrics;
import io.opentelemetry.proto.resource.v1.Resource;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.KafkaTopicReader;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.sluice.storage.writer.WriterRole;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
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
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * OTLP/HTTP metrics end to end against one real gateway: the OpenTelemetry Java SDK's OTLP exporter (protobuf)
 * and a hand-written OTLP/JSON body, round trip to {@code /api/v1/query}; a table of bad inputs, each answered
 * with its status or partial success and counted, with nothing but the good points reaching Kafka.
 */
@RealInfrastructure
class OtlpIngestTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** The one point of a query answer holding one series with one point: its value as written. */
    private static final Pattern ONE_POINT = Pattern.compile("\"series\":\\[\\{[^]]*\"points\":\\[\\[\\d+,([^]]+)]]}]");
    private static final String PROTOBUF = "application/x-protobuf";
    private static final int MAX_ITEMS = 50;
    private static GatewayRole sluice;
    private static WriterRole writer;
    private static String sdkKey;
    private static String jsonKey;
    private static String badKey;
    private static String tinyKey;
    private static String bootstrap;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "ingest.max-items-per-request", Integer.toString(MAX_ITEMS), "tenants.free.items-per-minute", "3")));
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        sdkKey = KeysCommand.create(keys, "otlp-sdk", Tier.ENTERPRISE);
        jsonKey = KeysCommand.create(keys, "otlp-json", Tier.ENTERPRISE);
        badKey = KeysCommand.create(keys, "otlp-bad", Tier.ENTERPRISE);
        tinyKey = KeysCommand.create(keys, "otlp-tiny", Tier.FREE);
        bootstrap = infra.bootstrapServers();
        sluice = GatewayRole.start(config);
        writer = WriterRole.start(sluice.config(), new SimpleMeterRegistry());
    }

    @AfterAll
    static void stop() {
        writer.close();
        sluice.close();
    }

    @Test
    void theOpenTelemetrySdkExportsGzippedCounterGaugeAndHistogramThatQueriesReturnExactly() throws Exception {
        OtlpHttpMetricExporter exporter = OtlpHttpMetricExporter.builder()
                .setEndpoint("http://127.0.0.1:" + sluice.port() + "/v1/metrics")
                .addHeader("Authorization", "Bearer " + sdkKey).setCompression("gzip")
                .setTimeout(Duration.ofSeconds(30)).build();
        SdkMeterProvider provider = SdkMeterProvider.builder()
                .setResource(io.opentelemetry.sdk.resources.Resource.getDefault().merge(io.opentelemetry.sdk.resources
                        .Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), "checkout"))))
                .registerMetricReader(PeriodicMetricReader.builder(exporter).setInterval(Duration.ofHours(1)).build())
                .build();
        long before = System.currentTimeMillis();
        try {
            Meter meter = provider.get("sluice-test");
            LongCounter requests = meter.counterBuilder("sdk.requests").build();
            requests.add(5, Attributes.of(AttributeKey.stringKey("route"), "/a"));
            requests.add(7, Attributes.of(AttributeKey.stringKey("route"), "/a"));
            requests.add(1, Attributes.of(AttributeKey.stringKey("route"), "/b"));
            meter.gaugeBuilder("sdk.temperature").build().set(21.5);
            DoubleHistogram latency = meter.histogramBuilder("sdk.latency")
                    .setExplicitBucketBoundariesAdvice(List.of(1.0, 5.0, 10.0)).build();
            for (double v : new double[] {0.5, 3, 3, 20}) {
                latency.record(v);
            }
            CompletableResultCode flushed = provider.forceFlush().join(60, TimeUnit.SECONDS);
            assertThat(flushed.isSuccess()).as("the exporter got a 2xx").isTrue();
        } finally {
            provider.shutdown().join(30, TimeUnit.SECONDS);
        }
        assertThat(counter("sluice_ingest_accepted", "transport", "otlp")).isGreaterThanOrEqualTo(2 + 1 + 4 + 2);

        Map<String, String> expected = Map.of(
                "sdk.requests|route=/a", "12.0",
                "sdk.requests|route=/b", "1.0",
                "sdk.temperature|service_name=checkout", "21.5",
                "sdk.latency_bucket|le=1", "1.0",
                "sdk.latency_bucket|le=5", "3.0",
                "sdk.latency_bucket|le=10", "3.0",
                "sdk.latency_bucket|le=+Inf", "4.0",
                "sdk.latency_sum|service_name=checkout", "26.5",
                "sdk.latency_count|otel_temporality=cumulative", "4.0");
        assertQueries(sdkKey, before, expected);
        String series = get(sdkKey, "/api/v1/series?metric=sdk.requests").body();
        assertThat(series).contains("\"service_name\":\"checkout\"", "\"telemetry_sdk_language\":\"java\"",
                "\"otel_temporality\":\"cumulative\"", "\"otel_monotonic\":\"true\"");
    }

    @Test
    void aHandWrittenOtlpJsonBodyRoundTrips() throws Exception {
        long now = System.currentTimeMillis() - 5_000;
        String nanos = Long.toString(now * 1_000_000L);
        String body = "{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
                + "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"json-svc\"}},"
                + "{\"key\":\"host.cores\",\"value\":{\"intValue\":\"8\"}}]},"
                + "\"scopeMetrics\":[{\"scope\":{\"name\":\"manual\"},\"metrics\":["
                + "{\"name\":\"json.gauge\",\"unit\":\"1\",\"gauge\":{\"dataPoints\":[{\"asDouble\":2.25,"
                + "\"timeUnixNano\":\"" + nanos + "\",\"attributes\":[{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h1\"}}],"
                + "\"exemplars\":[{\"asDouble\":2.25,\"timeUnixNano\":\"" + nanos + "\","
                + "\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\"}]}]}},"
                + "{\"name\":\"json.sum\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":true,"
                + "\"dataPoints\":[{\"asInt\":\"42\",\"timeUnixNano\":\"" + nanos + "\"}]}}"
                + "]}]}]}";
        HttpResponse<String> response = post(jsonKey, "application/json", body.getBytes(StandardCharsets.UTF_8));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(response.body()).isEqualTo("{}");
        assertQueries(jsonKey, now, Map.of("json.gauge|host_name=h1", "2.25", "json.sum|otel_temporality=delta", "42.0"));
        assertThat(get(jsonKey, "/api/v1/series?metric=json.gauge").body())
                .contains("\"service_name\":\"json-svc\"", "\"host_cores\":\"8\"");
    }

    @Test
    void aTenantOverItsItemQuotaGets429WithRetryAfter() throws Exception {
        long now = System.currentTimeMillis();
        HttpResponse<String> first = post(tinyKey, PROTOBUF, request(gauge("tiny.g", now, 1.0, 2.0, 3.0)).toByteArray());
        assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
        HttpResponse<String> second = post(tinyKey, PROTOBUF, request(gauge("tiny.g", now + 1, 4.0)).toByteArray());
        assertThat(second.statusCode()).as(second.body()).isEqualTo(429);
        assertThat(second.headers().firstValue("retry-after")).isPresent();
        assertThat(second.body()).contains("\"code\":\"rate_limited\"");
    }

    @Test
    void withoutAKeyTheAnswerIs401() throws Exception {
        HttpResponse<String> response = post(null, PROTOBUF, request(gauge("nokey.g", System.currentTimeMillis(), 1))
                .toByteArray());
        assertThat(response.statusCode()).isEqualTo(401);
    }

    /** A bad input: its body and content type, the expected status, the partial-success count, the counted reasons. */
    record Bad(String title, String contentType, byte[] body, int status, long rejectedPoints, int goodPoints,
               List<String> reasons) {
        @Override
        public String toString() {
            return title;
        }
    }

    static Stream<Bad> badInputs() {
        long now = System.currentTimeMillis();
        byte[] valid = request(gauge("bad.valid", now, 1)).toByteArray();
        List<KeyValue> many = new java.util.ArrayList<>();
        for (int i = 0; i < 33; i++) {
            many.add(attr("a" + i, "v"));
        }
        Metric tooMany = Metric.newBuilder().setName("bad.attrs").setGauge(Gauge.newBuilder()
                .addDataPoints(point(now, 1).addAllAttributes(many))
                .addDataPoints(point(now, 2))).build();
        Metric expHistogram = Metric.newBuilder().setName("bad.exp").setExponentialHistogram(ExponentialHistogram
                .newBuilder().addDataPoints(ExponentialHistogramDataPoint.newBuilder().setTimeUnixNano(now * 1_000_000L)
                        .setCount(1).setScale(0))).build();
        double[] lots = new double[MAX_ITEMS + 1];
        return Stream.of(
                new Bad("truncated protobuf", PROTOBUF, Arrays.copyOf(valid, valid.length - 3), 400, -1, 0,
                        List.of("invalid_protobuf")),
                new Bad("not protobuf at all", PROTOBUF, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff}, 400, -1, 0,
                        List.of("invalid_protobuf")),
                new Bad("not JSON", "application/json", "{\"resourceMetrics\":[".getBytes(StandardCharsets.UTF_8), 400,
                        -1, 0, List.of("invalid_json")),
                new Bad("wrong content type", "text/plain", valid, 415, -1, 0, List.of("unsupported_media_type")),
                new Bad("unknown protobuf fields are ignored", PROTOBUF, withUnknownField(valid), 200, 0, 1, List.of()),
                new Bad("unknown JSON fields are ignored", "application/json", ("{\"resourceMetrics\":[{\"novel\":1,"
                        + "\"scopeMetrics\":[{\"metrics\":[{\"name\":\"bad.json\",\"gauge\":{\"dataPoints\":[{\"asDouble\":1,"
                        + "\"timeUnixNano\":\"" + now * 1_000_000L + "\",\"extra\":\"x\"}]}}]}]}]}")
                        .getBytes(StandardCharsets.UTF_8), 200, 0, 1, List.of()),
                new Bad("NaN and infinities are stored as they are", PROTOBUF, request(gauge("bad.ieee", now,
                        Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY)).toByteArray(), 200, 0, 3, List.of()),
                new Bad("too many attributes", PROTOBUF, request(tooMany).toByteArray(), 200, 1, 1,
                        List.of("too_many_labels")),
                new Bad("out-of-window timestamps", PROTOBUF, request(gauge("bad.window", now, 1),
                        gauge("bad.window", now - Duration.ofHours(2).toMillis(), 2),
                        gauge("bad.window", now + Duration.ofHours(1).toMillis(), 3)).toByteArray(), 200, 2, 1,
                        List.of("too_old", "too_new")),
                new Bad("an exponential histogram", PROTOBUF, request(expHistogram, gauge("bad.beside", now, 1))
                        .toByteArray(), 200, 1, 1, List.of("unsupported_metric_type")),
                new Bad("no valid point", PROTOBUF, request(gauge("n".repeat(300), now, 1)).toByteArray(), 400, -1, 0,
                        List.of("invalid_name")),
                new Bad("more samples than ingest.max-items-per-request", PROTOBUF, request(gauge("bad.lots", now, lots))
                        .toByteArray(), 413, -1, 0, List.of("too_many_items")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInputs")
    void badInputIsAnsweredAndCountedAndChangesNothingElse(Bad bad) throws Exception {
        Map<String, Double> before = new java.util.HashMap<>();
        for (String reason : bad.reasons()) {
            before.put(reason, counter("sluice_ingest_rejected", "reason", reason));
        }
        long kafkaBefore = otlpBadInKafka();
        HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(uri("/v1/metrics")).timeout(Duration.ofSeconds(30))
                .header("Content-Type", bad.contentType()).header("Authorization", "Bearer " + badKey)
                .POST(HttpRequest.BodyPublishers.ofByteArray(bad.body())).build(), HttpResponse.BodyHandlers.ofByteArray());
        String text = new String(response.body(), StandardCharsets.UTF_8);
        assertThat(response.statusCode()).as(text).isEqualTo(bad.status());
        if (bad.status() == 200) {
            long rejected = bad.contentType().equals(PROTOBUF)
                    ? ExportMetricsServiceResponse.parseFrom(response.body()).getPartialSuccess().getRejectedDataPoints()
                    : (text.equals("{}") ? 0 : -2);
            assertThat(rejected).as(text).isEqualTo(bad.rejectedPoints());
            if (rejected > 0) {
                assertThat(ExportMetricsServiceResponse.parseFrom(response.body()).getPartialSuccess().getErrorMessage())
                        .contains(bad.reasons());
            }
        } else {
            assertThat(text).contains("\"error\":{\"status\":" + bad.status());
        }
        for (String reason : bad.reasons()) {
            assertThat(counter("sluice_ingest_rejected", "reason", reason)).as(reason).isGreaterThan(before.get(reason));
        }
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(otlpBadInKafka()).isEqualTo(kafkaBefore + bad.goodPoints()));
    }

    // ---- helpers -----------------------------------------------------------------------------

    private static long otlpBadInKafka() {
        return KafkaTopicReader.readAll(bootstrap, "sluice.metrics").stream()
                .filter(item -> item.tenant().equals("otlp-bad")).count();
    }

    private static void assertQueries(String key, long at, Map<String, String> expected) {
        Instant from = Instant.ofEpochMilli(at).minusSeconds(120).truncatedTo(ChronoUnit.SECONDS);
        Instant to = Instant.ofEpochMilli(at).plusSeconds(180).truncatedTo(ChronoUnit.SECONDS);
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> {
            for (Map.Entry<String, String> e : expected.entrySet()) {
                String[] metricAndMatch = e.getKey().split("\\|", 2);
                HttpResponse<String> q = get(key, "/api/v1/query?metric=" + metricAndMatch[0] + "&match="
                        + URLEncoder.encode(metricAndMatch[1], StandardCharsets.UTF_8) + "&agg=max&step=30s&from="
                        + from + "&to=" + to);
                assertThat(q.statusCode()).as(q.body()).isEqualTo(200);
                Matcher point = ONE_POINT.matcher(q.body());
                assertThat(point.find()).as(e.getKey() + ": " + q.body()).isTrue();
                assertThat(point.group(1)).as(e.getKey() + ": " + q.body()).isEqualTo(e.getValue());
            }
        });
    }

    static KeyValue attr(String key, String value) {
        return KeyValue.newBuilder().setKey(key).setValue(AnyValue.newBuilder().setStringValue(value)).build();
    }

    static NumberDataPoint.Builder point(long timeMs, double value) {
        return NumberDataPoint.newBuilder().setTimeUnixNano(timeMs * 1_000_000L).setAsDouble(value);
    }

    /** A gauge of one point per value, one millisecond apart from {@code timeMs} on. */
    static Metric gauge(String name, long timeMs, double... values) {
        Gauge.Builder gauge = Gauge.newBuilder();
        for (int i = 0; i < values.length; i++) {
            gauge.addDataPoints(point(timeMs + i, values[i]));
        }
        return Metric.newBuilder().setName(name).setGauge(gauge).build();
    }

    static ExportMetricsServiceRequest request(Metric... metrics) {
        return ExportMetricsServiceRequest.newBuilder().addResourceMetrics(ResourceMetrics.newBuilder()
                .setResource(Resource.newBuilder().addAttributes(attr("service.name", "bad-inputs")))
                .addScopeMetrics(ScopeMetrics.newBuilder().addAllMetrics(List.of(metrics)))).build();
    }

    /** {@code valid} with a field number no OTLP version uses appended (a length-delimited field 999). */
    private static byte[] withUnknownField(byte[] valid) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(valid);
            CodedOutputStream coded = CodedOutputStream.newInstance(out);
            coded.writeBytes(999, ByteString.copyFromUtf8("from a newer OTLP"));
            coded.flush();
            return out.toByteArray();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private double counter(String name, String tag, String value) {
        return sluice.meterRegistry().find(name).tag(tag, value).tag("transport", "otlp").counters().stream()
                .mapToDouble(io.micrometer.core.instrument.Counter::count).sum();
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + sluice.port() + path);
    }

    private static HttpResponse<String> post(String key, String contentType, byte[] body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri("/v1/metrics")).timeout(Duration.ofSeconds(30))
                .header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(String key, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + key).GET().build(), HttpResponse.BodyHandlers.ofString());
    }
}
