package io.sluice.protocol.frame;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.TestFrames;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.record.SeriesDictionary;
import io.sluice.protocol.segment.Segment;
import io.sluice.protocol.segment.SegmentWriter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.sluice.protocol.TestFrames.concat;
import static io.sluice.protocol.TestFrames.encode;
import static io.sluice.protocol.TestFrames.preface;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Pins the v1 wire format to the hex fixtures published beside SPEC.md in {@code protocol/golden/v1}
 * (read from the module directory, not the classpath): every encoder must
 * produce exactly those bytes and every decoder must read them back. A failing test here means the format
 * drifted; fix the code, or (only for a new version) add fixtures under a new directory.
 *
 * <p>To (re)generate fixtures for a new message: {@code -Dsluice.golden.write=true} writes missing files.
 */
class GoldenFramesTest {

    /** The published fixtures, relative to the module directory (the tests' working directory). */
    static final Path DIR = Path.of("golden", "v1");

    /** HELLO_OK with the limits list (SPEC.md §2.2) as the gateway sends it with its default settings. */
    static final HelloOk HELLO_OK_LIMITS = new HelloOk(0x0102030405060708L, 1 << 20, 32, SessionLimits.of(Map.ofEntries(
            Map.entry(SessionLimits.Limit.MAX_STRING_BYTES, 4096L),
            Map.entry(SessionLimits.Limit.MAX_BLOCK_BYTES, 16L << 20),
            Map.entry(SessionLimits.Limit.MAX_RECORDS_PER_BLOCK, 1_000_000L),
            Map.entry(SessionLimits.Limit.MAX_LABELS_PER_SERIES, 32L),
            Map.entry(SessionLimits.Limit.MAX_ATTRIBUTES_PER_EVENT, 32L),
            Map.entry(SessionLimits.Limit.MAX_SERIES_PER_CONNECTION, 100_000L),
            Map.entry(SessionLimits.Limit.MAX_NAME_BYTES, 200L),
            Map.entry(SessionLimits.Limit.MAX_LABEL_NAME_BYTES, 100L),
            Map.entry(SessionLimits.Limit.MAX_LABEL_VALUE_BYTES, 1024L),
            Map.entry(SessionLimits.Limit.LATE_WINDOW_MS, 3_600_000L),
            Map.entry(SessionLimits.Limit.CLOCK_SKEW_MS, 600_000L),
            Map.entry(SessionLimits.Limit.IDLE_TIMEOUT_MS, 60_000L))));
    /** HELLO asking for the limits list, as the Java client sends it. */
    static final Hello HELLO_LIMITS = new Hello(1, "agent-1", "key-123",
            Map.of(Hello.OPTION_LIMITS, Hello.LIMITS_V1, "agent.version", "1.0"));

    static Stream<Arguments> frames() {
        return Stream.of(
                frame("preface", "connection preface, version 1", TestFrames::preface, null),
                frame("hello", "HELLO v1 agent-1 key-123 {agent.version=1.0}", () -> encode(TestFrames.HELLO), TestFrames.HELLO),
                frame("hello_ok", "HELLO_OK session 0x0102030405060708, 1 MiB, 32 in flight",
                        () -> encode(new HelloOk(0x0102030405060708L, 1 << 20, 32)), new HelloOk(0x0102030405060708L, 1 << 20, 32)),
                frame("hello_limits", "HELLO v1 agent-1 key-123 {agent.version=1.0, limits=1}: asks for HELLO_OK's limits list",
                        () -> encode(HELLO_LIMITS), HELLO_LIMITS),
                frame("hello_ok_limits", "HELLO_OK session 0x0102030405060708, 1 MiB, 32 in flight, limits list (gateway defaults)",
                        () -> encode(HELLO_OK_LIMITS), HELLO_OK_LIMITS),
                frame("batch", "BATCH seq 7: 2 series, 4 samples, 1 event", () -> encode(batch(false)), null),
                frame("batch_lz4", "BATCH seq 7, LZ4-compressed records", () -> encode(batch(true)), null),
                frame("ack", "ACK seq 7", () -> encode(new Ack(7)), new Ack(7)),
                frame("nack", "NACK seq 7 THROTTLED retry after 1500 ms",
                        () -> encode(new Nack(7, ErrorCode.THROTTLED, 1500, "over quota")),
                        new Nack(7, ErrorCode.THROTTLED, 1500, "over quota")),
                frame("ping", "PING 0xCAFE", () -> encode(new Ping(0xCAFE)), new Ping(0xCAFE)),
                frame("pong", "PONG 0xCAFE", () -> encode(new Pong(0xCAFE)), new Pong(0xCAFE)),
                frame("goaway", "GOAWAY SHUTTING_DOWN", () -> encode(new GoAway(ErrorCode.SHUTTING_DOWN, "restart")),
                        new GoAway(ErrorCode.SHUTTING_DOWN, "restart")),
                frame("error", "ERROR FRAME_TOO_LARGE", () -> encode(new ErrorFrame(ErrorCode.FRAME_TOO_LARGE, "too big")),
                        new ErrorFrame(ErrorCode.FRAME_TOO_LARGE, "too big")),
                frame("segment", "segment of tenant acme, same records as batch", () -> segment(false), null),
                frame("segment_lz4", "segment of tenant acme, LZ4-compressed", () -> segment(true), null));
    }

