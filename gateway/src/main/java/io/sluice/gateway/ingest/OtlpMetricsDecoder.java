package io.sluice.gateway.ingest;

import com.fasterxml.jackson.core.JsonGenerator;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.util.JsonFormat;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.metrics.v1.AggregationTemporality;
import io.opentelemetry.proto.metrics.v1.HistogramDataPoint;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import io.opentelemetry.proto.metrics.v1.ScopeMetrics;
import io.opentelemetry.proto.metrics.v1.SummaryDataPoint;
import io.sluice.config.IngestConfig;
import io.sluice.gateway.http.Json;
import io.sluice.protocol.record.Series;

import java.io.IOException;
import java.io.InputStreamReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Decodes an OTLP/HTTP {@code ExportMetricsServiceRequest} (protobuf or OTLP/JSON) into samples, and hands
 * each to {@link Admission}'s item rules, as {@link IngestParser} does for Sluice's JSON.
 *
 * <p>One item is one OTLP data point: its index counts data points across the whole request, and a data
 * point that maps to several samples (a histogram or summary) is taken or refused whole. The mapping:
 * <ul>
 *   <li>gauge and sum points: one sample named after the metric; sums get the labels
 *       {@code otel_temporality} ({@code cumulative}/{@code delta}) and {@code otel_monotonic}
 *       ({@code true}/{@code false}); the value is {@code as_double} or {@code as_int} (as a double);</li>
 *   <li>histogram points, as Prometheus maps them: {@code <name>_bucket{le="<bound>"}} with cumulative counts
 *       up to {@code le="+Inf"} (the total count), {@code <name>_sum} (when the point has a sum) and
 *       {@code <name>_count}, all with {@code otel_temporality}; min, max and exemplars are not kept;</li>
 *   <li>summary points: {@code <name>{quantile="<q>"}}, {@code <name>_sum}, {@code <name>_count};</li>
 *   <li>exponential histogram points: refused, reason {@code unsupported_metric_type}; points flagged
 *       {@code FLAG_NO_RECORDED_VALUE}: refused, reason {@code no_recorded_value}.</li>
 * </ul>
 * Labels are the point's attributes plus the resource's attributes (a point attribute wins over a resource
 * attribute of the same label name); the scope is not kept. Attribute keys become label names by replacing
 * every character outside {@code [a-zA-Z0-9_]} with {@code _} and prefixing {@code _} to a leading digit
 * ({@code service.name} becomes {@code service_name}); metric names keep {@code [a-zA-Z0-9_:.]} and replace
 * the rest the same way. Attribute values: strings as they are, booleans, integers and doubles in their
 * decimal form, bytes in base64, arrays and key-value lists as JSON; an attribute with an empty value is
 * left out (as Prometheus treats an empty label). A point time of 0 means the server's now; otherwise the
 * nanoseconds are truncated to milliseconds. Unknown fields are ignored, as OTLP requires.
 *
 * <p>A body that does not decode is refused whole ({@code invalid_protobuf}, {@code invalid_json}), as is
 * one that maps to more than {@code ingest.max-items-per-request} samples ({@code too_many_items}).
 */
public final class OtlpMetricsDecoder {

    /** An exponential histogram data point: not mapped. */
    public static final String UNSUPPORTED_METRIC_TYPE = "unsupported_metric_type";
    /** A data point flagged {@code FLAG_NO_RECORDED_VALUE} (a staleness marker): nothing to store. */
    public static final String NO_RECORDED_VALUE = "no_recorded_value";

    /** The two encodings of OTLP/HTTP, by their content types. */
    public enum Format {
        PROTOBUF("application/x-protobuf"), JSON("application/json");

        private final String contentType;

        Format(String contentType) {
            this.contentType = contentType;
        }

        public String contentType() {
            return contentType;
        }

        /** The format of a {@code Content-Type} header (parameters ignored), or null for any other. */
        public static Format of(String contentType) {
            if (contentType == null) {
                return null;
            }
            int semicolon = contentType.indexOf(';');
            String type = (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim()
                    .toLowerCase(Locale.ROOT);
            for (Format f : values()) {
                if (f.contentType.equals(type)) {
                    return f;
                }
            }
            return null;
        }
    }

    private static final int FLAG_NO_RECORDED_VALUE = 1;
    private static final JsonFormat.Parser JSON_PARSER = JsonFormat.parser().ignoringUnknownFields();

    private final IngestConfig limits;
    private final Admission admission;

    public OtlpMetricsDecoder(IngestConfig limits, Admission admission) {
        this.limits = limits;
        this.admission = admission;
    }

