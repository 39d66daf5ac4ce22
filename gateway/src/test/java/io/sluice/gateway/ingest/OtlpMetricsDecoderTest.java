package io.sluice.gateway.ingest;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.ArrayValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.common.v1.KeyValueList;
import io.opentelemetry.proto.metrics.v1.AggregationTemporality;
import io.opentelemetry.proto.metrics.v1.Histogram;
import io.opentelemetry.proto.metrics.v1.HistogramDataPoint;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import io.opentelemetry.proto.metrics.v1.Sum;
import io.opentelemetry.proto.metrics.v1.Summary;
import io.opentelemetry.proto.metrics.v1.SummaryDataPoint;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.sluice.gateway.ingest.OtlpIngestTest.attr;
import static io.sluice.gateway.ingest.OtlpIngestTest.gauge;
import static io.sluice.gateway.ingest.OtlpIngestTest.point;
import static io.sluice.gateway.ingest.OtlpIngestTest.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The OTLP mapping rules, without a gateway: names, labels, values, histograms, summaries, refusals, OTLP/JSON. */
class OtlpMetricsDecoderTest {

    private static final long NOW = 1_800_000_000_000L;
    private final SluiceConfig config = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-items-per-request", "20"));
    private final OtlpMetricsDecoder decoder = new OtlpMetricsDecoder(config.ingest(), AdmissionTest.admission(config, NOW));

    private ParsedBatch decode(ExportMetricsServiceRequest request) throws MalformedBatchException {
        ByteBuf body = Unpooled.wrappedBuffer(request.toByteArray());
        try {
            return decoder.decode(body, OtlpMetricsDecoder.Format.PROTOBUF);
        } finally {
            body.release();
        }
    }

    private ParsedBatch decodeJson(String json) throws MalformedBatchException {
        ByteBuf body = Unpooled.copiedBuffer(json, StandardCharsets.UTF_8);
        try {
            return decoder.decode(body, OtlpMetricsDecoder.Format.JSON);
        } finally {
            body.release();
        }
    }

    /** Each sample as "name{labels} value". */
    private static List<String> render(ParsedBatch batch) {
        return batch.samples().stream().map(s -> s.series().name() + s.series().labels() + " " + s.value()).toList();
    }

    @Test
    void aHistogramMapsToCumulativeBucketsSumAndCount() throws Exception {
        Metric m = Metric.newBuilder().setName("http.server.duration").setHistogram(Histogram.newBuilder()
                .setAggregationTemporality(AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA)
                .addDataPoints(HistogramDataPoint.newBuilder().setTimeUnixNano(NOW * 1_000_000L).setCount(6).setSum(12.5)
                        .addAllExplicitBounds(List.of(0.25, 1.0)).addAllBucketCounts(List.of(1L, 2L, 3L)))).build();
        ParsedBatch batch = decode(request(m));
        assertThat(batch.rejections()).isEmpty();
        assertThat(batch.total()).isEqualTo(1);
        String common = "otel_temporality=delta, service_name=bad-inputs";
        assertThat(render(batch)).containsExactly(
                "http.server.duration_bucket{le=0.25, " + common + "} 1.0",
                "http.server.duration_bucket{le=1, " + common + "} 3.0",
                "http.server.duration_bucket{le=+Inf, " + common + "} 6.0",
                "http.server.duration_sum{" + common + "} 12.5",
                "http.server.duration_count{" + common + "} 6.0");
        assertThat(batch.samples()).allSatisfy(s -> assertThat(s.index()).isZero());
        assertThat(batch.samples()).allSatisfy(s -> assertThat(s.timestampMs()).isEqualTo(NOW));
    }

