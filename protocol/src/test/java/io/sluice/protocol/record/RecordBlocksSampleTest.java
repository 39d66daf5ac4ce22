package io.sluice.protocol.record;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.error.ProtocolException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link RecordBlocks#validate} reads a sound sample from the block's view and leaves every other one to the buffer
 * read: each way a sample can be wrong gets the buffer read's verdict and message, and each sound edge (the longest
 * varints, the highest id) passes, in a heap and in a direct block.
 */
class RecordBlocksSampleTest {

    private static final byte[] VALUE = {0x3F, (byte) 0xF0, 0, 0, 0, 0, 0, 0}; // 1.0, big-endian

    static Stream<Arguments> sound() {
        return Stream.of(
                Arguments.of("one-byte id and step", bytes(0), bytes(0), 0L),
                Arguments.of("the highest id", bytes(1), bytes(2), 1L),
                Arguments.of("a two-byte step", bytes(0), bytes(0x80, 0x01), 64L),
                Arguments.of("a ten-byte step (Long.MIN_VALUE)", bytes(0),
                        bytes(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), Long.MIN_VALUE));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sound")
    void soundSamplesPass(String name, byte[] id, byte[] step, long expectedStep) {
        for (boolean direct : new boolean[] {false, true}) {
            ByteBuf block = block(1, id, step, VALUE, direct);
            try {
                SeriesDictionary dictionary = new SeriesDictionary();
                assertThat(RecordBlocks.validate(block, dictionary, RecordLimits.DEFAULTS).samples()).isEqualTo(1);
                RecordCursor cursor = new RecordCursor(block, dictionary.snapshot());
                assertThat(cursor.next()).isTrue();
                assertThat(cursor.timestampMs()).isEqualTo(1_000 + expectedStep);
                assertThat(cursor.value()).isEqualTo(1.0);
                assertThat(cursor.series().name()).isEqualTo(id[0] == 0 ? "a" : "b");
                assertThat(cursor.next()).isFalse();
            } finally {
                block.release();
            }
        }
    }

    static Stream<Arguments> unsound() {
        return Stream.of(
                Arguments.of("an overlong id", 1, bytes(0x80, 0x00), bytes(0), VALUE,
                        "overlong varint (2 bytes, the last one 0x00)"),
                Arguments.of("an id not defined", 1, bytes(2), bytes(0), VALUE, "sample refers to series 2 but 2 are defined"),
                Arguments.of("an id of five bytes", 1, bytes(0x80, 0x80, 0x80, 0x80, 0x01), bytes(0), VALUE,
                        "sample refers to series 268435456 but 2 are defined"),
                Arguments.of("an overlong step", 1, bytes(0), bytes(0x81, 0x00), VALUE,
                        "overlong varint (2 bytes, the last one 0x00)"),
                Arguments.of("a step past 64 bits", 1, bytes(0),
                        bytes(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02), VALUE, "varint overflows 64 bits"),
                Arguments.of("a step of eleven bytes", 1, bytes(0),
                        bytes(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0x01), VALUE,
                        "varint overflows 64 bits"),
                Arguments.of("a step cut short", 1, bytes(0), bytes(0x80), bytes(), "truncated varint"),
                Arguments.of("a value cut short", 1, bytes(0), bytes(0), bytes(0x3F, 0xF0, 0, 0), "sample value is truncated"),
                Arguments.of("more samples than declared", 0, bytes(0), bytes(0), VALUE,
                        "header declares 0 samples, block holds more"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("unsound")
    void unsoundSamplesGetTheBufferReadsVerdict(String name, int declared, byte[] id, byte[] step, byte[] value,
                                                String message) {
        for (boolean direct : new boolean[] {false, true}) {
            ByteBuf block = block(declared, id, step, value, direct);
            try {
                assertThatThrownBy(() -> RecordBlocks.validate(block, new SeriesDictionary(), RecordLimits.DEFAULTS))
                        .isInstanceOfSatisfying(ProtocolException.class,
                                e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_RECORD))
                        .hasMessage("INVALID_RECORD: " + message);
            } finally {
                block.release();
            }
        }
    }

    /** A block of two definitions ("a" as 0, "b" as 1), then one sample of the given bytes after its tag. */
    private static ByteBuf block(int declaredSamples, byte[] id, byte[] step, byte[] value, boolean direct) {
        ByteBuf b = direct ? Unpooled.directBuffer() : Unpooled.buffer();
        b.writeInt(declaredSamples).writeInt(0).writeLong(1_000);
        b.writeByte(RecordFormat.TAG_SERIES).writeByte(0).writeByte(1).writeByte('a').writeByte(0);
        b.writeByte(RecordFormat.TAG_SERIES).writeByte(1).writeByte(1).writeByte('b').writeByte(0);
        b.writeByte(RecordFormat.TAG_SAMPLE).writeBytes(id).writeBytes(step).writeBytes(value);
        return b;
    }

    private static byte[] bytes(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }
}