    private static Arguments frame(String name, String description, Supplier<byte[]> bytes, ProtocolMessage decoded) {
        return Arguments.of(name, description, bytes, decoded);
    }

    private static Batch batch(boolean lz4) {
        return Batch.outbound(7, TestFrames.records(new SeriesDictionary()), lz4);
    }

    private static byte[] segment(boolean lz4) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, "acme", lz4)) {
            TestFrames.fill(w);
            ByteBuf out = w.finish();
            try {
                return ByteBufUtil.getBytes(out);
            } finally {
                out.release();
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("frames")
    void encodingMatchesFixture(String name, String description, Supplier<byte[]> bytes, ProtocolMessage decoded) throws IOException {
        byte[] actual = bytes.get();
        byte[] golden = readFixture(name, description, actual);
        assertThat(HexFormat.of().formatHex(actual)).as("encoding of %s", name).isEqualTo(HexFormat.of().formatHex(golden));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("frames")
    void fixtureDecodesBack(String name, String description, Supplier<byte[]> bytes, ProtocolMessage decoded) throws IOException {
        byte[] golden = readFixture(name, description, bytes.get());
        if (name.startsWith("segment")) {
            try (Segment s = Segment.decode(golden)) {
                assertThat(s.tenant()).isEqualTo("acme");
                assertThat(s.sampleCount()).isEqualTo(4);
                assertThat(s.eventCount()).isEqualTo(1);
                assertThat(s.compressed()).isEqualTo(name.endsWith("lz4"));
            }
            return;
        }
        if (name.equals("preface")) {
            assertThat(io.sluice.protocol.preface.Preface.isBinary(Unpooled.wrappedBuffer(golden))).isTrue();
            return;
        }
        boolean fromClient = name.startsWith("hello") && !name.startsWith("hello_ok") || name.startsWith("batch");
        List<Object> got = fromClient && !name.startsWith("hello")
                ? TestFrames.decodeAsServer(concat(preface(), encode(TestFrames.HELLO), golden))
                : fromClient ? TestFrames.decodeAsServer(concat(preface(), golden)) : TestFrames.decodeAsClient(golden);
        Object last = got.get(got.size() - 1);
        try {
            if (decoded != null) {
                assertThat(last).isEqualTo(decoded);
            } else {
                Batch b = (Batch) last;
                assertThat(b.sequence()).isEqualTo(7);
                assertThat(b.sampleCount()).isEqualTo(4);
                assertThat(b.eventCount()).isEqualTo(1);
                assertThat(b.cursor().next()).isTrue();
            }
        } finally {
            got.forEach(io.netty.util.ReferenceCountUtil::release);
        }
    }

    private static byte[] readFixture(String name, String description, byte[] actual) throws IOException {
        Path p = DIR.resolve(name + ".hex");
        if (!Files.exists(p)) {
            if (Boolean.getBoolean("sluice.golden.write")) {
                Files.createDirectories(p.getParent());
                Files.writeString(p, "# " + description + "\n" + rows(HexFormat.of().formatHex(actual)));
                return actual;
            }
            throw new AssertionError("missing fixture " + p.toAbsolutePath() + " (run with -Dsluice.golden.write=true once)");
        }
        return parseHex(Files.readString(p, StandardCharsets.UTF_8));
    }

    /** The bytes of a hex dump: whitespace between bytes, {@code #} starts a comment that runs to the line's end. */
    static byte[] parseHex(String text) {
        String hex = text.lines().map(l -> l.indexOf('#') >= 0 ? l.substring(0, l.indexOf('#')) : l)
                .map(l -> l.replaceAll("\\s", "")).collect(Collectors.joining());
        return HexFormat.of().parseHex(hex);
    }

    private static String rows(String hex) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < hex.length(); i += 32) {
            String row = hex.substring(i, Math.min(hex.length(), i + 32));
            for (int j = 0; j < row.length(); j += 2) {
                sb.append(row, j, j + 2).append(j + 2 < row.length() ? " " : "");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

}