    /** The request in {@code body}, without consuming it. */
    public static ExportMetricsServiceRequest read(ByteBuf body, Format format) throws MalformedBatchException {
        if (format == Format.PROTOBUF) {
            try {
                return ExportMetricsServiceRequest.parseFrom(CodedInputStream.newInstance(body.nioBuffer()));
            } catch (IOException e) { // InvalidProtocolBufferException: the bytes are in memory
                throw new MalformedBatchException("invalid_protobuf",
                        "body is not an OTLP ExportMetricsServiceRequest in protobuf: " + e.getMessage());
            }
        }
        ExportMetricsServiceRequest.Builder request = ExportMetricsServiceRequest.newBuilder();
        try (InputStreamReader reader = new InputStreamReader(new ByteBufInputStream(body.duplicate()),
                StandardCharsets.UTF_8)) {
            JSON_PARSER.merge(reader, request);
        } catch (IOException | RuntimeException e) {
            // JsonFormat reports most problems as InvalidProtocolBufferException (an IOException); Gson's own
            // (nesting, malformed numbers) arrive as runtime exceptions
            throw new MalformedBatchException("invalid_json",
                    "body is not an OTLP ExportMetricsServiceRequest in OTLP/JSON: " + e.getMessage());
        }
        return request.build();
    }

    /** Decodes {@code body} (not consumed) into samples and refused data points. */
    public ParsedBatch decode(ByteBuf body, Format format) throws MalformedBatchException {
        return decode(read(body, format));
    }

    public ParsedBatch decode(ExportMetricsServiceRequest request) throws MalformedBatchException {
        Walk walk = new Walk(admission.now());
        for (ResourceMetrics rm : request.getResourceMetricsList()) {
            List<String> resource = labels(rm.getResource().getAttributesList());
            for (ScopeMetrics sm : rm.getScopeMetricsList()) {
                for (Metric m : sm.getMetricsList()) {
                    walk.metric(m, resource);
                }
            }
        }
        return new ParsedBatch(walk.samples, List.of(), walk.rejections, walk.points);
    }

    /** The state of one request's decoding. */
    private final class Walk {
        private final long now;
        private final List<ParsedBatch.Sample> samples = new ArrayList<>();
        private final List<Rejection> rejections = new ArrayList<>();
        private final List<Pending> pending = new ArrayList<>();
        private int points;

        private record Pending(String name, List<String> labels, double value) {
        }

        Walk(long now) {
            this.now = now;
        }

        void metric(Metric m, List<String> resource) throws MalformedBatchException {
            String name = metricName(m.getName());
            switch (m.getDataCase()) {
                case GAUGE -> {
                    for (NumberDataPoint p : m.getGauge().getDataPointsList()) {
                        number(name, p, resource, List.of());
                    }
                }
                case SUM -> {
                    List<String> extra = List.of("otel_temporality", temporality(m.getSum().getAggregationTemporality()),
                            "otel_monotonic", Boolean.toString(m.getSum().getIsMonotonic()));
                    for (NumberDataPoint p : m.getSum().getDataPointsList()) {
                        number(name, p, resource, extra);
                    }
                }
                case HISTOGRAM -> {
                    List<String> extra = List.of("otel_temporality",
                            temporality(m.getHistogram().getAggregationTemporality()));
                    for (HistogramDataPoint p : m.getHistogram().getDataPointsList()) {
                        histogram(name, p, resource, extra);
                    }
                }
                case SUMMARY -> {
                    for (SummaryDataPoint p : m.getSummary().getDataPointsList()) {
                        summary(name, p, resource);
                    }
                }
                case EXPONENTIAL_HISTOGRAM -> {
                    int n = m.getExponentialHistogram().getDataPointsCount();
                    for (int i = 0; i < n; i++) {
                        refuse(new Refusal(UNSUPPORTED_METRIC_TYPE, "metric " + Admission.quote(m.getName())
                                + " is an exponential histogram, which Sluice does not store; configure the "
                                + "exporter for explicit-bucket histograms"));
                    }
                }
                case DATA_NOT_SET -> { }
            }
        }

        private void number(String name, NumberDataPoint p, List<String> resource, List<String> extra)
                throws MalformedBatchException {
            if (noRecordedValue(p.getFlags())) {
                return;
            }
            double value;
            switch (p.getValueCase()) {
                case AS_DOUBLE -> value = p.getAsDouble();
                case AS_INT -> value = p.getAsInt();
                default -> {
                    refuse(new Refusal(Refusal.INVALID_VALUE, "data point of " + Admission.quote(name)
                            + " has neither as_double nor as_int"));
                    return;
                }
            }
            List<String> labels = merge(labels(p.getAttributesList()), resource, extra);
            pending.add(new Pending(name, labels, value));
            take(p.getTimeUnixNano());
        }

