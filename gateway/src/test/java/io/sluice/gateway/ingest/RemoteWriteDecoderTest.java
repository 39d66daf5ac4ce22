package io.sluice.gateway.ingest;

import com.google.protobuf.CodedOutputStream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

import static io.sluice.gateway.ingest.PrometheusWrites.STALE_NAN;
import static io.sluice.gateway.ingest.PrometheusWrites.request;
import static io.sluice.gateway.ingest.PrometheusWrites.snappy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link RemoteWriteDecoder} on its own: real WriteRequests, the golden payload, and every way a body can be bad. */
class RemoteWriteDecoderTest {

    /** The clock of every decode here; the golden payload's samples lie just before it. */
    static final long NOW = 1_800_000_000_000L;

    private final SluiceConfig config = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-labels", "4",
            "ingest.max-items-per-request", "50", "server.max-body-bytes", "64KiB"));
    private final RemoteWriteDecoder decoder = new RemoteWriteDecoder(config.ingest(), config.server().maxBodyBytes(),
            AdmissionTest.admission(config, NOW));

    /** What the golden payload holds (it is this request, as built and compressed by {@link PrometheusWrites}). */
    static PrometheusWrites.Request golden() {
        return request()
                .series("__name__", "node_cpu_seconds_total", "cpu", "0", "instance", "host-a:9100", "job", "node",
                        "mode", "idle")
                .sample(NOW - 30_000, 123456.78).sample(NOW - 15_000, 123471.5).end()
                .series("__name__", "up", "instance", "host-a:9100", "job", "node")
                .sample(NOW - 15_000, 1).sample(NOW, STALE_NAN).end()
                .series("__name__", "edge_values", "job", "node", "which", "inf")
                .sample(NOW - 1_000, Double.POSITIVE_INFINITY).sample(NOW - 500, Double.NEGATIVE_INFINITY)
                .sample(NOW - 250, -0.0).sample(NOW - 125, Double.MIN_VALUE).end()
                .metadata("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.");
    }

    static byte[] goldenBytes() throws IOException {
        try (InputStream in = RemoteWriteDecoderTest.class.getResourceAsStream("/remote_write/golden-write-request.snappy")) {
            return in.readAllBytes();
        }
    }

    @Test
    void theGoldenPayloadIsWhatTheBuilderSendsAndDecodesExactly() throws Exception {
        byte[] golden = goldenBytes();
        assertThat(golden).isEqualTo(golden().body());
        RemoteWriteDecoder.Decoded decoded = decode(golden);
        ParsedBatch batch = decoded.batch();
        assertThat(batch.total()).isEqualTo(8);
        assertThat(batch.rejections()).isEmpty();
        assertThat(decoded.exemplars()).isZero();
        assertThat(batch.samples()).extracting(s -> s.series().toString()).containsExactly(
                "node_cpu_seconds_total{cpu=\"0\", instance=\"host-a:9100\", job=\"node\", mode=\"idle\"}",
                "node_cpu_seconds_total{cpu=\"0\", instance=\"host-a:9100\", job=\"node\", mode=\"idle\"}",
                "up{instance=\"host-a:9100\", job=\"node\"}", "up{instance=\"host-a:9100\", job=\"node\"}",
                "edge_values{job=\"node\", which=\"inf\"}", "edge_values{job=\"node\", which=\"inf\"}",
                "edge_values{job=\"node\", which=\"inf\"}", "edge_values{job=\"node\", which=\"inf\"}");
        assertThat(batch.samples()).extracting(ParsedBatch.Sample::index).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
        assertThat(batch.samples()).extracting(ParsedBatch.Sample::timestampMs).containsExactly(
                NOW - 30_000, NOW - 15_000, NOW - 15_000, NOW, NOW - 1_000, NOW - 500, NOW - 250, NOW - 125);
        // bit for bit: the staleness marker stays that NaN, -0.0 stays negative
        assertThat(batch.samples()).extracting(s -> Double.doubleToRawLongBits(s.value())).containsExactly(
                Double.doubleToRawLongBits(123456.78), Double.doubleToRawLongBits(123471.5),
                Double.doubleToRawLongBits(1.0), 0x7ff0000000000002L,
                Double.doubleToRawLongBits(Double.POSITIVE_INFINITY), Double.doubleToRawLongBits(Double.NEGATIVE_INFINITY),
                Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(Double.MIN_VALUE));
    }

    @Test
    void fieldsInAnyOrderAndUnknownFieldsOfEveryWireTypeAreSkippedAsProtobufRequires() throws Exception {
        // written field by field: a sample before the labels, __name__ last, unknown fields at every level
        ByteArrayOutputStream series = new ByteArrayOutputStream();
        CodedOutputStream s = CodedOutputStream.newInstance(series);
        s.writeByteArray(2, message(o -> {
            o.writeInt64(2, NOW - 5);
            o.writeUInt32(9, 77);               // unknown varint in Sample
            o.writeDouble(1, 2.5);
        }));
        s.writeByteArray(1, message(o -> {
            o.writeString(2, "b");
            o.writeFixed32(3, 5);               // unknown fixed32 in Label
            o.writeString(1, "a");
        }));
        s.writeInt64(1, 12);                    // field 1 with the wrong wire type: an unknown field
        s.writeByteArray(1, message(o -> {
            o.writeString(1, "__name__");
            o.writeString(2, "m");
        }));
        s.writeGroup(20, com.google.protobuf.Empty.getDefaultInstance()); // unknown group
        s.flush();
        byte[] request = message(o -> {
            o.writeString(2, "a reserved field (Cortex' source)");
            o.writeByteArray(1, series.toByteArray());
            o.writeFixed64(99, 1L);
        });
        ParsedBatch batch = decode(snappy(request)).batch();
        assertThat(batch.rejections()).isEmpty();
        assertThat(batch.samples()).singleElement().satisfies(x -> {
            assertThat(x.series().toString()).isEqualTo("m{a=\"b\"}");
            assertThat(x.timestampMs()).isEqualTo(NOW - 5);
            assertThat(x.value()).isEqualTo(2.5);
        });
    }

    @Test
    void labelAndTimestampRulesRefuseTheSamplesTheyConcernAndNothingElse() throws Exception {
        ParsedBatch batch = decode(request()
                .series("__name__", "ok", "host", "a", "empty", "").sample(NOW, 1).end()             // 0: empty value dropped
                .series("host", "a").sample(NOW, 2).sample(NOW, 3).end()                             // 1, 2: no name
                .series("__name__", "dup", "a", "1", "a", "2").sample(NOW, 4).end()                  // 3
                .series("__name__", "n1", "__name__", "n2").sample(NOW, 5).end()                     // 4
                .series("__name__", "m", "__meta_x", "1").sample(NOW, 6).end()                        // 5
                .series("__name__", "m", "bad-name", "1").sample(NOW, 7).end()                        // 6
                .series("__name__", "m", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5").sample(NOW, 8).end() // 7
                .series("__name__", "bad name").sample(NOW, 9).end()                                  // 8
                .series("__name__", "window").sample(NOW - 3_600_000L * 24, 10).sample(NOW - 1, 11)
                .sample(NOW + 3_600_000L, 12).end()                                                   // 9, 10, 11
                .body()).batch();
        assertThat(batch.total()).isEqualTo(12);
        assertThat(batch.samples()).extracting(ParsedBatch.Sample::index).containsExactly(0, 10);
        assertThat(batch.samples().get(0).series().toString()).isEqualTo("ok{host=\"a\"}");
        assertThat(batch.rejections()).extracting(Rejection::index, Rejection::reason).containsExactly(
                org.assertj.core.groups.Tuple.tuple(1, "missing_field"), org.assertj.core.groups.Tuple.tuple(2, "missing_field"),
                org.assertj.core.groups.Tuple.tuple(3, "invalid_label"), org.assertj.core.groups.Tuple.tuple(4, "invalid_label"),
                org.assertj.core.groups.Tuple.tuple(5, "invalid_label"), org.assertj.core.groups.Tuple.tuple(6, "invalid_label"),
                org.assertj.core.groups.Tuple.tuple(7, "too_many_labels"), org.assertj.core.groups.Tuple.tuple(8, "invalid_name"),
                org.assertj.core.groups.Tuple.tuple(9, "too_old"), org.assertj.core.groups.Tuple.tuple(11, "too_new"));
        assertThat(batch.rejections().get(0).message()).isEqualTo("the series has no __name__ label");
        assertThat(batch.rejections().get(2).message()).contains("'a' appears twice");
    }

    @Test
    void histogramsAreRefusedExemplarsCountedMetadataSkipped() throws Exception {
        RemoteWriteDecoder.Decoded decoded = decode(request()
                .series("__name__", "latency", "job", "api").histogram(NOW, 10, 2.5).sample(NOW, 1)
                .exemplar(NOW, 0.2, "abc").exemplar(NOW, 0.3, "def").histogram(NOW, 11, 2.7).end()
                .metadata("latency", "help").body());
        assertThat(decoded.exemplars()).isEqualTo(2);
        assertThat(decoded.batch().total()).isEqualTo(3);
        assertThat(decoded.batch().samples()).extracting(ParsedBatch.Sample::index).containsExactly(0);
        assertThat(decoded.batch().rejections()).extracting(Rejection::index, Rejection::reason).containsExactly(
                org.assertj.core.groups.Tuple.tuple(1, "unsupported_histogram"),
                org.assertj.core.groups.Tuple.tuple(2, "unsupported_histogram"));
        RemoteWriteDecoder.Decoded metadataOnly = decode(request().metadata("up", "1 if up").body());
        assertThat(metadataOnly.batch().total()).isZero();
        assertThat(decode(snappy(new byte[0])).batch().total()).isZero();
    }

    @Test
    void malformedBodiesAreRefusedWholeWithTheirCode() throws Exception {
        byte[] raw = golden().protobuf();
        byte[] body = golden().body();
        assertRefused(java.util.Arrays.copyOf(body, body.length - 3), "invalid_snappy", "truncated");
        assertRefused(new byte[0], "invalid_snappy", "empty");
        // bytes after a complete block: whole elements, the start of one (which a streaming decoder waits for)
        assertRefused(PrometheusWrites.concat(body, new byte[] {1, 2, 3}), "invalid_snappy", "exceeds");
        assertRefused(PrometheusWrites.concat(body, new byte[] {0}), "invalid_snappy", "follow the end of the block");
        assertRefused(PrometheusWrites.concat(body, new byte[] {(byte) 0xfc, 1}), "invalid_snappy", "follow the end");
        assertRefused(new byte[] {0, 0}, "invalid_snappy", "follow an empty block");
        // a literal whose 4-byte length is beyond an int
        assertRefused(new byte[] {0x10, (byte) 0xfc, (byte) 0xfc, (byte) 0xfc, (byte) 0xfc, (byte) 0xfc, 1, 2}, "invalid_snappy",
                "snappy block format");
        assertRefused(raw, "invalid_snappy", "");                                        // protobuf not compressed
        assertRefused(new byte[] {(byte) 0x80, (byte) 0x80}, "invalid_snappy", "length header is truncated");
        assertRefused(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x7f}, "invalid_snappy",
                "not a 32-bit varint");
        assertRefused(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x0f}, "body_too_large",
                "4294967295 bytes");
        // the length header is checked before anything is decompressed: 1 GiB announced by a 7-byte body
        assertRefused(new byte[] {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x04, 0x00, 0x00}, "body_too_large",
                "server.max-body-bytes");
        assertRefused(snappy(java.util.Arrays.copyOf(raw, raw.length - 1)), "invalid_protobuf", "");
        assertRefused(snappy(new byte[] {0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01}), "invalid_protobuf", "");
        assertRefused(snappy(message(o -> o.writeByteArray(1, message(l -> l.writeByteArray(1,
                message(x -> x.writeByteArray(1, new byte[] {(byte) 0xc3, 0x28}))))))), "invalid_protobuf", "UTF-8");
        assertRefused(snappy(new byte[] {0x0c}), "invalid_protobuf", "");               // an end-group tag
        PrometheusWrites.Request many = request();
        PrometheusWrites.Series series = many.series("__name__", "m");
        for (int i = 0; i < 51; i++) {
            series.sample(NOW, i);
        }
        assertRefused(series.end().body(), "too_many_items", "ingest.max-items-per-request");
    }

    // ---- remote_write 2.0 ---------------------------------------------------------------------------

    /** The golden payload's samples as a 2.0 Request: the same series and values, labels through the symbol table. */
    static PrometheusWritesV2.Request goldenV2() {
        return PrometheusWritesV2.request()
                .series("__name__", "node_cpu_seconds_total", "cpu", "0", "instance", "host-a:9100", "job", "node",
                        "mode", "idle")
                .metadata("Seconds the CPUs spent in each mode.", "seconds", NOW - 86_400_000L)
                .sample(NOW - 30_000, 123456.78).sample(NOW - 15_000, 123471.5).end()
                .series("__name__", "up", "instance", "host-a:9100", "job", "node")
                .sample(NOW - 15_000, 1).sample(NOW, STALE_NAN).end()
                .series("__name__", "edge_values", "job", "node", "which", "inf")
                .sample(NOW - 1_000, Double.POSITIVE_INFINITY).sample(NOW - 500, Double.NEGATIVE_INFINITY)
                .sample(NOW - 250, -0.0).sample(NOW - 125, Double.MIN_VALUE).end();
    }

    @Test
    void aV2RequestDecodesToExactlyWhatItsV1TwinDoes() throws Exception {
        ParsedBatch v1 = decode(golden().body()).batch();
        RemoteWriteDecoder.Decoded v2 = decodeV2(goldenV2().body());
        assertThat(v2.exemplars()).isZero();
        assertThat(v2.batch().rejections()).isEmpty();
        assertThat(v2.batch().total()).isEqualTo(8);
        assertThat(v2.batch().samples()).hasSameSizeAs(v1.samples());
        for (int i = 0; i < v1.samples().size(); i++) {
            ParsedBatch.Sample a = v1.samples().get(i);
            ParsedBatch.Sample b = v2.batch().samples().get(i);
            assertThat(b.index()).isEqualTo(a.index());
            assertThat(b.series().toString()).isEqualTo(a.series().toString());
            assertThat(b.timestampMs()).isEqualTo(a.timestampMs());
            assertThat(Double.doubleToRawLongBits(b.value())).isEqualTo(Double.doubleToRawLongBits(a.value()));
        }
        // the same bytes read as the other message are not taken for samples
        assertThat(decode(goldenV2().body()).batch().total()).as("a 2.0 body read as 1.0").isZero();
    }

    @Test
    void v2SymbolsAfterTheSeriesAndUnpackedReferencesAreReadAsProtobufAllows() throws Exception {
        byte[] series = message(o -> {
            o.writeByteArray(2, message(x -> {
                x.writeDouble(1, 7.5);
                x.writeInt64(2, NOW);
            }));
            o.writeUInt32(1, 1);                // labels_refs one by one, not packed
            o.writeUInt32(1, 2);
            o.writeUInt32(1, 3);
            o.writeUInt32(1, 4);
            o.writeInt64(6, NOW - 10);          // created_timestamp: skipped
            o.writeString(30, "unknown");       // unknown field
        });
        byte[] request = message(o -> {
            o.writeByteArray(5, series);
            o.writeString(4, "");
            o.writeString(4, "__name__");
            o.writeString(4, "m");
            o.writeString(4, "host");
            o.writeString(4, "a");
        });
        ParsedBatch batch = decodeV2(snappy(request)).batch();
        assertThat(batch.rejections()).isEmpty();
        assertThat(batch.samples()).singleElement().satisfies(x -> {
            assertThat(x.series().toString()).isEqualTo("m{host=\"a\"}");
            assertThat(x.value()).isEqualTo(7.5);
        });
    }

    @Test
    void v2ReferencesThatDoNotNameLabelsRefuseTheirSeriesAndNothingElse() throws Exception {
        PrometheusWritesV2.Request request = PrometheusWritesV2.request();
        request.series("__name__", "ok").sample(NOW, 1).end();                                 // 0
        request.series("__name__", "odd").refs(1).sample(NOW, 2).sample(NOW, 3).end();         // 1, 2
        request.series("__name__", "far").refs(1, 1000).sample(NOW, 4).end();                  // 3
        request.series("host", "a").sample(NOW, 5).end();                                      // 4: no name
        request.series("__name__", "lat").histogram(NOW, 3, 1.5).exemplar(NOW, 0.5, "t").end(); // 5
        RemoteWriteDecoder.Decoded decoded = decodeV2(request.body());
        ParsedBatch batch = decoded.batch();
        assertThat(batch.total()).isEqualTo(6);
        assertThat(decoded.exemplars()).isEqualTo(1);
        assertThat(batch.samples()).extracting(ParsedBatch.Sample::index).containsExactly(0);
        assertThat(batch.rejections()).extracting(Rejection::index, Rejection::reason).containsExactly(
                org.assertj.core.groups.Tuple.tuple(1, "invalid_label"), org.assertj.core.groups.Tuple.tuple(2, "invalid_label"),
                org.assertj.core.groups.Tuple.tuple(3, "invalid_label"), org.assertj.core.groups.Tuple.tuple(4, "missing_field"),
                org.assertj.core.groups.Tuple.tuple(5, "unsupported_histogram"));
        assertThat(batch.rejections().get(0).message()).contains("not name and value pairs");
        assertThat(batch.rejections().get(2).message()).contains("refers to symbol 1000");
    }

    @Test
    void malformedV2BodiesAreRefusedWholeNamingTheV2Message() throws Exception {
        byte[] raw = goldenV2().protobuf();
        assertThatThrownBy(() -> decodeV2(snappy(java.util.Arrays.copyOf(raw, raw.length - 1))))
                .isInstanceOfSatisfying(MalformedBatchException.class, e -> {
                    assertThat(e.code()).isEqualTo("invalid_protobuf");
                    assertThat(e.getMessage()).contains("io.prometheus.write.v2.Request");
                });
        assertThatThrownBy(() -> decodeV2(snappy(message(o -> o.writeByteArray(4, new byte[] {(byte) 0xc3, 0x28})))))
                .isInstanceOfSatisfying(MalformedBatchException.class, e -> {
                    assertThat(e.code()).isEqualTo("invalid_protobuf");
                    assertThat(e.getMessage()).contains("UTF-8");
                });
        PrometheusWritesV2.Series series = PrometheusWritesV2.request().series("__name__", "m");
        for (int i = 0; i < 51; i++) {
            series.sample(NOW, i);
        }
        assertThatThrownBy(() -> decodeV2(series.end().body())).isInstanceOfSatisfying(MalformedBatchException.class,
                e -> assertThat(e.code()).isEqualTo("too_many_items"));
    }

    @Test
    void aBodyThatDecompressesBeyondWhatAThreadKeepsIsDecodedWhole() throws Exception {
        SluiceConfig large = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-items-per-request", "100000",
                "server.max-body-bytes", "4MiB"));
        RemoteWriteDecoder wide = new RemoteWriteDecoder(large.ingest(), large.server().maxBodyBytes(),
                AdmissionTest.admission(large, NOW));
        PrometheusWrites.Series series = request().series("__name__", "big", "job", "node");
        for (int i = 0; i < 80_000; i++) {
            series.sample(NOW - 80_000 + i, i + 0.5);
        }
        byte[] body = series.end().body();
        ByteBuf direct = Unpooled.directBuffer(body.length).writeBytes(body);
        try {
            ParsedBatch batch = wide.decode(direct).batch();
            assertThat(batch.rejections()).isEmpty();
            assertThat(batch.samples()).hasSize(80_000);
            assertThat(batch.samples().get(79_999).value()).isEqualTo(79_999.5);
            assertThat(batch.samples().get(79_999).timestampMs()).isEqualTo(NOW - 1);
        } finally {
            direct.release();
        }
    }

    @Test
    void aV2SeriesLongerThanWhatIsLeftOfTheBodyIsRefusedEvenAfterALongerBody() throws Exception {
        PrometheusWritesV2.Series longer = PrometheusWritesV2.request().series("__name__", "m", "job", "x".repeat(200));
        assertThat(decodeV2(longer.sample(NOW, 1).end().body()).batch().samples()).hasSize(1);
        // symbols "", "m", then a TimeSeries (field 5) that says 100 bytes and holds 2: the thread's array still holds
        // the longer body's bytes past these
        byte[] raw = {0x22, 0x00, 0x22, 0x01, 'm', 0x2a, 100, 0x08, 0x01};
        assertThatThrownBy(() -> decodeV2(PrometheusWrites.snappy(raw))).isInstanceOfSatisfying(
                MalformedBatchException.class, e -> {
                    assertThat(e.code()).isEqualTo("invalid_protobuf");
                    assertThat(e.getMessage()).contains("a series is truncated");
                });
    }

    private RemoteWriteDecoder.Decoded decodeV2(byte[] body) throws MalformedBatchException {
        ByteBuf buf = Unpooled.directBuffer(body.length).writeBytes(body);
        try {
            return decoder.decode(buf, RemoteWriteDecoder.Version.V2);
        } finally {
            buf.release();
        }
    }

    /** Refused alike from an array and from a direct buffer (copied into the thread's reused array). */
    private void assertRefused(byte[] body, String code, String inMessage) {
        for (boolean direct : new boolean[] {false, true}) {
            assertThatThrownBy(() -> decode(body, direct)).isInstanceOfSatisfying(MalformedBatchException.class, e -> {
                assertThat(e.code()).isEqualTo(code);
                assertThat(e.getMessage()).contains(inMessage);
            });
        }
    }

    /**
     * The body decoded from an array and from a direct buffer, which must agree: the decoder reads the latter, and
     * decompresses both, into arrays its thread reuses, which hold whatever bodies this test decoded before.
     */
    private RemoteWriteDecoder.Decoded decode(byte[] body) throws MalformedBatchException {
        RemoteWriteDecoder.Decoded fromArray = decode(body, false);
        RemoteWriteDecoder.Decoded fromDirect = decode(body, true);
        assertThat(fromDirect.batch().samples()).isEqualTo(fromArray.batch().samples());
        assertThat(fromDirect.batch().rejections()).isEqualTo(fromArray.batch().rejections());
        return fromArray;
    }

    private RemoteWriteDecoder.Decoded decode(byte[] body, boolean direct) throws MalformedBatchException {
        ByteBuf buf = direct ? Unpooled.directBuffer(body.length).writeBytes(body) : Unpooled.wrappedBuffer(body);
        try {
            RemoteWriteDecoder.Decoded decoded = decoder.decode(buf);
            assertThat(buf.readerIndex()).isZero();
            return decoded;
        } finally {
            buf.release();
        }
    }

    interface Writes {
        void to(CodedOutputStream out) throws IOException;
    }

    static byte[] message(Writes writes) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        writes.to(out);
        out.flush();
        return bytes.toByteArray();
    }
}
