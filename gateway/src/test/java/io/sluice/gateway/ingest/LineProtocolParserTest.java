package io.sluice.gateway.ingest;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.ingest.LineProtocolParser.Precision;
import io.sluice.protocol.record.Series;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.Arguments;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The line-protocol decoder on its own: InfluxDB's syntax and escapes, field types, precisions, refused lines. */
class LineProtocolParserTest {

    /** 2027-01-15T08:00:00Z, the gateway's now in these tests. */
    private static final long NOW = 1_800_000_000_000L;
    private static final long NOW_NS = NOW * 1_000_000L;

    private final SluiceConfig config = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-labels", "3",
            "ingest.max-items-per-request", "10"));
    private final LineProtocolParser parser = new LineProtocolParser(config.ingest(), AdmissionTest.admission(config, NOW));

    private LineProtocolParser.Result parse(String body, Precision precision) throws MalformedBatchException {
        ByteBuf buf = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        try {
            return parser.parse(buf, precision);
        } finally {
            buf.release();
        }
    }

    private ParsedBatch.Sample only(String body) throws MalformedBatchException {
        LineProtocolParser.Result r = parse(body, Precision.NS);
        assertThat(r.batch().rejections()).isEmpty();
        assertThat(r.batch().samples()).hasSize(1);
        return r.batch().samples().get(0);
    }

    @Test
    void aSeriesKeySentAgainIsTakenFromTheCacheAndItsFieldsStillChecked() throws Exception {
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        parser.register(registry);
        String key = "cpu,host=a,dc=x ";
        LineProtocolParser.Result r = parse(key + "user=1,system=2 " + NOW_NS + "\n" + key + "user=3,system=4 " + NOW_NS
                + "\n" + key + "x".repeat(300) + "=5 " + NOW_NS + "\n" + key + "user=6 1\n", Precision.NS);
        assertThat(r.batch().samples()).extracting(ParsedBatch.Sample::series).containsExactly(
                Series.of("cpu_user", "dc", "x", "host", "a"), Series.of("cpu_system", "dc", "x", "host", "a"),
                Series.of("cpu_user", "dc", "x", "host", "a"), Series.of("cpu_system", "dc", "x", "host", "a"));
        assertThat(r.batch().rejections()).extracting(Rejection::index, Rejection::reason).containsExactly(
                org.assertj.core.groups.Tuple.tuple(3, Refusal.INVALID_NAME),
                org.assertj.core.groups.Tuple.tuple(4, Refusal.TOO_OLD));
        assertThat(SeriesCacheTest.lookups(registry, "hit")).isEqualTo(3);
        assertThat(SeriesCacheTest.lookups(registry, "miss")).isEqualTo(1);
    }

    @Test
    void aPointBecomesOneSamplePerNumericField() throws Exception {
        LineProtocolParser.Result r = parse("weather,location=us-midwest,season=summer temperature=82,humidity=71i,"
                + "raining=true,count=18446744073709551615u,note=\"warm\" " + NOW_NS + "\n", Precision.NS);
        assertThat(r.batch().rejections()).isEmpty();
        assertThat(r.stringFields()).isEqualTo(1);
        assertThat(r.points()).isEqualTo(1);
        assertThat(r.batch().samples()).extracting(ParsedBatch.Sample::series).containsExactly(
                Series.of("weather_temperature", "location", "us-midwest", "season", "summer"),
                Series.of("weather_humidity", "location", "us-midwest", "season", "summer"),
                Series.of("weather_raining", "location", "us-midwest", "season", "summer"),
                Series.of("weather_count", "location", "us-midwest", "season", "summer"));
        assertThat(r.batch().samples()).extracting(ParsedBatch.Sample::value)
                .containsExactly(82.0, 71.0, 1.0, 18446744073709551615.0);
        assertThat(r.batch().samples()).extracting(ParsedBatch.Sample::timestampMs).containsOnly(NOW);
        assertThat(r.batch().samples()).extracting(ParsedBatch.Sample::index).containsOnly(1);
    }

    static Stream<Arguments> escapes() {
        return Stream.of(
                // measurement: comma and space escaped; '=' needs no escape
                Arguments.of("my\\ meas\\,ure=ment f=1", "my_meas_ure_ment_f", List.of()),
                // tag key and value: comma, equals sign and space escaped
                Arguments.of("m,ta\\ g\\=k\\,ey=va\\ l\\=u\\,e f=1", "m_f", List.of("ta_g_k_ey", "va l=u,e")),
                // field key escapes
                Arguments.of("m fi\\ e\\=l\\,d=1", "m_fi_e_l_d", List.of()),
                // two backslashes are one; a backslash before another character is itself
                Arguments.of("m,t=a\\\\b f=1", "m_f", List.of("t", "a\\b")),
                Arguments.of("m,t=a\\b f=1", "m_f", List.of("t", "a\\b")),
                Arguments.of("m,t=a\\\\\\b f=1", "m_f", List.of("t", "a\\\\b")),
                Arguments.of("m,t=a\\\\\\\\b f=1", "m_f", List.of("t", "a\\\\b")),
                // quotes are ordinary in tags; UTF-8 kept in values, sanitised in names
                Arguments.of("m,t=\"q\" f=1", "m_f", List.of("t", "\"q\"")),
                Arguments.of("cpü,höst=zürich f=1", "cp__f", List.of("h_st", "zürich")),
                // leading digits get an underscore; dots and colons stay in metric names
                Arguments.of("9m.x:y,1t=v 2f=1", "_9m.x:y__2f", List.of("_1t", "v")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("escapes")
    void escapesAndNames(String line, String name, List<String> labels) throws Exception {
        ParsedBatch.Sample s = only(line + " " + NOW_NS);
        assertThat(s.series()).isEqualTo(Series.of(name, labels.toArray(String[]::new)));
    }

    @Test
    void stringValuesMayHoldEscapedQuotesBackslashesAndNewlines() throws Exception {
        LineProtocolParser.Result r = parse("m s=\"a \\\"b\\\" c\\\\\",f=2 " + NOW_NS + "\n"
                + "m s=\"two\nlines, and = signs\",f=3 " + NOW_NS + "\n"
                + "m f=\n", Precision.NS);
        assertThat(r.batch().samples()).extracting(ParsedBatch.Sample::value).containsExactly(2.0, 3.0);
        assertThat(r.stringFields()).isEqualTo(2);
        assertThat(r.batch().rejections()).extracting(Rejection::index).containsExactly(4); // after a 2-line string
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "1|1.0", "-1|-1.0", "1.5|1.5", "-.5|-0.5", "5.|5.0", "1e3|1000.0", "1E-2|0.01", "-2.5e+2|-250.0",
            "-9223372036854775808i|-9.223372036854775808E18", "9223372036854775807i|9.223372036854775807E18",
            "0u|0.0", "t|1.0", "T|1.0", "true|1.0", "True|1.0", "TRUE|1.0", "f|0.0", "F|0.0", "false|0.0",
            "False|0.0", "FALSE|0.0"})
    void fieldValues(String literal, double value) throws Exception {
        assertThat(only("m f=" + literal + " " + NOW_NS).value()).isEqualTo(value);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "NaN", "nan", "Inf", "+Inf", "-Inf", "inf", "Infinity", "1e400", "-1e400", "+1", "1.5i", "1i5",
            "9223372036854775808i", "-9223372036854775809i", "-1u", "18446744073709551616u", "1.5u", "i", "u", "tru",
            "yes", "0x10", "1d", "1e", "1e+", ".", "-", "1..2", "--1"})
    void badFieldValuesAreRefused(String literal) throws Exception {
        LineProtocolParser.Result r = parse("m f=" + literal + " " + NOW_NS, Precision.NS);
        assertThat(r.batch().samples()).isEmpty();
        assertThat(r.batch().rejections()).singleElement().satisfies(j -> {
            assertThat(j.reason()).isEqualTo(Refusal.INVALID_VALUE);
            assertThat(j.index()).isEqualTo(1);
            assertThat(j.message()).startsWith("line 1: unable to parse 'm f=");
        });
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "ns|1800000000000123456|1800000000000",
            "us|1800000000000123|1800000000000",
            "ms|1800000000000|1800000000000",
            "s|1800000000|1800000000000",
            "m|30000000|1800000000000",
            "h|500000|1800000000000",
            "ns|1799999999999999999|1799999999999"})
    void timestampsInEachPrecisionAreFlooredToMilliseconds(String precision, String timestamp, long ms) throws Exception {
        LineProtocolParser.Result r = parse("m f=1 " + timestamp, Precision.parse(precision, true));
        assertThat(r.batch().rejections()).isEmpty();
        assertThat(r.batch().samples()).singleElement().extracting(ParsedBatch.Sample::timestampMs).isEqualTo(ms);
    }

    @Test
    void precisionNames() {
        assertThat(Precision.parse(null, false)).isEqualTo(Precision.NS);
        assertThat(Precision.parse("", true)).isEqualTo(Precision.NS);
        assertThat(Precision.parse("us", false)).isEqualTo(Precision.US);
        assertThat(Precision.parse("u", true)).isEqualTo(Precision.US);
        assertThat(Precision.parse("u", false)).isNull();
        assertThat(Precision.parse("h", false)).isNull();
        assertThat(Precision.parse("MS", true)).isNull();
        assertThat(Precision.parse("d", true)).isNull();
    }

    @Test
    void withoutATimestampThePointIsAtNow() throws Exception {
        assertThat(only("m f=1").timestampMs()).isEqualTo(NOW);
        assertThat(only("m f=1   ").timestampMs()).isEqualTo(NOW);
        assertThat(only("m f=1\r\n").timestampMs()).isEqualTo(NOW);
    }

    @Test
    void blankLinesCommentsCrLfAndLeadingWhitespaceAreSkipped() throws Exception {
        LineProtocolParser.Result r = parse("# a comment, with = signs\r\n\r\n   \t m,t=v f=1 " + NOW_NS + "\r\n"
                + "\n  m,t=w f=2 " + NOW_NS, Precision.NS);
        assertThat(r.batch().rejections()).isEmpty();
        assertThat(r.points()).isEqualTo(2);
        assertThat(r.batch().samples()).extracting(ParsedBatch.Sample::index).containsExactly(3, 5);
        assertThat(r.batch().samples()).extracting(s -> s.series().labelValue(0)).containsExactly("v", "w");
    }

    @Test
    void aFieldGivenTwiceKeepsItsLastValue() throws Exception {
        assertThat(only("m f=1,f=2 " + NOW_NS).value()).isEqualTo(2.0);
    }

    static Stream<Arguments> badLines() {
        long old = (NOW - 3L * 24 * 3600_000) * 1_000_000L;
        long ahead = (NOW + 3600_000) * 1_000_000L;
        return Stream.of(
                Arguments.of("measurement only", "m", Refusal.MISSING_FIELD, "missing fields"),
                Arguments.of("measurement and a space", "m ", Refusal.MISSING_FIELD, "missing field key"),
                Arguments.of("no measurement", ",t=v f=1", Refusal.INVALID_NAME, "missing measurement"),
                Arguments.of("no field value", "m f=", Refusal.MISSING_FIELD, "missing field value"),
                Arguments.of("no field '='", "m f", Refusal.MISSING_FIELD, "missing field value"),
                Arguments.of("empty field key", "m =1", Refusal.MISSING_FIELD, "missing field key"),
                Arguments.of("trailing comma in fields", "m f=1,", Refusal.MISSING_FIELD, "missing field key"),
                Arguments.of("tag without value", "m,t f=1", Refusal.INVALID_LABEL, "missing tag value"),
                Arguments.of("empty tag value", "m,t= f=1", Refusal.INVALID_LABEL, "missing tag value"),
                Arguments.of("empty tag key", "m,=v f=1", Refusal.INVALID_LABEL, "missing tag key"),
                Arguments.of("unescaped = in tag value", "m,t=a=b f=1", Refusal.INVALID_LABEL, "unescaped '='"),
                Arguments.of("text after a string", "m s=\"abc\"x", Refusal.INVALID_ITEM, "unexpected character"),
                Arguments.of("float timestamp", "m f=1 1.5", Refusal.INVALID_TIMESTAMP, "not an integer"),
                Arguments.of("timestamp beyond 64 bits", "m f=1 9223372036854775808", Refusal.INVALID_TIMESTAMP,
                        "not an integer"),
                Arguments.of("text after the timestamp", "m f=1 " + NOW_NS + " x", Refusal.INVALID_TIMESTAMP,
                        "unexpected text"),
                Arguments.of("too old", "m f=1 " + old, Refusal.TOO_OLD, "ingest.late-window"),
                Arguments.of("too new", "m f=1 " + ahead, Refusal.TOO_NEW, "ingest.clock-skew"),
                Arguments.of("too many labels", "m,a=1,b=2,c=3,d=4 f=1", Refusal.TOO_MANY_LABELS, "ingest.max-labels"),
                Arguments.of("a tag given twice", "m,a=1,a=2 f=1", Refusal.INVALID_LABEL, "appears twice"),
                Arguments.of("two tags one name", "m,a-b=1,a.b=2 f=1", Refusal.INVALID_LABEL, "appears twice"),
                Arguments.of("reserved label name", "m,__x=1 f=1", Refusal.INVALID_LABEL, "not start with __"),
                Arguments.of("invalid UTF-8", "m,t=\u00ff f=1", Refusal.INVALID_ITEM, "not valid UTF-8"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badLines")
    void badLinesAreRefusedWithTheirNumberAndTheOthersCount(String what, String line, String reason, String message)
            throws Exception {
        byte[] bad = line.getBytes(StandardCharsets.UTF_8);
        if (what.equals("invalid UTF-8")) {
            bad = new byte[] {'m', ',', 't', '=', (byte) 0xff, ' ', 'f', '=', '1'};
        }
        byte[] good1 = ("good,t=a f=1 " + NOW_NS + "\n").getBytes(StandardCharsets.UTF_8);
        byte[] good2 = ("\ngood,t=b f=2 " + NOW_NS + "\n").getBytes(StandardCharsets.UTF_8);
        ByteBuf body = Unpooled.wrappedBuffer(good1, bad, good2);
        LineProtocolParser.Result r;
        try {
            r = parser.parse(body, Precision.NS);
        } finally {
            body.release();
        }
        assertThat(r.batch().samples()).extracting(ParsedBatch.Sample::value).containsExactly(1.0, 2.0);
        assertThat(r.batch().samples()).extracting(ParsedBatch.Sample::index).containsExactly(1, 3);
        assertThat(r.batch().rejections()).singleElement().satisfies(j -> {
            assertThat(j.index()).isEqualTo(2);
            assertThat(j.reason()).isEqualTo(reason);
            assertThat(j.message()).startsWith("line 2: unable to parse '").contains(message);
        });
    }

    @Test
    void moreSamplesThanAllowedRefusesTheBody() throws Exception {
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            body.append("m,i=").append(i).append(" a=1,b=2,c=3 ").append(NOW_NS).append('\n');
        }
        assertThatThrownBy(() -> parse(body.toString(), Precision.NS))
                .isInstanceOfSatisfying(MalformedBatchException.class, e -> assertThat(e.code()).isEqualTo("too_many_items"));
        assertThat(parse(body.substring(0, body.lastIndexOf("m,i=3")), Precision.NS).batch().samples()).hasSize(9);
    }

    @Test
    void anUnterminatedStringRunsToTheEndOfTheBody() throws Exception {
        // a string may span lines, so an unclosed quote takes every line after it, as in InfluxDB
        LineProtocolParser.Result r = parse("m f=1 " + NOW_NS + "\nm s=\"abc\nm f=2 " + NOW_NS + "\n", Precision.NS);
        assertThat(r.batch().samples()).extracting(ParsedBatch.Sample::value).containsExactly(1.0);
        assertThat(r.batch().rejections()).singleElement().satisfies(j -> {
            assertThat(j.index()).isEqualTo(2);
            assertThat(j.reason()).isEqualTo(Refusal.INVALID_ITEM);
            assertThat(j.message()).contains("unterminated string");
        });
    }

    @Test
    void emptyBodyHoldsNothing() throws Exception {
        LineProtocolParser.Result r = parse("", Precision.NS);
        assertThat(r.batch().samples()).isEmpty();
        assertThat(r.batch().rejections()).isEmpty();
        assertThat(r.points()).isZero();
    }

    @Test
    void floatsAreReadAsDoubleParseDoubleReadsThem() throws Exception {
        SluiceConfig big = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-items-per-request", "100000"));
        LineProtocolParser wide = new LineProtocolParser(big.ingest(), AdmissionTest.admission(big, NOW));
        java.util.SplittableRandom random = new java.util.SplittableRandom(7);
        List<String> literals = new java.util.ArrayList<>();
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {
            StringBuilder literal = new StringBuilder(random.nextBoolean() ? "-" : "");
            int whole = random.nextInt(13);
            int fraction = random.nextInt(13);
            for (int d = 0; d < whole; d++) {
                literal.append((char) ('0' + random.nextInt(10)));
            }
            if (whole == 0 || random.nextBoolean()) {
                literal.append('.');
                for (int d = 0; d < Math.max(fraction, whole == 0 ? 1 : 0); d++) {
                    literal.append((char) ('0' + random.nextInt(10)));
                }
            }
            if (random.nextInt(10) == 0) {
                literal.append('e').append(random.nextInt(-30, 30)); // beside the fast path's literals
            }
            literals.add(literal.toString());
            body.append("m v=").append(literal).append(' ').append(NOW_NS).append('\n');
        }
        ByteBuf direct = Unpooled.directBuffer().writeBytes(body.toString().getBytes(StandardCharsets.US_ASCII));
        LineProtocolParser.Result r;
        try {
            r = wide.parse(direct, Precision.NS);
        } finally {
            direct.release();
        }
        assertThat(r.batch().rejections()).isEmpty();
        for (int i = 0; i < literals.size(); i++) {
            assertThat(Double.doubleToRawLongBits(r.batch().samples().get(i).value())).as(literals.get(i))
                    .isEqualTo(Double.doubleToRawLongBits(Double.parseDouble(literals.get(i))));
        }
    }

    @Test
    void aBodyReadsTheSameInADirectBufferAfterALongerOneAndAtAnOffsetOfAnArray() throws Exception {
        String longer = ("m,t=a v=1 " + NOW_NS + "\n").repeat(9);
        String body = "m,t=b v=2.5 " + NOW_NS + "\nm,t=b w=3i " + NOW_NS + "\n";
        for (String b : List.of(longer, body)) {
            ByteBuf direct = Unpooled.directBuffer().writeBytes(b.getBytes(StandardCharsets.US_ASCII));
            try {
                assertThat(parser.parse(direct, Precision.NS).batch().samples()).hasSize(b == longer ? 9 : 2)
                        .allSatisfy(sample -> assertThat(sample.series().labels().get("t")).isEqualTo(b == longer ? "a" : "b"));
            } finally {
                direct.release();
            }
        }
        ByteBuf array = Unpooled.wrappedBuffer(("junk" + body + "m,t=c v=9 1").getBytes(StandardCharsets.US_ASCII));
        ByteBuf slice = array.slice(4, body.length());
        assertThat(slice.arrayOffset()).isEqualTo(4);
        assertThat(parser.parse(slice, Precision.NS).batch().samples()).extracting(ParsedBatch.Sample::value)
                .containsExactly(2.5, 3.0);
    }

    @Test
    void aFieldKeyKeptUnderItsSeriesKeyMatchesOnlyItsOwnBytes() throws Exception {
        LineProtocolParser.Result r = parse("m,t=a x=1 " + NOW_NS + "\nm,t=a xy=2 " + NOW_NS + "\nm,t=a x\\=y=3 " + NOW_NS
                + "\nm,t=a x=4,x=5 " + NOW_NS + "\nm,t=a x\\ =6 " + NOW_NS
                // a\\\,b is the key a\,b; the bytes a\,b are then the key a,b
                + "\nm,t=a a\\\\\\,b=7 " + NOW_NS + "\nm,t=a a\\,b=8 " + NOW_NS + "\n", Precision.NS);
        assertThat(r.batch().rejections()).isEmpty();
        assertThat(r.batch().samples()).extracting(sample -> sample.series().name() + "=" + sample.value())
                .containsExactly("m_x=1.0", "m_xy=2.0", "m_x_y=3.0", "m_x=5.0", "m_x_=6.0", "m_a__b=7.0", "m_a_b=8.0");
    }
}