        private void histogram(String name, HistogramDataPoint p, List<String> resource, List<String> extra)
                throws MalformedBatchException {
            if (noRecordedValue(p.getFlags())) {
                return;
            }
            int bounds = p.getExplicitBoundsCount();
            int buckets = p.getBucketCountsCount();
            if (buckets != 0 && buckets != bounds + 1) {
                refuse(new Refusal(Refusal.INVALID_VALUE, "histogram data point of " + Admission.quote(name) + " has "
                        + buckets + " bucket counts for " + bounds + " explicit bounds (expected " + (bounds + 1) + ")"));
                return;
            }
            List<String> labels = merge(labels(p.getAttributesList()), resource, extra);
            if (buckets != 0) {
                double cumulative = 0;
                for (int i = 0; i < bounds; i++) {
                    cumulative += unsigned(p.getBucketCounts(i));
                    pending.add(new Pending(name + "_bucket", with(labels, "le", bound(p.getExplicitBounds(i))),
                            cumulative));
                }
                pending.add(new Pending(name + "_bucket", with(labels, "le", "+Inf"), unsigned(p.getCount())));
            }
            if (p.hasSum()) {
                pending.add(new Pending(name + "_sum", labels, p.getSum()));
            }
            pending.add(new Pending(name + "_count", labels, unsigned(p.getCount())));
            take(p.getTimeUnixNano());
        }

        private void summary(String name, SummaryDataPoint p, List<String> resource) throws MalformedBatchException {
            if (noRecordedValue(p.getFlags())) {
                return;
            }
            List<String> labels = merge(labels(p.getAttributesList()), resource, List.of());
            for (SummaryDataPoint.ValueAtQuantile q : p.getQuantileValuesList()) {
                pending.add(new Pending(name, with(labels, "quantile", bound(q.getQuantile())), q.getValue()));
            }
            pending.add(new Pending(name + "_sum", labels, p.getSum()));
            pending.add(new Pending(name + "_count", labels, unsigned(p.getCount())));
            take(p.getTimeUnixNano());
        }

        private boolean noRecordedValue(int flags) {
            if ((flags & FLAG_NO_RECORDED_VALUE) == 0) {
                return false;
            }
            refuse(new Refusal(NO_RECORDED_VALUE, "the data point is flagged FLAG_NO_RECORDED_VALUE; there is "
                    + "no value to store"));
            return true;
        }

        /** Checks the pending samples of the current data point; takes them all or refuses the point. */
        private void take(long timeUnixNano) throws MalformedBatchException {
            long timestamp = timeUnixNano == 0 ? now : Long.divideUnsigned(timeUnixNano, 1_000_000L);
            for (Pending s : pending) {
                Refusal problem = admission.checkSample(s.name, s.labels, timestamp, now);
                if (problem != null) {
                    refuse(problem);
                    return;
                }
            }
            if (samples.size() + pending.size() > limits.maxItemsPerRequest()) {
                throw new MalformedBatchException("too_many_items", "more than " + limits.maxItemsPerRequest()
                        + " samples in one request (ingest.max-items-per-request); export smaller batches");
            }
            for (Pending s : pending) {
                samples.add(new ParsedBatch.Sample(points, Series.of(s.name, s.labels.toArray(String[]::new)),
                        timestamp, s.value));
            }
            pending.clear();
            points++;
        }

        private void refuse(Refusal refusal) {
            pending.clear();
            rejections.add(Rejection.of(points, refusal));
            points++;
        }
    }

    private static String temporality(AggregationTemporality t) {
        return switch (t) {
            case AGGREGATION_TEMPORALITY_CUMULATIVE -> "cumulative";
            case AGGREGATION_TEMPORALITY_DELTA -> "delta";
            default -> "unspecified";
        };
    }

    private static double unsigned(long fixed64) {
        return fixed64 >= 0 ? fixed64 : Double.parseDouble(Long.toUnsignedString(fixed64));
    }