    @Test
    void aHistogramWithBucketsNotMatchingItsBoundsIsRefusedWhole() throws Exception {
        Metric m = Metric.newBuilder().setName("h").setHistogram(Histogram.newBuilder()
                .addDataPoints(HistogramDataPoint.newBuilder().setTimeUnixNano(NOW * 1_000_000L).setCount(3)
                        .addAllExplicitBounds(List.of(1.0)).addAllBucketCounts(List.of(1L, 1L, 1L)))).build();
        ParsedBatch batch = decode(request(m, gauge("g", NOW, 1)));
        assertThat(batch.rejections()).extracting(Rejection::index, Rejection::reason)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(0, "invalid_value"));
        assertThat(batch.samples()).singleElement().satisfies(s -> assertThat(s.index()).isEqualTo(1));
    }

    @Test
    void summariesSumsAndResourcePrecedence() throws Exception {
        Metric sum = Metric.newBuilder().setName("jobs/done").setSum(Sum.newBuilder().setIsMonotonic(true)
                .setAggregationTemporality(AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE)
                .addDataPoints(NumberDataPoint.newBuilder().setTimeUnixNano(NOW * 1_000_000L).setAsInt(-3)
                        .addAttributes(attr("service.name", "override")))).build();
        Metric summary = Metric.newBuilder().setName("rpc").setSummary(Summary.newBuilder()
                .addDataPoints(SummaryDataPoint.newBuilder().setTimeUnixNano(NOW * 1_000_000L).setCount(4).setSum(10)
                        .addQuantileValues(SummaryDataPoint.ValueAtQuantile.newBuilder().setQuantile(0.5).setValue(2))))
                .build();
        assertThat(render(decode(request(sum, summary)))).containsExactly(
                "jobs_done{otel_monotonic=true, otel_temporality=cumulative, service_name=override} -3.0",
                "rpc{quantile=0.5, service_name=bad-inputs} 2.0",
                "rpc_sum{service_name=bad-inputs} 10.0",
                "rpc_count{service_name=bad-inputs} 4.0");
    }

    @Test
    void attributeValuesOfEveryKindBecomeLabelValues() throws Exception {
        AnyValue array = AnyValue.newBuilder().setArrayValue(ArrayValue.newBuilder()
                .addValues(AnyValue.newBuilder().setStringValue("a")).addValues(AnyValue.newBuilder().setIntValue(2))).build();
        AnyValue kv = AnyValue.newBuilder().setKvlistValue(KeyValueList.newBuilder()
                .addValues(KeyValue.newBuilder().setKey("k").setValue(AnyValue.newBuilder().setBoolValue(true)))).build();
        Metric m = Metric.newBuilder().setName("g").setGauge(io.opentelemetry.proto.metrics.v1.Gauge.newBuilder()
                .addDataPoints(point(NOW, 1)
                        .addAttributes(KeyValue.newBuilder().setKey("int").setValue(AnyValue.newBuilder().setIntValue(7)))
                        .addAttributes(KeyValue.newBuilder().setKey("bool").setValue(AnyValue.newBuilder().setBoolValue(false)))
                        .addAttributes(KeyValue.newBuilder().setKey("dbl").setValue(AnyValue.newBuilder().setDoubleValue(0.5)))
                        .addAttributes(KeyValue.newBuilder().setKey("bytes").setValue(AnyValue.newBuilder()
                                .setBytesValue(com.google.protobuf.ByteString.copyFrom(new byte[] {1, 2, 3}))))
                        .addAttributes(KeyValue.newBuilder().setKey("arr").setValue(array))
                        .addAttributes(KeyValue.newBuilder().setKey("kv").setValue(kv))
                        .addAttributes(attr("empty", ""))
                        .addAttributes(KeyValue.newBuilder().setKey("unset")))).build();
        Map<String, String> labels = new LinkedHashMap<>(decode(request(m)).samples().get(0).series().labels());
        assertThat(labels).containsExactlyInAnyOrderEntriesOf(Map.of("int", "7", "bool", "false", "dbl", "0.5",
                "bytes", "AQID", "arr", "[\"a\",2]", "kv", "{\"k\":true}", "service_name", "bad-inputs"));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"service.name, service_name", "k8s.pod-name, k8s_pod_name", "3d, _3d", "é, _", "ok_1, ok_1"})
    void labelNames(String key, String label) {
        assertThat(OtlpMetricsDecoder.labelName(key)).isEqualTo(label);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"http.server.duration, http.server.duration", "a/b-c, a_b_c", "1x, _1x", ".x, _.x", "ns:m, ns:m"})
    void metricNames(String name, String sanitised) {
        assertThat(OtlpMetricsDecoder.metricName(name)).isEqualTo(sanitised);
    }

    @Test
    void timeZeroMeansNowAndNoRecordedValueIsRefused() throws Exception {
        Metric m = Metric.newBuilder().setName("g").setGauge(io.opentelemetry.proto.metrics.v1.Gauge.newBuilder()
                .addDataPoints(NumberDataPoint.newBuilder().setAsDouble(1))
                .addDataPoints(point(NOW, 2).setFlags(1))
                .addDataPoints(NumberDataPoint.newBuilder().setTimeUnixNano(NOW * 1_000_000L))).build();
        ParsedBatch batch = decode(request(m));
        assertThat(batch.samples()).singleElement().satisfies(s -> assertThat(s.timestampMs()).isEqualTo(NOW));
        assertThat(batch.rejections()).extracting(Rejection::reason).containsExactly("no_recorded_value", "invalid_value");
        assertThat(batch.total()).isEqualTo(3);
    }

    @Test
    void aHugeUnsignedTimeIsTooNewNotNegative() throws Exception {
        Metric m = Metric.newBuilder().setName("g").setGauge(io.opentelemetry.proto.metrics.v1.Gauge.newBuilder()
                .addDataPoints(NumberDataPoint.newBuilder().setAsDouble(1).setTimeUnixNano(-1L))).build();
        assertThat(decode(request(m)).rejections()).extracting(Rejection::reason).containsExactly("too_new");
    }

    @Test
    void tooManySamplesRefuseTheBody() {
        Metric m = Metric.newBuilder().setName("h").setHistogram(Histogram.newBuilder()
                .addDataPoints(HistogramDataPoint.newBuilder().setTimeUnixNano(NOW * 1_000_000L).setCount(1)
                        .addAllExplicitBounds(java.util.Collections.nCopies(19, 1.0))
                        .addAllBucketCounts(java.util.Collections.nCopies(20, 0L)))).build();
        assertThatThrownBy(() -> decode(request(m))).isInstanceOf(MalformedBatchException.class)
                .extracting(e -> ((MalformedBatchException) e).code()).isEqualTo("too_many_items");
    }

    @Test
    void otlpJsonHexIdsInt64StringsAndEnumIntegers() throws Exception {
        String nanos = Long.toString(NOW * 1_000_000L);
        ParsedBatch batch = decodeJson("{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":["
                + "{\"name\":\"s\",\"sum\":{\"aggregationTemporality\":1,\"isMonotonic\":false,\"dataPoints\":[{"
                + "\"asInt\":\"9007199254740993\",\"timeUnixNano\":\"" + nanos + "\",\"exemplars\":[{\"asInt\":1,"
                + "\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\"}]}]}},"
                + "{\"name\":\"t\",\"sum\":{\"aggregation_temporality\":\"AGGREGATION_TEMPORALITY_CUMULATIVE\","
                + "\"data_points\":[{\"as_double\":1.5,\"time_unix_nano\":" + nanos + "}]}}]}]}]}");
        assertThat(render(batch)).containsExactly(
                "s{otel_monotonic=false, otel_temporality=delta} 9.007199254740992E15",
                "t{otel_monotonic=false, otel_temporality=cumulative} 1.5");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "not JSON             | {\"resourceMetrics\":[ | invalid_json",
            "wrong type           | {\"resourceMetrics\":5} | invalid_json",
            "bad int64            | {\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"gauge\":{\"dataPoints\":[{\"timeUnixNano\":\"x\"}]}}]}]}]} | invalid_json",
            "array                | [] | invalid_json"})
    void undecodableJsonIsRefusedWhole(String title, String body, String code) {
        assertThatThrownBy(() -> decodeJson(body)).isInstanceOf(MalformedBatchException.class)
                .extracting(e -> ((MalformedBatchException) e).code()).isEqualTo(code);
    }

    @Test
    void partialSuccessNamesTheReasons() {
        var response = OtlpRoutes.response(List.of(new Rejection(0, "too_old", "timestamp 1 is older"),
                new Rejection(3, "too_old", "x"), new Rejection(4, "invalid_name", "y")));
        assertThat(response.getPartialSuccess().getRejectedDataPoints()).isEqualTo(3);
        assertThat(response.getPartialSuccess().getErrorMessage()).isEqualTo(
                "3 data points refused (invalid_name: 1, too_old: 2); first, data point 0: timestamp 1 is older");
        assertThat(OtlpRoutes.response(List.of()).hasPartialSuccess()).isFalse();
    }
}
