package io.sluice.gateway.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
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
import java.util.HashMap;
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
 * The same item gets the same verdict and the same reason over HTTP JSON and over the binary protocol (the
 * Java client), against one real gateway: each case is sent alone over both, accepted by both or refused by
 * both for the same reason, and counted under that reason for both transports.
 */
@RealInfrastructure
class AdmissionEquivalenceTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** The one point of a query answer holding one series with one point: its value as written. */
    private static final Pattern ONE_POINT = Pattern.compile("\"series\":\\[\\{[^]]*\"points\":\\[\\[\\d+,([^]]+)]]}]");
    /** The only rejection of an ingest answer. */
    private static final Pattern ONE_REJECTION = Pattern.compile("\"rejected\":\\[\\{\"index\":0,\"reason\":\"([a-z_]+)\"");
    private static final int MAX_LABELS = 4;
    private static final int MAX_ACTIVE_SERIES = 60;
    private static GatewayRole sluice;
    private static final Map<String, String> keys = new HashMap<>();
    private static SluiceClient binary;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "ingest.max-labels", Integer.toString(MAX_LABELS),
                "ingest.max-active-series", Integer.toString(MAX_ACTIVE_SERIES))));
        ApiKeyStore store = new ApiKeyStore(infra.connectionFactory());
        for (String tenant : List.of("eq-http", "eq-binary", "eq-card-http", "eq-card-binary", "eq-nan")) {
            keys.put(tenant, KeysCommand.create(store, tenant, Tier.ENTERPRISE));
        }
        sluice = GatewayRole.start(config);
        binary = client(keys.get("eq-binary"));
    }

    @AfterAll
    static void stop() {
        binary.close();
        sluice.close();
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
    }

    /** A case: a title, the item, and the expected reason (null: accepted). */
    record Case(String title, Item item, String reason) {
        @Override
        public String toString() {
            return title + " -> " + (reason == null ? "accepted" : reason);
        }
    }

    static Stream<Case> cases() {
        String e512 = "é".repeat(512); // 1,024 bytes in 512 characters: the limit of ingest.max-label-value-length
        return Stream.of(
                new Case("plain value", Item.sample("eq.plain", 1.5, "host", "a"), null),
                new Case("NaN", Item.sample("eq.nan", Double.NaN), null),
                new Case("+Inf", Item.sample("eq.inf", Double.POSITIVE_INFINITY), null),
                new Case("-Inf", Item.sample("eq.minus_inf", Double.NEGATIVE_INFINITY), null),
                new Case("-0.0", Item.sample("eq.negzero", -0.0), null),
                new Case("largest double", Item.sample("eq.max", Double.MAX_VALUE), null),
                new Case("name of 200 bytes", Item.sample("n".repeat(200), 1), null),
                new Case("name of 201 bytes", Item.sample("n".repeat(201), 1), "invalid_name"),
                new Case("name of 300 bytes", Item.sample("n".repeat(300), 1), "invalid_name"),
                new Case("name of 200 characters, 201 bytes", Item.sample("n".repeat(199) + "é", 1), "invalid_name"),
                new Case("name starting with a digit", Item.sample("9eq", 1), "invalid_name"),
                new Case("name with a space", Item.sample("eq metric", 1), "invalid_name"),
                new Case("name with a dash", Item.sample("eq-metric", 1), "invalid_name"),
                new Case("label name with a space", Item.sample("eq.l", 1, "a b", "1"), "invalid_label"),
                new Case("label name with a dash", Item.sample("eq.l", 1, "a-b", "1"), "invalid_label"),
                new Case("label name starting with __", Item.sample("eq.l", 1, "__name__", "x"), "invalid_label"),
                new Case("label name of 101 bytes", Item.sample("eq.l", 1, "l".repeat(101), "1"), "invalid_label"),
                new Case("empty label value", Item.sample("eq.l", 1, "a", ""), "invalid_label"),
                new Case("label value of 1,024 bytes (512 characters)", Item.sample("eq.l", 1, "a", e512), null),
                new Case("label value of 1,025 bytes (513 characters)", Item.sample("eq.l", 1, "a", e512 + "x"),
                        "invalid_label"),
                new Case("label value of 2,000 bytes", Item.sample("eq.l", 1, "a", "v".repeat(2000)), "invalid_label"),
                new Case("NUL in a label value", Item.sample("eq.l", 1, "a", "x\0y"), "invalid_label"),
                new Case(MAX_LABELS + " labels", Item.sample("eq.l4", 1, "a", "1", "b", "2", "c", "3", "d", "4"), null),
                new Case(MAX_LABELS + 1 + " labels", Item.sample("eq.l", 1, "a", "1", "b", "2", "c", "3", "d", "4",
                        "e", "5"), "too_many_labels"),
                new Case("2 hours old", Item.sample("eq.t", 1).at(Duration.ofHours(-2)), "too_old"),
                new Case("59 minutes old", Item.sample("eq.t", 1).at(Duration.ofMinutes(-59)), null),
                new Case("9 minutes ahead", Item.sample("eq.t", 1).at(Duration.ofMinutes(9)), null),
                new Case("1 hour ahead", Item.sample("eq.t", 1).at(Duration.ofHours(1)), "too_new"),
                new Case("event", Item.event("eq-e-1", "deploy", "api", "version", "1.2"), null),
                new Case("event with an empty key", Item.event("eq-e-2", "deploy", ""), null),
                new Case("event id of 1,025 bytes", Item.event("i".repeat(1025), "deploy", ""), "invalid_id"),
                new Case("NUL in an event id", Item.event("eq\0e", "deploy", ""), "invalid_id"),
                new Case("event type with a space", Item.event("eq-e-3", "de ploy", ""), "invalid_name"),
                new Case("event type of 201 bytes", Item.event("eq-e-4", "t".repeat(201), ""), "invalid_name"),
                new Case("event key of 1,025 bytes", Item.event("eq-e-5", "deploy", "k".repeat(1025)), "invalid_key"),
                new Case("NUL in an event key", Item.event("eq-e-6", "deploy", "a\0"), "invalid_key"),
                new Case("event attribute named __x", Item.event("eq-e-7", "deploy", "", "__x", "1"), "invalid_label"),
                new Case("empty event attribute", Item.event("eq-e-8", "deploy", "", "a", ""), "invalid_label"),
                new Case("old event", Item.event("eq-e-9", "deploy", "").at(Duration.ofHours(-2)), "too_old"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theSameItemGetsTheSameVerdictOverHttpAndBinary(Case c) throws Exception {
        double httpBefore = rejected(c.reason(), "http");
        double binaryBefore = rejected(c.reason(), "binary");

        String overHttp = viaHttp(keys.get("eq-http"), c.item());
        String overBinary = viaBinary(binary, c.item());

        assertThat(overHttp).as("HTTP verdict").isEqualTo(verdict(c.reason()));
        assertThat(overBinary).as("binary verdict").isEqualTo(verdict(c.reason()));
        if (c.reason() != null) {
            assertThat(rejected(c.reason(), "http")).as("counted for HTTP").isEqualTo(httpBefore + 1);
            assertThat(rejected(c.reason(), "binary")).as("counted for binary").isEqualTo(binaryBefore + 1);
        }
    }

    @Test
    void aNewSeriesBeyondTheActiveSeriesLimitIsRefusedTheSameWayOnBoth() throws Exception {
        try (SluiceClient cardBinary = client(keys.get("eq-card-binary"))) {
            // Fill each tenant to its cap, one transport each (the cap is per tenant and node).
            StringBuilder body = new StringBuilder("{\"samples\":[");
            RecordBatch fill = cardBinary.newBatch();
            long now = System.currentTimeMillis();
            for (int i = 0; i < MAX_ACTIVE_SERIES; i++) {
                body.append(i == 0 ? "" : ",").append("{\"name\":\"eq.card\",\"labels\":{\"s\":\"").append(i)
                        .append("\"},\"value\":1}");
                fill.addSample(Series.of("eq.card", "s", Integer.toString(i)), now, 1);
            }
            HttpResponse<String> filled = post(keys.get("eq-card-http"), "/api/v1/ingest/metrics", body + "]}");
            assertThat(filled.body()).startsWith("{\"accepted\":" + MAX_ACTIVE_SERIES + ",");
            cardBinary.send(fill).get(30, TimeUnit.SECONDS);

            Item oneMore = Item.sample("eq.card", 1, "s", "new");
            Item active = Item.sample("eq.card", 2, "s", "0");
            assertThat(viaHttp(keys.get("eq-card-http"), oneMore)).isEqualTo("refused: cardinality_limit");
            assertThat(viaBinary(cardBinary, oneMore)).isEqualTo("refused: cardinality_limit");
            assertThat(viaHttp(keys.get("eq-card-http"), active)).as("an active series").isEqualTo("accepted");
            assertThat(viaBinary(cardBinary, active)).as("an active series").isEqualTo("accepted");
        }
    }

    @Test
    void aLoneSurrogateIsRefusedNotStoredAsAQuestionMark() throws Exception {
        // Only JSON can carry one (as the escape \ud800); the binary protocol's strings are UTF-8.
        HttpResponse<String> response = post(keys.get("eq-http"), "/api/v1/ingest/metrics",
                "{\"samples\":[{\"name\":\"eq.surrogate\",\"labels\":{\"a\":\"x\\ud800\"},\"value\":1}]}");
        assertThat(response.statusCode()).isEqualTo(422);
        assertThat(response.body()).contains("\"code\":\"no_valid_items\"", "\"reason\":\"invalid_label\"",
                "not valid Unicode");
    }

    @Test
    void nanAndInfinitiesAreStoredAndQueriedBackAsTheirStrings() throws Exception {
        String key = keys.get("eq-nan");
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
