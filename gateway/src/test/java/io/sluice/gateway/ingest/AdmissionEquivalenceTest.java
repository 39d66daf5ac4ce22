package io.sluice.gateway.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;
import io.opentelemetry.proto.metrics.v1.Gauge;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import io.opentelemetry.proto.metrics.v1.ScopeMetrics;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.gateway.http.JsonDoubles;
import io.sluice.protocol.client.BatchRejectedException;
import io.sluice.protocol.client.RecordBatch;
import io.sluice.protocol.client.SluiceClient;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.record.Series;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.sluice.storage.writer.WriterRole;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The same item gets the same verdict and the same reason over every ingest format, against one real gateway:
 * HTTP JSON, the binary protocol (the Java client), InfluxDB line protocol ({@code /api/v2/write}), OTLP/HTTP
 * ({@code /v1/metrics}, protobuf) and Prometheus remote_write ({@code /api/v1/write}). Each case is sent alone
 * over each format, accepted by all or refused by all for the same reason, and counted under that reason for
 * each format's {@code transport}.
 *
 * <p>Some items cannot be written in some formats, because the format itself has no way to say them (line
 * protocol has no NaN literal, OTLP and line protocol sanitise names, the three agent formats carry no events,
 * …). Such a case names, in its table entry, each format it skips and why ({@link Why}); the test then checks that
 * the format indeed cannot carry the item unchanged (with the format's own mapping), so a skip cannot hide a
 * format that could carry the item and judges it differently.
 */
@RealInfrastructure
class AdmissionEquivalenceTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** The one point of a query answer holding one series with one point: its value as written. */
    private static final Pattern ONE_POINT = Pattern.compile("\"series\":\\[\\{[^]]*\"points\":\\[\\[\\d+,([^]]+)]]}]");
    /** The only rejection of an ingest answer. */
    private static final Pattern ONE_REJECTION = Pattern.compile("\"rejected\":\\[\\{\"index\":0,\"reason\":\"([a-z_]+)\"");
    /** Line protocol's answer to a body of one refused line, nothing written. */
    private static final Pattern ONE_REFUSED_LINE = Pattern.compile(
            "\"line\":1,\"reason\":\"([a-z_]+)\",\"refused_lines\":1,\"written\":0");
    /** OTLP's answer to a request of one refused data point. */
    private static final Pattern ONE_REFUSED_POINT = Pattern.compile(
            "none of the 1 data points is valid: 1 data points refused \\(([a-z_]+): 1\\); first, data point 0: ");
    /** remote_write's answer to a request of one refused sample. */
    private static final Pattern ONE_REFUSED_SAMPLE = Pattern.compile(
            "none of the 1 samples and histograms was taken: ([a-z_]+): 1 \\(first: item 0, \\1, ");
    private static final int MAX_LABELS = 4;
    private static final int MAX_ACTIVE_SERIES = 60;
    private static GatewayRole sluice;
    /** The API key of each format's tenant (each format has its own, so their active series are apart). */
    private static final Map<Format, String> keys = new EnumMap<>(Format.class);
    /** The API key of each format's tenant for the active-series limit. */
    private static final Map<Format, String> cardKeys = new EnumMap<>(Format.class);
    private static String nanKey;
    private static SluiceClient binary;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "ingest.max-labels", Integer.toString(MAX_LABELS),
                "ingest.max-active-series", Integer.toString(MAX_ACTIVE_SERIES))));
        ApiKeyStore store = new ApiKeyStore(infra.connectionFactory());
        for (Format f : Format.values()) {
            keys.put(f, KeysCommand.create(store, "eq-" + f.transport, Tier.ENTERPRISE));
            cardKeys.put(f, KeysCommand.create(store, "eq-card-" + f.transport, Tier.ENTERPRISE));
        }
        nanKey = KeysCommand.create(store, "eq-nan", Tier.ENTERPRISE);
        sluice = GatewayRole.start(config);
        binary = client(keys.get(Format.BINARY));
    }

    @AfterAll
    static void stop() {
        binary.close();
        sluice.close();
    }

    /** The formats, by the {@code transport} tag of their counters. */
    enum Format {
        HTTP("http"), BINARY("binary"), INFLUX("influx"), OTLP("otlp"), REMOTE_WRITE("remote_write");

        final String transport;

        Format(String transport) {
            this.transport = transport;
        }
    }

    /**
     * Why a format cannot carry an item unchanged: each is a documented difference of the format (README, and the
     * decoder's Javadoc), not a different admission rule.
     */
    enum Why {
        /** Line protocol, OTLP metrics and remote_write carry samples; events come only over JSON and binary. */
        SAMPLES_ONLY,
        /** Line protocol has no NaN or Inf literal: InfluxDB refuses them, and so does Sluice ({@code invalid_value}). */
        NO_NAN_OR_INF_LITERAL,
        /** Line protocol names a sample {@code <measurement>_<field>}; a name without an inner {@code _} has no such form. */
        NOT_MEASUREMENT_UNDERSCORE_FIELD,
        /**
         * The format turns the name (line protocol, OTLP: characters a metric name may not hold, and a leading
         * digit) or a label name (line protocol, OTLP: characters outside {@code [a-zA-Z0-9_]}) into a valid one.
         */
        SANITISED,
        /** OTLP and remote_write leave out a label with an empty value (Prometheus' rule: empty is no label). */
        EMPTY_LABEL_LEFT_OUT,
        /** remote_write's {@code __name__} label is the metric name; it cannot be a label beside it. */
        NAME_LABEL
    }

    /** One item: a sample (name, labels as alternating names and values, value) or an event, at now + offset. */
    record Item(String name, List<String> labels, double value, String eventId, String eventKey, long offsetMs) {
        static Item sample(String name, double value, String... labels) {
            return new Item(name, List.of(labels), value, null, null, 0);
        }

        static Item event(String id, String type, String key, String... attributes) {
            return new Item(type, List.of(attributes), 0, id, key, 0);
        }

        Item at(Duration offset) {
            return new Item(name, labels, value, eventId, eventKey, offset.toMillis());
        }

        boolean isEvent() {
            return eventId != null;
        }

        Map<String, String> labelMap() {
            Map<String, String> m = new LinkedHashMap<>();
            for (int i = 0; i < labels.size(); i += 2) {
                m.put(labels.get(i), labels.get(i + 1));
            }
            return m;
        }

        /** The measurement and field key of line protocol that make this name: split at the last {@code _}. */
        String[] measurementAndField() {
            int underscore = name.lastIndexOf('_');
            return underscore <= 0 || underscore == name.length() - 1 ? null
                    : new String[] {name.substring(0, underscore), name.substring(underscore + 1)};
        }
    }

    /**
     * A case: a title, the item, the expected reason (null: accepted), and the formats it skips, each with why
     * (empty: sent over every format).
     */
    record Case(String title, Item item, String reason, Map<Format, Why> skips) {
        Case(String title, Item item, String reason) {
            this(title, item, reason, Map.of());
        }

        Case skip(Why why, Format... formats) {
            Map<Format, Why> s = new EnumMap<>(Format.class);
            s.putAll(skips);
            for (Format f : formats) {
                s.put(f, why);
            }
            return new Case(title, item, reason, s);
        }

        @Override
        public String toString() {
            return title + " -> " + (reason == null ? "accepted" : reason);
        }
    }

    static Stream<Case> cases() {
        String e512 = "é".repeat(512); // 1,024 bytes in 512 characters: the limit of ingest.max-label-value-length
        Format influx = Format.INFLUX;
        Format otlp = Format.OTLP;
        Format remoteWrite = Format.REMOTE_WRITE;
        // Sample names hold an inner '_' so that line protocol can write them (as <measurement>_<field>)
        return Stream.of(
                new Case("plain value", Item.sample("eq.plain_v", 1.5, "host", "a"), null),
                new Case("NaN", Item.sample("eq_nan", Double.NaN), null)
                        .skip(Why.NO_NAN_OR_INF_LITERAL, influx),
                new Case("+Inf", Item.sample("eq_inf", Double.POSITIVE_INFINITY), null)
                        .skip(Why.NO_NAN_OR_INF_LITERAL, influx),
                new Case("-Inf", Item.sample("eq_minus_inf", Double.NEGATIVE_INFINITY), null)
                        .skip(Why.NO_NAN_OR_INF_LITERAL, influx),
                new Case("-0.0", Item.sample("eq_negzero", -0.0), null),
                new Case("largest double", Item.sample("eq_max", Double.MAX_VALUE), null),
                new Case("name of 200 bytes", Item.sample("n".repeat(198) + "_n", 1), null),
                new Case("name of 201 bytes", Item.sample("n".repeat(199) + "_n", 1), "invalid_name"),
                new Case("name of 300 bytes", Item.sample("n".repeat(298) + "_n", 1), "invalid_name"),
                // 'é' becomes '_' in line protocol and OTLP: a 200-byte name, valid
                new Case("name of 200 characters, 201 bytes", Item.sample("n".repeat(197) + "_né", 1), "invalid_name")
                        .skip(Why.SANITISED, influx, otlp),
                // a leading digit gets a '_' before it in line protocol and OTLP
                new Case("name starting with a digit", Item.sample("9eq_v", 1), "invalid_name")
                        .skip(Why.SANITISED, influx, otlp),
                new Case("name with a space", Item.sample("eq metric_v", 1), "invalid_name")
                        .skip(Why.SANITISED, influx, otlp),
                new Case("name with a dash", Item.sample("eq-metric_v", 1), "invalid_name")
                        .skip(Why.SANITISED, influx, otlp),
                new Case("name without an underscore", Item.sample("eq.plain", 1), null)
                        .skip(Why.NOT_MEASUREMENT_UNDERSCORE_FIELD, influx),
                new Case("label name with a space", Item.sample("eq_l", 1, "a b", "1"), "invalid_label")
                        .skip(Why.SANITISED, influx, otlp),
                new Case("label name with a dash", Item.sample("eq_l", 1, "a-b", "1"), "invalid_label")
                        .skip(Why.SANITISED, influx, otlp),
                new Case("label name starting with __", Item.sample("eq_l", 1, "__x", "1"), "invalid_label"),
                new Case("label named __name__", Item.sample("eq_l", 1, "__name__", "x"), "invalid_label")
                        .skip(Why.NAME_LABEL, remoteWrite),
                new Case("label name of 101 bytes", Item.sample("eq_l", 1, "l".repeat(101), "1"), "invalid_label"),
                new Case("empty label value", Item.sample("eq_l", 1, "a", ""), "invalid_label")
                        .skip(Why.EMPTY_LABEL_LEFT_OUT, otlp, remoteWrite),
                new Case("label value of 1,024 bytes (512 characters)", Item.sample("eq_l", 1, "a", e512), null),
                new Case("label value of 1,025 bytes (513 characters)", Item.sample("eq_l", 1, "a", e512 + "x"),
                        "invalid_label"),
                new Case("label value of 2,000 bytes", Item.sample("eq_l", 1, "a", "v".repeat(2000)), "invalid_label"),
                new Case("NUL in a label value", Item.sample("eq_l", 1, "a", "x\0y"), "invalid_label"),
                new Case(MAX_LABELS + " labels", Item.sample("eq_l4", 1, "a", "1", "b", "2", "c", "3", "d", "4"), null),
                new Case(MAX_LABELS + 1 + " labels", Item.sample("eq_l", 1, "a", "1", "b", "2", "c", "3", "d", "4",
                        "e", "5"), "too_many_labels"),
                new Case("2 hours old", Item.sample("eq_t", 1).at(Duration.ofHours(-2)), "too_old"),
                new Case("59 minutes old", Item.sample("eq_t", 1).at(Duration.ofMinutes(-59)), null),
                new Case("9 minutes ahead", Item.sample("eq_t", 1).at(Duration.ofMinutes(9)), null),
                new Case("1 hour ahead", Item.sample("eq_t", 1).at(Duration.ofHours(1)), "too_new"),
                new Case("event", Item.event("eq-e-1", "deploy", "api", "version", "1.2"), null)
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite),
                new Case("event with an empty key", Item.event("eq-e-2", "deploy", ""), null)
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite),
                new Case("event id of 1,025 bytes", Item.event("i".repeat(1025), "deploy", ""), "invalid_id")
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite),
                new Case("NUL in an event id", Item.event("eq\0e", "deploy", ""), "invalid_id")
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite),
                new Case("event type with a space", Item.event("eq-e-3", "de ploy", ""), "invalid_name")
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite),
                new Case("event type of 201 bytes", Item.event("eq-e-4", "t".repeat(201), ""), "invalid_name")
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite),
                new Case("event key of 1,025 bytes", Item.event("eq-e-5", "deploy", "k".repeat(1025)), "invalid_key")
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite),
                new Case("NUL in an event key", Item.event("eq-e-6", "deploy", "a\0"), "invalid_key")
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite),
                new Case("event attribute named __x", Item.event("eq-e-7", "deploy", "", "__x", "1"), "invalid_label")
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite),
                new Case("empty event attribute", Item.event("eq-e-8", "deploy", "", "a", ""), "invalid_label")
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite),
                new Case("old event", Item.event("eq-e-9", "deploy", "").at(Duration.ofHours(-2)), "too_old")
                        .skip(Why.SAMPLES_ONLY, influx, otlp, remoteWrite));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theSameItemGetsTheSameVerdictOverEveryFormat(Case c) throws Exception {
        for (Format format : Format.values()) {
            assertThat(cannotCarry(format, c.item())).as(format + ": the case's skip entry").isEqualTo(c.skips().get(format));
        }
        Map<Format, Double> before = new EnumMap<>(Format.class);
        for (Format format : Format.values()) {
            before.put(format, rejected(c.reason(), format.transport));
        }
        Map<Format, String> verdicts = new EnumMap<>(Format.class);
        Map<Format, String> expected = new EnumMap<>(Format.class);
        for (Format format : Format.values()) {
            if (!c.skips().containsKey(format)) {
                verdicts.put(format, send(format, keys.get(format), c.item()));
                expected.put(format, verdict(c.reason()));
            }
        }

        assertThat(verdicts).as("verdicts by format").isEqualTo(expected);
        for (Format format : Format.values()) {
            double counted = before.get(format) + (c.reason() != null && verdicts.containsKey(format) ? 1 : 0);
            assertThat(rejected(c.reason(), format.transport)).as("counted for " + format).isEqualTo(counted);
        }
    }

    @Test
    void aNewSeriesBeyondTheActiveSeriesLimitIsRefusedTheSameWayOnEveryFormat() throws Exception {
        try (SluiceClient cardBinary = client(cardKeys.get(Format.BINARY))) {
            // Fill each tenant to its cap (the cap is per tenant and node): the binary one over binary, the others
            // over JSON
            StringBuilder body = new StringBuilder("{\"samples\":[");
            RecordBatch fill = cardBinary.newBatch();
            long now = System.currentTimeMillis();
            for (int i = 0; i < MAX_ACTIVE_SERIES; i++) {
                body.append(i == 0 ? "" : ",").append("{\"name\":\"eq_card\",\"labels\":{\"s\":\"").append(i)
                        .append("\"},\"value\":1}");
                fill.addSample(Series.of("eq_card", "s", Integer.toString(i)), now, 1);
            }
            cardBinary.send(fill).get(30, TimeUnit.SECONDS);
            for (Format format : Format.values()) {
                if (format != Format.BINARY) {
                    HttpResponse<String> filled = post(cardKeys.get(format), "/api/v1/ingest/metrics", body + "]}");
                    assertThat(filled.body()).startsWith("{\"accepted\":" + MAX_ACTIVE_SERIES + ",");
                }
            }

            Item oneMore = Item.sample("eq_card", 1, "s", "new");
            Item active = Item.sample("eq_card", 2, "s", "0");
            for (Format format : Format.values()) {
                assertThat(cannotCarry(format, oneMore)).isNull();
                double before = rejected(Refusal.CARDINALITY_LIMIT, format.transport);
                SluiceClient client = format == Format.BINARY ? cardBinary : null;
                assertThat(send(format, cardKeys.get(format), oneMore, client)).as(format.toString())
                        .isEqualTo("refused: cardinality_limit");
                assertThat(rejected(Refusal.CARDINALITY_LIMIT, format.transport)).as("counted for " + format)
                        .isEqualTo(before + 1);
                assertThat(send(format, cardKeys.get(format), active, client)).as(format + ": an active series")
                        .isEqualTo("accepted");
            }
        }
    }

    @Test
    void aLoneSurrogateIsRefusedNotStoredAsAQuestionMark() throws Exception {
        // Only JSON can carry one (as the escape \ud800); the binary protocol's strings are UTF-8.
        HttpResponse<String> response = post(keys.get(Format.HTTP), "/api/v1/ingest/metrics",
                "{\"samples\":[{\"name\":\"eq.surrogate\",\"labels\":{\"a\":\"x\\ud800\"},\"value\":1}]}");
        assertThat(response.statusCode()).isEqualTo(422);
        assertThat(response.body()).contains("\"code\":\"no_valid_items\"", "\"reason\":\"invalid_label\"",
                "not valid Unicode");
    }

    @Test
    void nanAndInfinitiesAreStoredAndQueriedBackAsTheirStrings() throws Exception {
        String key = nanKey;
        long ts = System.currentTimeMillis() - 60_000;
        HttpResponse<String> posted = post(key, "/api/v1/ingest/metrics", "{\"samples\":["
                + "{\"name\":\"eq.special\",\"labels\":{\"v\":\"inf\"},\"timestamp\":" + ts + ",\"value\":\"+Inf\"},"
                + "{\"name\":\"eq.special\",\"labels\":{\"v\":\"minus_inf\"},\"timestamp\":" + ts + ",\"value\":\"-Inf\"},"
                + "{\"name\":\"eq.special\",\"labels\":{\"v\":\"one\"},\"timestamp\":" + ts + ",\"value\":1}]}");
        assertThat(posted.body()).isEqualTo("{\"accepted\":3,\"rejected\":[]}");
        try (SluiceClient client = client(key)) {
            RecordBatch nan = client.newBatch();
            nan.addSample(Series.of("eq.special", "v", "nan"), ts, Double.NaN);
            client.send(nan).get(30, TimeUnit.SECONDS);
        }
        WriterRole writer = WriterRole.start(sluice.config(), new SimpleMeterRegistry());
        try {
            Instant from = Instant.ofEpochMilli(ts).minusSeconds(120).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
            Instant to = Instant.ofEpochMilli(ts).plusSeconds(120).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
            Map<String, String> expected = Map.of("nan", "\"NaN\"", "inf", "\"+Inf\"", "minus_inf", "\"-Inf\"",
                    "one", "1.0");
            for (String agg : List.of("max", "avg")) {
                for (String step : List.of("30s", "1m")) { // raw samples and the 1-minute rollups
                    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
                        for (Map.Entry<String, String> e : expected.entrySet()) {
                            HttpResponse<String> q = get(key, "/api/v1/query?metric=eq.special&match="
                                    + URLEncoder.encode("v=" + e.getKey(), StandardCharsets.UTF_8) + "&agg=" + agg
                                    + "&step=" + step + "&from=" + from + "&to=" + to);
                            assertThat(q.statusCode()).as(q.body()).isEqualTo(200);
                            Matcher point = ONE_POINT.matcher(q.body());
                            assertThat(point.find()).as(q.body()).isTrue();
                            assertThat(point.group(1)).as(agg + " " + step + " " + q.body()).isEqualTo(e.getValue());
                        }
                    });
                }
            }
        } finally {
            writer.close();
        }
    }

    private static String verdict(String reason) {
        return reason == null ? "accepted" : "refused: " + reason;
    }

    private static String send(Format format, String key, Item item) throws Exception {
        return send(format, key, item, format == Format.BINARY ? binary : null);
    }

    /** Sends the item alone in {@code format}; "accepted", or "refused: " and the reason of its rejection. */
    private static String send(Format format, String key, Item item, SluiceClient client) throws Exception {
        return switch (format) {
            case HTTP -> viaHttp(key, item);
            case BINARY -> viaBinary(client, item);
            case INFLUX -> viaLineProtocol(key, item);
            case OTLP -> viaOtlp(key, item);
            case REMOTE_WRITE -> viaRemoteWrite(key, item);
        };
    }

    /**
     * Why {@code format} cannot carry {@code item} unchanged, by the format's own mapping (the decoders' name
     * sanitising); null when it can: its decoder then hands {@link Admission} exactly the item's name, labels,
     * value and timestamp.
     */
    static Why cannotCarry(Format format, Item item) {
        switch (format) {
            case HTTP, BINARY -> {
                return null;
            }
            default -> {
                if (item.isEvent()) {
                    return Why.SAMPLES_ONLY;
                }
            }
        }
        Map<String, String> labels = item.labelMap();
        switch (format) {
            case INFLUX -> {
                if (Double.isNaN(item.value()) || Double.isInfinite(item.value())) {
                    return Why.NO_NAN_OR_INF_LITERAL;
                }
                String[] mf = item.measurementAndField();
                if (mf == null) {
                    return Why.NOT_MEASUREMENT_UNDERSCORE_FIELD;
                }
                if (!LineProtocolParser.metricName(mf[0]).equals(mf[0]) || !LineProtocolParser.metricName(mf[1]).equals(mf[1])
                        || labels.keySet().stream().anyMatch(k -> !LineProtocolParser.labelName(k).equals(k))) {
                    return Why.SANITISED;
                }
                // an empty tag value is expressible (",a= "): line protocol refuses it as invalid_label
                return null;
            }
            case OTLP -> {
                if (!OtlpMetricsDecoder.metricName(item.name()).equals(item.name())
                        || labels.keySet().stream().anyMatch(k -> !OtlpMetricsDecoder.labelName(k).equals(k))) {
                    return Why.SANITISED;
                }
                return labels.containsValue("") ? Why.EMPTY_LABEL_LEFT_OUT : null;
            }
            case REMOTE_WRITE -> {
                if (labels.containsKey(RemoteWriteDecoder.METRIC_NAME_LABEL)) {
                    return Why.NAME_LABEL;
                }
                return labels.containsValue("") ? Why.EMPTY_LABEL_LEFT_OUT : null;
            }
            default -> throw new IllegalArgumentException(format.toString());
        }
    }

    /**
     * Sends the sample alone as one line of line protocol to {@code /api/v2/write} (milliseconds);
     * "accepted" on 204, or "refused: " and the reason of the one refused line.
     */
    private static String viaLineProtocol(String key, Item item) throws Exception {
        long ts = System.currentTimeMillis() + item.offsetMs();
        String[] mf = item.measurementAndField();
        StringBuilder line = new StringBuilder(escape(mf[0], ", "));
        for (Map.Entry<String, String> l : item.labelMap().entrySet()) {
            line.append(',').append(escape(l.getKey(), ",= ")).append('=').append(escape(l.getValue(), ",= "));
        }
        line.append(' ').append(escape(mf[1], ",= ")).append('=').append(item.value()).append(' ').append(ts).append('\n');
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri("/api/v2/write?org=o&bucket=b&precision=ms"))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Token " + key)
                .header("Content-Type", "text/plain; charset=utf-8")
                .POST(HttpRequest.BodyPublishers.ofString(line.toString(), StandardCharsets.UTF_8)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() == 204) {
            return "accepted";
        }
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        assertThat(response.body()).contains("\"code\":\"invalid_line\"");
        Matcher refused = ONE_REFUSED_LINE.matcher(response.body());
        assertThat(refused.find()).as(response.body()).isTrue();
        return "refused: " + refused.group(1);
    }

    /** {@code s} with a backslash before each of {@code special} and before each backslash, as line protocol escapes. */
    private static String escape(String s, String special) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' || special.indexOf(c) >= 0) {
                out.append('\\');
            }
            out.append(c);
        }
        return out.toString();
    }

    /**
     * Sends the sample alone as the one data point of an OTLP gauge (protobuf, no resource attributes) to
     * {@code /v1/metrics}; "accepted" on 200 without a partial success, or "refused: " and the reason of the one
     * refused data point.
     */
    private static String viaOtlp(String key, Item item) throws Exception {
        long ts = System.currentTimeMillis() + item.offsetMs();
        NumberDataPoint.Builder point = OtlpIngestTest.point(ts, item.value());
        for (Map.Entry<String, String> l : item.labelMap().entrySet()) {
            point.addAttributes(OtlpIngestTest.attr(l.getKey(), l.getValue()));
        }
        ExportMetricsServiceRequest request = ExportMetricsServiceRequest.newBuilder()
                .addResourceMetrics(ResourceMetrics.newBuilder().addScopeMetrics(ScopeMetrics.newBuilder()
                        .addMetrics(Metric.newBuilder().setName(item.name()).setGauge(Gauge.newBuilder()
                                .addDataPoints(point))))).build();
        HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(uri("/v1/metrics"))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/x-protobuf")
                .POST(HttpRequest.BodyPublishers.ofByteArray(request.toByteArray())).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        String body = new String(response.body(), StandardCharsets.UTF_8);
        if (response.statusCode() == 200) {
            assertThat(ExportMetricsServiceResponse.parseFrom(response.body()).hasPartialSuccess()).as(body).isFalse();
            return "accepted";
        }
        assertThat(response.statusCode()).as(body).isEqualTo(400);
        assertThat(body).contains("\"code\":\"no_valid_items\"");
        Matcher refused = ONE_REFUSED_POINT.matcher(body);
        assertThat(refused.find()).as(body).isTrue();
        return "refused: " + refused.group(1);
    }

    /**
     * Sends the sample alone as the one sample of a remote_write series (snappy-compressed WriteRequest) to
     * {@code /api/v1/write}; "accepted" on 204, or "refused: " and the reason of the one refused sample.
     */
    private static String viaRemoteWrite(String key, Item item) throws Exception {
        long ts = System.currentTimeMillis() + item.offsetMs();
        List<String> labels = new ArrayList<>(List.of(RemoteWriteDecoder.METRIC_NAME_LABEL, item.name()));
        labels.addAll(item.labels());
        byte[] body = PrometheusWrites.request().series(labels.toArray(String[]::new)).sample(ts, item.value()).end()
                .body();
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri("/api/v1/write"))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + key)
                .header("Content-Encoding", "snappy").header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() == 204) {
            return "accepted";
        }
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        assertThat(response.body()).contains("\"code\":\"no_valid_items\"");
        Matcher refused = ONE_REFUSED_SAMPLE.matcher(response.body());
        assertThat(refused.find()).as(response.body()).isTrue();
        return "refused: " + refused.group(1);
    }

    private static URI uri(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + sluice.port() + pathAndQuery);
    }

    /** Sends the item alone as JSON; "accepted", or "refused: " and the reason of its rejection. */
    private static String viaHttp(String key, Item item) throws Exception {
        long ts = System.currentTimeMillis() + item.offsetMs();
        StringWriter body = new StringWriter();
        try (JsonGenerator json = new JsonFactory().createGenerator(body)) {
            json.writeStartObject();
            json.writeArrayFieldStart(item.isEvent() ? "events" : "samples");
            json.writeStartObject();
            if (item.isEvent()) {
                json.writeStringField("id", item.eventId());
                json.writeStringField("type", item.name());
                json.writeStringField("key", item.eventKey());
                writeLabels(json, "attributes", item.labelMap());
            } else {
                json.writeStringField("name", item.name());
                writeLabels(json, "labels", item.labelMap());
                json.writeFieldName("value");
                JsonDoubles.write(json, item.value());
            }
            json.writeNumberField("timestamp", ts);
            json.writeEndObject();
            json.writeEndArray();
            json.writeEndObject();
        }
        HttpResponse<String> response = post(key, item.isEvent() ? "/api/v1/ingest/events" : "/api/v1/ingest/metrics",
                body.toString());
        if (response.statusCode() == 202) {
            assertThat(response.body()).isEqualTo("{\"accepted\":1,\"rejected\":[]}");
            return "accepted";
        }
        assertThat(response.statusCode()).as(response.body()).isEqualTo(422);
        Matcher rejection = ONE_REJECTION.matcher(response.body());
        assertThat(rejection.find()).as(response.body()).isTrue();
        assertThat(response.body()).doesNotContain("\"index\":1");
        return "refused: " + rejection.group(1);
    }

    private static void writeLabels(JsonGenerator json, String field, Map<String, String> labels) throws IOException {
        json.writeObjectFieldStart(field);
        for (Map.Entry<String, String> l : labels.entrySet()) {
            json.writeStringField(l.getKey(), l.getValue());
        }
        json.writeEndObject();
    }

    /**
     * Sends the item alone in a BATCH; "accepted" on ACK, or "refused: " and the reason the NACK's message
     * starts with (after checking its code is the one the reason calls for).
     */
    private static String viaBinary(SluiceClient client, Item item) throws Exception {
        long ts = System.currentTimeMillis() + item.offsetMs();
        RecordBatch batch = client.newBatch();
        if (item.isEvent()) {
            batch.addEvent(item.eventId(), item.name(), ts, item.eventKey(), item.labelMap());
        } else {
            batch.addSample(Series.of(item.name(), item.labels().toArray(String[]::new)), ts, item.value());
        }
        try {
            client.send(batch).get(30, TimeUnit.SECONDS);
            return "accepted";
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(BatchRejectedException.class);
            BatchRejectedException rejected = (BatchRejectedException) e.getCause();
            // "<CODE> (<n>): <reason>: record 0: <message>"
            String detail = rejected.getMessage().substring(rejected.getMessage().indexOf("): ") + 3);
            String reason = detail.substring(0, detail.indexOf(':'));
            assertThat(detail).startsWith(reason + ": record 0: ");
            ErrorCode expected = new Refusal(reason, "").isLimit() ? ErrorCode.LIMIT_EXCEEDED : ErrorCode.INVALID_RECORD;
            assertThat(rejected.errorCode()).as(detail).isEqualTo(expected);
            return "refused: " + reason;
        }
    }

    private static SluiceClient client(String key) {
        // the server's verdict is the subject: the client must not refuse what breaks an announced limit itself
        return SluiceClient.builder().address("127.0.0.1", sluice.port()).apiKey(key).checkAnnouncedLimits(false)
                .closeTimeout(Duration.ofSeconds(10)).build();
    }

    private static double rejected(String reason, String transport) {
        if (reason == null) {
            return 0;
        }
        var c = sluice.meterRegistry().find("sluice_ingest_rejected").tag("reason", reason)
                .tag("transport", transport).counter();
        return c == null ? 0 : c.count();
    }

    private static HttpResponse<String> post(String key, String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + path))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(String key, String pathAndQuery) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + pathAndQuery))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + key).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
