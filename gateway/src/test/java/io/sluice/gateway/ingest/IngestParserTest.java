package io.sluice.gateway.ingest;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IngestParserTest {

    private static final long NOW = 1_800_000_000_000L;
    private final SluiceConfig config = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-labels", "2",
            "ingest.max-items-per-request", "3"));
    private final IngestParser parser = new IngestParser(config.ingest(), AdmissionTest.admission(config, NOW));

    private ParsedBatch samples(String json) throws MalformedBatchException {
        ByteBuf body = Unpooled.copiedBuffer(json, StandardCharsets.UTF_8);
        try {
            return parser.parseSamples(body);
        } finally {
            body.release();
        }
    }

    @Test
    void aValidSampleIsNormalised() throws Exception {
        ParsedBatch batch = samples("{\"samples\":[{\"name\":\"cpu\",\"labels\":{\"z\":\"1\",\"a\":\"2\"},"
                + "\"timestamp\":\"2027-01-15T08:00:00Z\",\"value\":1.5}]}");
        assertThat(batch.rejections()).isEmpty();
        ParsedBatch.Sample s = batch.samples().get(0);
        assertThat(s.series().labels().keySet()).containsExactly("a", "z");
        assertThat(s.value()).isEqualTo(1.5);
        assertThat(s.timestampMs()).isEqualTo(java.time.Instant.parse("2027-01-15T08:00:00Z").toEpochMilli());
    }

    @Test
    void aSeriesSentAgainAsTheSameBytesIsTakenFromTheCache() throws Exception {
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        parser.register(registry);
        String sample = "{\"name\":\"cpu\",\"labels\":{\"z\":\"1\",\"a\":\"2\"},\"value\":1}";
        ParsedBatch batch = samples("{\"samples\":[" + sample + "," + sample + ","
                + "{\"labels\":{\"z\":\"1\",\"a\":\"3\"},\"name\":\"cpu\",\"value\":2}]}");
        assertThat(batch.rejections()).isEmpty();
        assertThat(batch.samples()).extracting(ParsedBatch.Sample::series).containsExactly(
                io.sluice.protocol.record.Series.of("cpu", "a", "2", "z", "1"),
                io.sluice.protocol.record.Series.of("cpu", "a", "2", "z", "1"),
                io.sluice.protocol.record.Series.of("cpu", "a", "3", "z", "1"));
        assertThat(SeriesCacheTest.lookups(registry, "hit")).isEqualTo(1);
        assertThat(SeriesCacheTest.lookups(registry, "miss")).isEqualTo(2);
        // a cached series still has its timestamp checked
        assertThat(samples("{\"samples\":[" + sample.replace("\"value\"", "\"timestamp\":1,\"value\"") + "]}")
                .rejections()).extracting(Rejection::reason).containsExactly(Refusal.TOO_OLD);
    }

    @Test
    void aLargeBodyInPiecesDecodesAlikeWithAndWithoutTheCache() throws Exception {
        // larger than the JSON parser's input buffer many times over, and in pieces as a request body arrives
        StringBuilder json = new StringBuilder("{\"samples\":[");
        for (int i = 0; i < 3000; i++) {
            int k = i % 1000; // 1,000 series, each three times
            json.append(i == 0 ? "" : ",").append("{\"name\":\"cpu_").append(k % 7).append("\",\"labels\":{\"host\":\"h")
                    .append(k).append("\",\"dc\":\"d").append(k % 3).append("\"},\"value\":").append(i).append('}');
        }
        byte[] bytes = json.append("]}").toString().getBytes(StandardCharsets.UTF_8);
        SluiceConfig large = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-items-per-request", "3000",
                "ingest.series-cache-entries", "65536"));
        SluiceConfig uncached = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-items-per-request", "3000",
                "ingest.series-cache-entries", "0"));
        IngestParser cached = new IngestParser(large.ingest(), AdmissionTest.admission(large, NOW));
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        cached.register(registry);
        ParsedBatch expected = parse(new IngestParser(uncached.ingest(), AdmissionTest.admission(uncached, NOW)), bytes);
        assertThat(expected.samples()).hasSize(3000);
        assertThat(parse(cached, bytes)).isEqualTo(expected);
        assertThat(parse(cached, bytes)).isEqualTo(expected);
        // each series decoded the first time only
        assertThat(SeriesCacheTest.lookups(registry, "miss")).isEqualTo(1000);
        assertThat(SeriesCacheTest.lookups(registry, "hit")).isEqualTo(5000);
    }

    @Test
    void aNameIsDecodedFromItsBytesOnlyWhenItsSeriesIsNotCached() throws Exception {
        // escapes in the name, a name given twice (the last counts), a sample without labels: twice each, so the
        // second of each is a cache hit and must come out as the first
        String body = "{\"samples\":[{\"name\":\"cp\\u0075_\\u0061\",\"labels\":{\"h\":\"a\"},\"value\":1},"
                + "{\"name\":\"x\",\"value\":2,\"name\":\"mem\",\"labels\":{\"h\":\"b\"}},"
                + "{\"value\":3,\"name\":\"up\"}]}";
        String twice = body.replace("]}", "," + body.substring(body.indexOf('[') + 1));
        SluiceConfig cachedConfig = ConfigLoader.load(null, Map.of(), Map.of("ingest.series-cache-entries", "64"));
        SluiceConfig uncachedConfig = ConfigLoader.load(null, Map.of(), Map.of("ingest.series-cache-entries", "0"));
        IngestParser cached = new IngestParser(cachedConfig.ingest(), AdmissionTest.admission(cachedConfig, NOW));
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        cached.register(registry);
        byte[] bytes = twice.getBytes(StandardCharsets.UTF_8);
        ParsedBatch expected = parse(new IngestParser(uncachedConfig.ingest(),
                AdmissionTest.admission(uncachedConfig, NOW)), bytes);
        assertThat(expected.samples()).extracting(s -> s.series().name())
                .containsExactly("cpu_a", "mem", "up", "cpu_a", "mem", "up");
        assertThat(parse(cached, bytes)).isEqualTo(expected);
        assertThat(SeriesCacheTest.lookups(registry, "miss")).isEqualTo(3);
        assertThat(SeriesCacheTest.lookups(registry, "hit")).isEqualTo(3);
    }

    @Test
    void aBodyInUtf16DecodesAsInUtf8() throws Exception {
        String json = "{\"samples\":[{\"name\":\"cpu\",\"labels\":{\"host\":\"a\"},\"value\":1},"
                + "{\"name\":\"cpu\",\"labels\":{\"host\":\"a\"},\"value\":2},{\"name\":\"cpu\",\"labels\":{\"host\":1},\"value\":3}]}";
        ParsedBatch utf8 = samples(json);
        assertThat(utf8.samples()).hasSize(2);
        ByteBuf body = Unpooled.copiedBuffer(json, StandardCharsets.UTF_16BE);
        try {
            assertThat(parser.parseSamples(body)).isEqualTo(utf8);
        } finally {
            body.release();
        }
    }

    /** {@code bytes} as a composite buffer of 1,000-byte pieces, decoded by {@code parser}. */
    private static ParsedBatch parse(IngestParser parser, byte[] bytes) throws MalformedBatchException {
        io.netty.buffer.CompositeByteBuf body = Unpooled.compositeBuffer();
        for (int i = 0; i < bytes.length; i += 1000) {
            body.addComponent(true, Unpooled.copiedBuffer(bytes, i, Math.min(1000, bytes.length - i)));
        }
        body.readerIndex(0);
        try {
            return parser.parseSamples(body);
        } finally {
            body.release();
        }
    }

    @Test
    void aMissingTimestampMeansNow() throws Exception {
        assertThat(samples("{\"samples\":[{\"name\":\"cpu\",\"value\":1}]}").samples().get(0).timestampMs()).isEqualTo(NOW);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "{\"name\":\"9bad\",\"value\":1}                                   | invalid_name",
            "{\"name\":\"\",\"value\":1}                                       | invalid_name",
            "{\"name\":5,\"value\":1}                                          | invalid_name",
            "{\"value\":1}                                                     | missing_field",
            "{\"name\":\"m\"}                                                  | missing_field",
            "{\"name\":\"m\",\"value\":\"1\"}                                  | invalid_value",
            "{\"name\":\"m\",\"value\":\"Infinite\"}                           | invalid_value",
            "{\"name\":\"m\",\"value\":null}                                   | invalid_value",
            "{\"name\":\"m\",\"value\":[1]}                                    | invalid_value",
            "{\"name\":\"m\",\"value\":1e999}                                  | invalid_value",
            "{\"name\":\"m\",\"value\":1,\"value\":true}                       | invalid_value",
            "{\"name\":\"m\",\"value\":1,\"name\":7}                           | invalid_name",
            "{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"\\ud800\"}}       | invalid_label",
            "{\"name\":\"m\",\"value\":1,\"labels\":[\"a\"]}                   | invalid_label",
            "{\"name\":\"m\",\"value\":1,\"labels\":{\"__x\":\"1\"}}           | invalid_label",
            "{\"name\":\"m\",\"value\":1,\"labels\":{\"a-b\":\"1\"}}           | invalid_label",
            "{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"\"}}              | invalid_label",
            "{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":1}}                 | invalid_label",
            "{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"x\\u0000y\"}}   | invalid_label",
            "{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"1\",\"a\":\"2\"}} | invalid_label",
            "{\"name\":\"m\",\"value\":1,\"labels\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}} | too_many_labels",
            "{\"name\":\"m\",\"value\":1,\"timestamp\":1799996399999}          | too_old",
            "{\"name\":\"m\",\"value\":1,\"timestamp\":1800000600001}          | too_new",
            "{\"name\":\"m\",\"value\":1,\"timestamp\":\"yesterday\"}          | invalid_timestamp",
            "{\"name\":\"m\",\"value\":1,\"timestamp\":1.5}                    | invalid_timestamp",
            "{\"name\":\"m\",\"value\":1,\"timestamp\":100000000000000000000} | invalid_timestamp",
            "{\"name\":\"m\",\"value\":1,\"timestamp\":{}}                     | invalid_timestamp",
            "7                                                                 | invalid_item"})
    void eachBadItemIsRefusedWithItsReasonAndTheRestKept(String item, String reason) throws Exception {
        ParsedBatch batch = samples("{\"samples\":[" + item + ",{\"name\":\"ok\",\"value\":2}]}");
        assertThat(batch.rejections()).singleElement().satisfies(r -> {
            assertThat(r.index()).isZero();
            assertThat(r.reason()).isEqualTo(reason);
        });
        assertThat(batch.samples()).singleElement().satisfies(s -> assertThat(s.index()).isEqualTo(1));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "{\"samples\":[{\"name\":                    | invalid_json",
            "not json                                    | invalid_json",
            "[]                                          | invalid_batch",
            "{\"samples\":{}}                            | invalid_batch",
            "{\"other\":[]}                              | invalid_batch",
            "{\"samples\":[]} trailing                   | invalid_json",
            "{\"samples\":[{},{},{},{}]}                 | too_many_items"})
    void aBodyThatIsNotABatchIsRefusedWhole(String body, String code) {
        assertThatThrownBy(() -> samples(body)).isInstanceOfSatisfying(MalformedBatchException.class,
                e -> assertThat(e.code()).isEqualTo(code));
    }

    @Test
    void eventsNeedIdAndType() throws Exception {
        ByteBuf body = Unpooled.copiedBuffer("{\"events\":[{\"id\":\"1\",\"type\":\"deploy\",\"attributes\":{\"v\":\"2\"}},"
                + "{\"id\":\"2\"},{\"type\":\"x\"}]}", StandardCharsets.UTF_8);
        try {
            ParsedBatch batch = parser.parseEvents(body);
            assertThat(batch.events()).singleElement().satisfies(e -> {
                assertThat(e.id()).isEqualTo("1");
                assertThat(e.attributes()).containsEntry("v", "2");
                assertThat(e.timestampMs()).isEqualTo(NOW);
            });
            assertThat(batch.rejections()).extracting(Rejection::reason).containsExactly("missing_field", "missing_field");
        } finally {
            body.release();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "\"NaN\"       | NaN",
            "\"nan\"       | NaN",
            "\"+Inf\"      | Infinity",
            "\"Inf\"       | Infinity",
            "\"+Infinity\" | Infinity",
            "\"-Inf\"      | -Infinity",
            "\"-infinity\" | -Infinity",
            "-0.0          | -0.0",
            "1.7976931348623157e308 | 1.7976931348623157e308"})
    void nanAndInfinitiesAreValuesSpelledAsPrometheusDoes(String json, double expected) throws Exception {
        ParsedBatch batch = samples("{\"samples\":[{\"name\":\"m\",\"value\":" + json + "}]}");
        assertThat(batch.rejections()).isEmpty();
        assertThat(Double.valueOf(batch.samples().get(0).value())).isEqualTo(Double.valueOf(expected)); // equals: NaN, -0.0
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "{\"id\":\"\",\"type\":\"t\"}                       | invalid_id",
            "{\"id\":7,\"type\":\"t\"}                          | invalid_id",
            "{\"id\":\"a\\u0000\",\"type\":\"t\"}               | invalid_id",
            "{\"id\":\"\\udc00\",\"type\":\"t\"}                 | invalid_id",
            "{\"id\":\"1\",\"type\":\"no spaces\"}              | invalid_name",
            "{\"id\":\"1\",\"type\":[]}                         | invalid_name",
            "{\"id\":\"1\",\"type\":\"t\",\"key\":5}              | invalid_key",
            "{\"id\":\"1\",\"type\":\"t\",\"key\":\"a\\u0000\"}   | invalid_key",
            "{\"id\":\"1\",\"type\":\"t\",\"attributes\":{\"__a\":\"x\"}} | invalid_label",
            "{\"id\":\"1\",\"type\":\"t\",\"timestamp\":1}        | too_old",
            "{\"type\":\"t\"}                                   | missing_field"})
    void eachBadEventIsRefusedWithItsReason(String item, String reason) throws Exception {
        ByteBuf body = Unpooled.copiedBuffer("{\"events\":[" + item + "]}", StandardCharsets.UTF_8);
        try {
            assertThat(parser.parseEvents(body).rejections()).singleElement()
                    .satisfies(r -> assertThat(r.reason()).isEqualTo(reason));
        } finally {
            body.release();
        }
    }
}
