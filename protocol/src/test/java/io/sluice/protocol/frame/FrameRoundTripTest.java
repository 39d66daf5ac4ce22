package io.sluice.protocol.frame;

import io.netty.buffer.ByteBuf;
import io.sluice.protocol.TestFrames;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.SeriesDictionary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static io.sluice.protocol.TestFrames.concat;
import static io.sluice.protocol.TestFrames.encode;
import static io.sluice.protocol.TestFrames.preface;
import static org.assertj.core.api.Assertions.assertThat;

class FrameRoundTripTest {

    @Test
    void clientToServerControlFramesRoundTrip() {
        List<ProtocolMessage> sent = List.of(
                new Ping(42), new Pong(-7), new GoAway(ErrorCode.SHUTTING_DOWN, "bye"),
                new ErrorFrame(ErrorCode.PROTOCOL_ERROR, "oops ünïcode"));
        byte[] bytes = preface();
        bytes = concat(bytes, encode(TestFrames.HELLO));
        for (ProtocolMessage m : sent) {
            bytes = concat(bytes, encode(m));
        }
        List<Object> got = TestFrames.decodeAsServer(bytes);
        List<Object> expected = new ArrayList<>();
        expected.add(TestFrames.HELLO);
        expected.addAll(sent);
        assertThat(got).containsExactlyElementsOf(expected);
    }

    @Test
    void serverToClientFramesRoundTrip() {
        List<ProtocolMessage> sent = List.of(
                new HelloOk(0x1122334455667788L, 1 << 20, 64), new Ack(1), new Ack(Long.MAX_VALUE),
                new Nack(9, ErrorCode.THROTTLED, 250, "tenant acme over quota"),
                new Nack(10, ErrorCode.INVALID_RECORD, 0, "bad"),
                new Ping(1), new Pong(2), new GoAway(ErrorCode.SHUTTING_DOWN, ""),
                new ErrorFrame(ErrorCode.AUTH_FAILED, "unknown API key"));
        byte[] bytes = new byte[0];
        for (ProtocolMessage m : sent) {
            bytes = concat(bytes, encode(m));
        }
        assertThat(TestFrames.decodeAsClient(bytes)).containsExactlyElementsOf(sent);
    }

    @Test
    void helloRedactsApiKeyInToString() {
        assertThat(TestFrames.HELLO.toString()).doesNotContain("key-123").contains("redacted");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void batchRoundTripsWithAndWithoutLz4(boolean lz4) {
        ByteBuf records = TestFrames.records(new SeriesDictionary());
        byte[] frame = encode(Batch.outbound(77, records, lz4));
        assertThat(frame[5]).isEqualTo((byte) (lz4 ? FrameFormat.FLAG_LZ4 : 0));
        List<Object> got = TestFrames.decodeAsServer(concat(preface(), encode(TestFrames.HELLO), frame));
        assertThat(got).hasSize(2);
        Batch batch = (Batch) got.get(1);
        try {
            assertThat(batch.sequence()).isEqualTo(77);
            assertThat(batch.compressed()).isEqualTo(lz4);
            assertThat(batch.sampleCount()).isEqualTo(4);
            assertThat(batch.eventCount()).isEqualTo(1);
            List<String> seen = new ArrayList<>();
            RecordCursor c = batch.cursor();
            while (c.next()) {
                seen.add(c.isSample()
                        ? c.series() + "@" + c.timestampMs() + "=" + c.value()
                        : c.event().toString());
            }
            assertThat(seen).containsExactly(
                    "cpu.usage{dc=\"eu-1\", host=\"web-1\"}@1700000000000=0.25",
                    "mem.free{host=\"web-1\"}@1700000000000=1024.0",
                    "cpu.usage{dc=\"eu-1\", host=\"web-1\"}@1700000001000=0.5",
                    "cpu.usage{dc=\"eu-1\", host=\"web-1\"}@1699999999000=-1.5",
                    new Event("evt-1", "deploy", 1_700_000_002_000L, "web-1", Map.of("version", "2.3")).toString());
        } finally {
            batch.release();
        }
    }

    @Test
    void laterBatchesReferToSeriesDefinedByEarlierOnes() {
        SeriesDictionary clientSide = new SeriesDictionary();
        byte[] first = encode(Batch.outbound(1, TestFrames.records(clientSide), false));
        byte[] second = encode(Batch.outbound(2, TestFrames.records(clientSide), false));
        assertThat(second.length).as("the second batch only refers to ids").isLessThan(first.length);
        List<Object> got = TestFrames.decodeAsServer(concat(preface(), encode(TestFrames.HELLO), first, second));
        Batch b2 = (Batch) got.get(2);
        try {
            RecordCursor c = b2.cursor();
            assertThat(c.next()).isTrue();
            assertThat(c.series().name()).isEqualTo("cpu.usage");
            assertThat(b2.series().size()).isEqualTo(2);
        } finally {
            got.stream().filter(Batch.class::isInstance).forEach(b -> ((Batch) b).release());
        }
    }

    @Test
    void decoderHandlesFramesSplitAcrossReadsByteByByte() {
        byte[] all = concat(preface(), encode(TestFrames.HELLO),
                encode(Batch.outbound(5, TestFrames.records(new SeriesDictionary()), true)), encode(new Ping(3)));
        io.netty.channel.embedded.EmbeddedChannel ch = new io.netty.channel.embedded.EmbeddedChannel(
                FrameDecoder.forServer(FrameLimits.DEFAULTS));
        for (byte b : all) {
            ch.writeInbound(io.netty.buffer.Unpooled.wrappedBuffer(new byte[] {b}));
        }
        Object hello = ch.readInbound();
        assertThat(hello).isEqualTo(TestFrames.HELLO);
        Batch batch = ch.readInbound();
        assertThat(batch.sequence()).isEqualTo(5);
        batch.release();
        Object ping = ch.readInbound();
        assertThat(ping).isEqualTo(new Ping(3));
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }

    @Test
    void messagesAreCutToMaxMessageBytesOnACharacterBoundary() {
        String ascii = Stream.generate(() -> "x").limit(5000).reduce("", String::concat);
        assertThat(new ErrorFrame(ErrorCode.INTERNAL_ERROR, ascii).message()).hasSize(FrameFormat.MAX_MESSAGE_BYTES);
        // 3-byte characters: 333 fit in 1000 bytes; 4-byte ones (a surrogate pair each): 250.
        String euros = Stream.generate(() -> "\u20ac").limit(400).reduce("", String::concat);
        String cut = new Nack(1, ErrorCode.THROTTLED, 0, euros).message();
        assertThat(cut.getBytes(java.nio.charset.StandardCharsets.UTF_8)).hasSize(999);
        String emoji = Stream.generate(() -> "\ud83d\ude00").limit(300).reduce("", String::concat);
        String cutEmoji = new GoAway(ErrorCode.SHUTTING_DOWN, "a" + emoji).message();
        assertThat(cutEmoji.getBytes(java.nio.charset.StandardCharsets.UTF_8)).hasSize(1 + 249 * 4);
        assertThat(Character.isHighSurrogate(cutEmoji.charAt(cutEmoji.length() - 1))).isFalse();
        assertThat(new ErrorFrame(ErrorCode.INTERNAL_ERROR, "short \u20ac").message()).isEqualTo("short \u20ac");
    }
}
