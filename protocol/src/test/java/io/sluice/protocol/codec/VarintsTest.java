package io.sluice.protocol.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.error.ProtocolException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VarintsTest {

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 63, 64, 127, 128, 16383, 16384, 1L << 31, -1, -64, -65, Long.MAX_VALUE, Long.MIN_VALUE})
    void signedAndUnsignedRoundTrip(long v) {
        ByteBuf b = Unpooled.buffer();
        Varints.writeUnsigned(b, v);
        assertThat(b.readableBytes()).isEqualTo(Varints.unsignedSize(v));
        Varints.writeSigned(b, v);
        assertThat(Varints.readUnsigned(b)).isEqualTo(v);
        assertThat(Varints.readSigned(b)).isEqualTo(v);
        assertThat(b.isReadable()).isFalse();
        b.release();
    }

    @Test
    void zigZagKeepsSmallNegativesShort() {
        ByteBuf b = Unpooled.buffer();
        Varints.writeSigned(b, -1);
        assertThat(b.readableBytes()).isEqualTo(1);
        assertThat(b.getByte(0)).isEqualTo((byte) 1);
        b.release();
    }

    @Test
    void overlongAndTruncatedVarintsAreRejected() {
        ByteBuf overlong = Unpooled.wrappedBuffer(new byte[] {-1, -1, -1, -1, -1, -1, -1, -1, -1, 0x7F});
        assertThatThrownBy(() -> Varints.readUnsigned(overlong)).isInstanceOfSatisfying(ProtocolException.class,
                e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_RECORD)).hasMessageContaining("overflows");
        ByteBuf truncated = Unpooled.wrappedBuffer(new byte[] {(byte) 0x80, (byte) 0x80});
        assertThatThrownBy(() -> Varints.readUnsigned(truncated)).hasMessageContaining("truncated");
        assertThat(truncated.readerIndex()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"8000", "ff00", "808000", "818000", "80808080808080808000"})
    void nonMinimalEncodingsAreRejectedSoEveryValueHasOneEncoding(String hex) {
        ByteBuf b = Unpooled.wrappedBuffer(java.util.HexFormat.of().parseHex(hex));
        assertThatThrownBy(() -> Varints.readUnsigned(b)).isInstanceOfSatisfying(ProtocolException.class,
                e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_RECORD)).hasMessageContaining("overlong");
        assertThat(b.readerIndex()).isZero();
    }

    @Test
    void theLongestMinimalEncodingsAreAccepted() {
        // 0x80 0x01 = 128, and the ten-byte encoding of -1 ends in 0x01.
        assertThat(Varints.readUnsigned(Unpooled.wrappedBuffer(new byte[] {(byte) 0x80, 0x01}))).isEqualTo(128);
        assertThat(Varints.readUnsigned(Unpooled.wrappedBuffer(java.util.HexFormat.of()
                .parseHex("ffffffffffffffffff01")))).isEqualTo(-1L);
        assertThat(Varints.readUnsigned(Unpooled.wrappedBuffer(new byte[] {0}))).isZero();
    }

    @Test
    void boundedReadNamesTheLimit() {
        ByteBuf b = Unpooled.buffer();
        Varints.writeUnsigned(b, 300);
        assertThatThrownBy(() -> Varints.readBounded(b, 255, "labels", ErrorCode.LIMIT_EXCEEDED))
                .hasMessage("LIMIT_EXCEEDED: labels: 300 (expected: <= 255)");
        b.release();
    }
}
