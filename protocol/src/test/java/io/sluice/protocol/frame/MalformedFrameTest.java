package io.sluice.protocol.frame;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.sluice.protocol.TestFrames;
import io.sluice.protocol.codec.Varints;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.record.RecordFormat;
import io.sluice.protocol.record.RecordLimits;
import io.sluice.protocol.server.ServerPipeline;
import net.jpountz.lz4.LZ4Factory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static io.sluice.protocol.TestFrames.concat;
import static io.sluice.protocol.TestFrames.encode;
import static io.sluice.protocol.TestFrames.preface;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Table-driven malformed input through the real server pipeline: each case must produce exactly one ERROR
 * frame with the expected code, close the channel, pass nothing but the HELLO to the session handler, and
 * leak nothing (the leak check runs after the class).
 */
class MalformedFrameTest {

    private static final FrameLimits LIMITS = FrameLimits.builder().maxFrameBytes(64 * 1024)
            .records(RecordLimits.builder().maxBlockBytes(1024 * 1024).maxLabelsPerSeries(8).build()).build();

    static Stream<Arguments> cases() {
        return Stream.of(
                c("HTTP request instead of preface", ErrorCode.PROTOCOL_ERROR,
                        "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII)),
                c("TLS ClientHello instead of preface", ErrorCode.PROTOCOL_ERROR,
                        new byte[] {0x16, 0x03, 0x01, 0x00, (byte) 0xa5, 0x01, 0x00}),
                c("bad magic, last byte", ErrorCode.PROTOCOL_ERROR, new byte[] {(byte) 0x89, 'S', 'L', 'X', 0, 1}),
                c("unsupported preface version", ErrorCode.UNSUPPORTED_VERSION, new byte[] {(byte) 0x89, 'S', 'L', 'U', 0, 2}),
                c("unknown frame type", ErrorCode.PROTOCOL_ERROR, afterHello(frame(0x7F, 0, new byte[0]))),
                c("oversized frame (rejected from its header alone)", ErrorCode.FRAME_TOO_LARGE,
                        afterHello(header(64 * 1024 + 1, FrameType.BATCH.id(), 0))),
                c("length 0xFFFFFFFF", ErrorCode.FRAME_TOO_LARGE, afterHello(new byte[] {-1, -1, -1, -1, 3, 0})),
                c("truncated PING payload", ErrorCode.PROTOCOL_ERROR, afterHello(frame(FrameType.PING.id(), 0, new byte[4]))),
                c("trailing bytes after PING", ErrorCode.PROTOCOL_ERROR, afterHello(frame(FrameType.PING.id(), 0, new byte[9]))),
                c("first frame is not HELLO", ErrorCode.PROTOCOL_ERROR, concat(preface(), encode(new Ping(1)))),
                c("HELLO twice", ErrorCode.PROTOCOL_ERROR, afterHello(encode(TestFrames.HELLO))),
                c("server-only frame from a client", ErrorCode.PROTOCOL_ERROR, afterHello(encode(new Ack(1)))),
                c("unknown flag bits", ErrorCode.PROTOCOL_ERROR, afterHello(frame(FrameType.PING.id(), 0x02, new byte[8]))),
                c("HELLO with unsupported version", ErrorCode.UNSUPPORTED_VERSION,
                        concat(preface(), encode(new Hello(2, "a", "k", java.util.Map.of())))),
                c("HELLO string longer than its frame", ErrorCode.PROTOCOL_ERROR,
                        concat(preface(), frame(FrameType.HELLO.id(), 0, bytes(b -> b.writeShort(1).writeByte(100).writeByte('a'))))),
                c("HELLO string over maxStringBytes", ErrorCode.LIMIT_EXCEEDED,
                        concat(preface(), frame(FrameType.HELLO.id(), 0, bytes(b -> {
                            b.writeShort(1);
                            Varints.writeUnsigned(b, 100_000);
                        })))),
                c("bad varint in a batch", ErrorCode.INVALID_RECORD, batch(1, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SAMPLE);
                    for (int i = 0; i < 11; i++) {
                        b.writeByte(0xFF);
                    }
                })),
                c("overlong varint (a series id as 80 00)", ErrorCode.INVALID_RECORD, batch(1, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SERIES).writeByte(0).writeByte(1).writeByte('m').writeByte(0);
                    b.writeByte(RecordFormat.TAG_SAMPLE).writeByte(0x80).writeByte(0x00).writeByte(0).writeLong(0);
                })),
                c("overlong varint as a string length", ErrorCode.INVALID_RECORD, batch(0, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SERIES).writeByte(0).writeByte(0x81).writeByte(0x00).writeByte('m').writeByte(0);
                })),
                c("invalid UTF-8 in a label value", ErrorCode.INVALID_RECORD, batch(0, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SERIES).writeByte(0).writeByte(1).writeByte('m').writeByte(1);
                    b.writeByte(1).writeByte('k').writeByte(2).writeByte(0xC3).writeByte(0x28);
                })),
                c("a UTF-8-encoded surrogate (ED A0 80) in a metric name", ErrorCode.INVALID_RECORD, batch(0, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SERIES).writeByte(0).writeByte(3).writeByte(0xED).writeByte(0xA0)
                            .writeByte(0x80).writeByte(0);
                })),
                c("overlong UTF-8 (C0 AF) in an event id", ErrorCode.INVALID_RECORD, batch(0, 1, b -> {
                    b.writeByte(RecordFormat.TAG_EVENT).writeByte(0).writeByte(2).writeByte(0xC0).writeByte(0xAF);
                    b.writeByte(1).writeByte('t').writeByte(0).writeByte(0);
                })),
                c("invalid UTF-8 in HELLO's agent id", ErrorCode.PROTOCOL_ERROR,
                        concat(preface(), frame(FrameType.HELLO.id(), 0, bytes(b -> b.writeShort(1).writeByte(1).writeByte(0xFF)
                                .writeByte(1).writeByte('k').writeByte(0))))),
                c("overlong varint in HELLO's option count", ErrorCode.PROTOCOL_ERROR,
                        concat(preface(), frame(FrameType.HELLO.id(), 0, bytes(b -> b.writeShort(1).writeByte(1).writeByte('a')
                                .writeByte(1).writeByte('k').writeByte(0x80).writeByte(0x00))))),
                c("varint truncated at end of batch", ErrorCode.INVALID_RECORD, batch(1, 0, b -> b.writeByte(RecordFormat.TAG_SAMPLE).writeByte(0x80))),
                c("dictionary reference out of range", ErrorCode.INVALID_RECORD, batch(1, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SAMPLE).writeByte(5).writeByte(0).writeLong(0);
                })),
                c("series defined out of order", ErrorCode.INVALID_RECORD, batch(0, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SERIES).writeByte(3).writeByte(1).writeByte('m').writeByte(0);
                })),
                c("labels not in ascending order", ErrorCode.INVALID_RECORD, batch(0, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SERIES).writeByte(0).writeByte(1).writeByte('m').writeByte(2);
                    b.writeByte(1).writeByte('b').writeByte(1).writeByte('x');
                    b.writeByte(1).writeByte('a').writeByte(1).writeByte('y');
                })),
                c("too many labels", ErrorCode.LIMIT_EXCEEDED, batch(0, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SERIES).writeByte(0).writeByte(1).writeByte('m').writeByte(100);
                })),
                c("record count mismatch", ErrorCode.INVALID_RECORD, batch(2, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SERIES).writeByte(0).writeByte(1).writeByte('m').writeByte(0);
                    b.writeByte(RecordFormat.TAG_SAMPLE).writeByte(0).writeByte(0).writeLong(0);
                })),
                c("unknown record tag", ErrorCode.INVALID_RECORD, batch(0, 0, b -> b.writeByte(0x7E))),
                c("truncated sample value", ErrorCode.INVALID_RECORD, batch(1, 0, b -> {
                    b.writeByte(RecordFormat.TAG_SERIES).writeByte(0).writeByte(1).writeByte('m').writeByte(0);
                    b.writeByte(RecordFormat.TAG_SAMPLE).writeByte(0).writeByte(0).writeInt(0);
                })),
                c("records block shorter than its header", ErrorCode.INVALID_RECORD,
                        afterHello(frame(FrameType.BATCH.id(), 0, bytes(b -> b.writeLong(1).writeInt(0))))),
                c("batch shorter than its sequence number", ErrorCode.PROTOCOL_ERROR,
                        afterHello(frame(FrameType.BATCH.id(), 0, new byte[3]))),
                c("corrupt LZ4 block", ErrorCode.COMPRESSION_ERROR, afterHello(frame(FrameType.BATCH.id(), FrameFormat.FLAG_LZ4,
                        bytes(b -> b.writeLong(1).writeInt(100).writeBytes(new byte[] {(byte) 0xF0, 1, 2, 3, 4, 5}))))),
                c("LZ4 block shorter than declared", ErrorCode.COMPRESSION_ERROR, afterHello(frame(FrameType.BATCH.id(),
                        FrameFormat.FLAG_LZ4, bytes(b -> b.writeLong(1).writeInt(100).writeBytes(lz4(new byte[50])))))),
                c("LZ4 declares more than maxBlockBytes", ErrorCode.FRAME_TOO_LARGE, afterHello(frame(FrameType.BATCH.id(),
                        FrameFormat.FLAG_LZ4, bytes(b -> b.writeLong(1).writeInt(Integer.MAX_VALUE).writeBytes(lz4(new byte[50]))))))
        );
    }

    private static Arguments c(String name, ErrorCode code, byte[] input) {
        return Arguments.of(name, code, input);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("cases")
    void malformedInputIsAnsweredWithErrorAndClose(String name, ErrorCode expected, byte[] input) {
        RecordingSession session = new RecordingSession();
        EmbeddedChannel ch = new EmbeddedChannel();
        ServerPipeline.install(ch.pipeline(), LIMITS, session);

        // A valid frame after the bad input must be discarded, not decoded.
        ch.writeInbound(Unpooled.wrappedBuffer(concat(input, encode(new Ping(9)))));

        List<Object> answers = readAnswers(ch);
        assertThat(answers).hasSize(1);
        assertThat(answers.get(0)).isInstanceOfSatisfying(ErrorFrame.class, e -> assertThat(e.code()).isEqualTo(expected));
        assertThat(ch.isOpen()).as("channel closed").isFalse();
        assertThat(session.received).allSatisfy(m -> assertThat(m).isInstanceOf(Hello.class));
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void aGenuineReplacementCharacterIsAcceptedAndKeptByteForByte() {
        // U+FFFD sent as EF BF BD is valid UTF-8: only malformed bytes are refused, nothing is replaced.
        io.sluice.protocol.record.SeriesDictionary dict = new io.sluice.protocol.record.SeriesDictionary();
        ByteBuf records = Unpooled.buffer();
        io.sluice.protocol.record.RecordsWriter w = new io.sluice.protocol.record.RecordsWriter(records, dict);
        w.addSample(io.sluice.protocol.record.Series.of("m\ufffd", "k", "\ufffd\ud83d\ude00"), 1_700_000_000_000L, 1);
        w.finish();
        List<Object> got = TestFrames.decodeAsServer(afterHello(encode(Batch.outbound(1, records, false))));
        try {
            Batch batch = (Batch) got.get(got.size() - 1);
            io.sluice.protocol.record.RecordCursor c = batch.cursor();
            assertThat(c.next()).isTrue();
            assertThat(c.series().name()).isEqualTo("m\ufffd");
            assertThat(c.series().labels()).containsEntry("k", "\ufffd\ud83d\ude00");
        } finally {
            got.forEach(ReferenceCountUtil::release);
        }
    }

    @Test
    void exceptionFromTheSessionHandlerBecomesInternalError() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ServerPipeline.install(ch.pipeline(), LIMITS, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg);
                throw new IllegalStateException("boom");
            }
        });
        ch.writeInbound(Unpooled.wrappedBuffer(concat(preface(), encode(TestFrames.HELLO))));
        List<Object> answers = readAnswers(ch);
        assertThat(answers).singleElement().isEqualTo(new ErrorFrame(ErrorCode.INTERNAL_ERROR, "internal error"));
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void errorCodesAreMarkedRetriableOrNot() {
        assertThat(ErrorCode.THROTTLED.retriable()).isTrue();
        assertThat(ErrorCode.RETRY_LATER.retriable()).isTrue();
        assertThat(ErrorCode.AUTH_FAILED.retriable()).isFalse();
        assertThat(ErrorCode.INVALID_RECORD.retriable()).isFalse();
        assertThat(ErrorCode.fromCode(7)).isEqualTo(ErrorCode.THROTTLED);
        assertThat(ErrorCode.fromCode(999)).isEqualTo(ErrorCode.UNKNOWN);
        // Codes are permanent: pin the numbers.
        assertThat(Stream.of(ErrorCode.values()).map(e -> e.name() + "=" + e.code())).containsExactly(
                "UNKNOWN=0", "PROTOCOL_ERROR=1", "UNSUPPORTED_VERSION=2", "AUTH_FAILED=3", "FRAME_TOO_LARGE=4",
                "INVALID_RECORD=5", "COMPRESSION_ERROR=6", "THROTTLED=7", "RETRY_LATER=8", "SHUTTING_DOWN=9",
                "INTERNAL_ERROR=10", "LIMIT_EXCEEDED=11");
        assertThat(Stream.of(FrameType.values()).map(t -> t.name() + "=" + t.id())).containsExactly(
                "HELLO=1", "HELLO_OK=2", "BATCH=3", "ACK=4", "NACK=5", "PING=6", "PONG=7", "GOAWAY=8", "ERROR=9");
    }

    @Test
    void limitsAreValidatedWithTheHouseMessage() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> FrameLimits.builder().maxFrameBytes(0))
                .hasMessage("maxFrameBytes: 0 (expected: > 0)");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> RecordLimits.builder().maxLabelsPerSeries(-1))
                .hasMessage("maxLabelsPerSeries: -1 (expected: > 0)");
    }

    private static List<Object> readAnswers(EmbeddedChannel ch) {
        List<Object> answers = new ArrayList<>();
        ByteBuf out;
        while ((out = ch.readOutbound()) != null) {
            try {
                answers.addAll(TestFrames.decodeAsClient(ByteBufUtil.getBytes(out)));
            } finally {
                out.release();
            }
        }
        return answers;
    }

    private static byte[] afterHello(byte[] frame) {
        return concat(preface(), encode(TestFrames.HELLO), frame);
    }

    private static byte[] batch(int samples, int events, Consumer<ByteBuf> entries) {
        return afterHello(frame(FrameType.BATCH.id(), 0, bytes(b -> {
            b.writeLong(1).writeInt(samples).writeInt(events).writeLong(1_700_000_000_000L);
            entries.accept(b);
        })));
    }

    private static byte[] header(long length, int type, int flags) {
        return bytes(b -> b.writeInt((int) length).writeByte(type).writeByte(flags));
    }

    private static byte[] frame(int type, int flags, byte[] payload) {
        return concat(header(payload.length, type, flags), payload);
    }

    private static byte[] bytes(Consumer<ByteBuf> writer) {
        ByteBuf b = Unpooled.buffer();
        try {
            writer.accept(b);
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    private static byte[] lz4(byte[] raw) {
        return LZ4Factory.fastestJavaInstance().fastCompressor().compress(raw);
    }

    /** Stands in for the gateway's session handler: records (and releases) what reaches it. */
    static final class RecordingSession extends ChannelInboundHandlerAdapter {
        final List<Object> received = new ArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            received.add(msg instanceof Batch b ? b.toString() : msg);
            ReferenceCountUtil.release(msg);
        }
    }
}