    /** A bucket bound or quantile as a label value: integral values without a fraction ({@code 5}, not {@code 5.0}). */
    static String bound(double v) {
        if (v == Double.POSITIVE_INFINITY) {
            return "+Inf";
        }
        if (v == Double.NEGATIVE_INFINITY) {
            return "-Inf";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return Double.toString(v);
    }

    /**
     * The point's labels, then the resource's labels whose names the point does not use, then {@code extra};
     * a name twice within one layer stays twice (admission refuses it).
     */
    private static List<String> merge(List<String> point, List<String> resource, List<String> extra) {
        List<String> out = new ArrayList<>(point.size() + resource.size() + extra.size());
        out.addAll(point);
        Set<String> names = new HashSet<>();
        for (int i = 0; i < point.size(); i += 2) {
            names.add(point.get(i));
        }
        for (int i = 0; i < resource.size(); i += 2) {
            if (!names.contains(resource.get(i))) {
                out.add(resource.get(i));
                out.add(resource.get(i + 1));
            }
        }
        out.addAll(extra);
        return out;
    }

    private static List<String> with(List<String> labels, String name, String value) {
        List<String> out = new ArrayList<>(labels.size() + 2);
        out.addAll(labels);
        out.add(name);
        out.add(value);
        return out;
    }

    /** Attributes as alternating label names and values, empty values left out. */
    static List<String> labels(List<KeyValue> attributes) {
        List<String> out = new ArrayList<>(attributes.size() * 2);
        for (KeyValue kv : attributes) {
            String value = value(kv.getValue());
            if (!value.isEmpty()) {
                out.add(labelName(kv.getKey()));
                out.add(value);
            }
        }
        return out;
    }

    /** An attribute key as a label name: {@code [a-zA-Z0-9_]} kept, anything else {@code _}, a leading digit prefixed by {@code _}. */
    static String labelName(String key) {
        return sanitise(key, false);
    }

    /** A metric name: {@code [a-zA-Z0-9_:.]} kept, anything else {@code _}, a leading digit or dot prefixed by {@code _}. */
    static String metricName(String name) {
        return sanitise(name, true);
    }

    private static String sanitise(String s, boolean metric) {
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
                    || (metric && (c == ':' || c == '.'));
            if (!ok && out == null) {
                out = new StringBuilder(s.length()).append(s, 0, i);
            }
            if (out != null) {
                out.append(ok ? c : '_');
            }
        }
        String result = out == null ? s : out.toString();
        if (!result.isEmpty()) {
            char first = result.charAt(0);
            if ((first >= '0' && first <= '9') || first == '.') {
                result = "_" + result;
            }
        }
        return result;
    }

    /** An attribute value as a label value. */
    static String value(AnyValue v) {
        return switch (v.getValueCase()) {
            case STRING_VALUE -> v.getStringValue();
            case BOOL_VALUE -> Boolean.toString(v.getBoolValue());
            case INT_VALUE -> Long.toString(v.getIntValue());
            case DOUBLE_VALUE -> Double.toString(v.getDoubleValue());
            case BYTES_VALUE -> Base64.getEncoder().encodeToString(v.getBytesValue().toByteArray());
            case ARRAY_VALUE, KVLIST_VALUE -> json(v);
            // VALUE_NOT_SET, and the string-table references of profiles, which metrics do not use
            default -> "";
        };
    }

    private static String json(AnyValue v) {
        StringWriter out = new StringWriter();
        try (JsonGenerator json = Json.REQUESTS.createGenerator(out)) {
            writeJson(json, v);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // a StringWriter does not fail
        }
        return out.toString();
    }

    private static void writeJson(JsonGenerator json, AnyValue v) throws IOException {
        switch (v.getValueCase()) {
            case STRING_VALUE -> json.writeString(v.getStringValue());
            case BOOL_VALUE -> json.writeBoolean(v.getBoolValue());
            case INT_VALUE -> json.writeNumber(v.getIntValue());
            case DOUBLE_VALUE -> {
                double d = v.getDoubleValue();
                if (Double.isFinite(d)) {
                    json.writeNumber(d);
                } else {
                    json.writeString(Double.toString(d));
                }
            }
            case BYTES_VALUE -> json.writeString(Base64.getEncoder().encodeToString(v.getBytesValue().toByteArray()));
            case ARRAY_VALUE -> {
                json.writeStartArray();
                for (AnyValue e : v.getArrayValue().getValuesList()) {
                    writeJson(json, e);
                }
                json.writeEndArray();
            }
            case KVLIST_VALUE -> {
                json.writeStartObject();
                for (KeyValue e : v.getKvlistValue().getValuesList()) {
                    json.writeFieldName(e.getKey());
                    writeJson(json, e.getValue());
                }
                json.writeEndObject();
            }
            default -> json.writeNull();
        }
    }
}
