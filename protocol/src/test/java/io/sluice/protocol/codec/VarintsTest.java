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

    /**
     * With eight bytes or more readable a varint is read in one access; the verdict (value and end, or the error) is
     * the one of the byte-by-byte read it takes with fewer bytes, for every length, three padding bytes, malformed
     * varints included.
     */
    @Test
    void aVarintReadWithBytesAfterItIsReadAsWithoutThem() {
        java.util.List<byte[]> encodings = new java.util.ArrayList<>();
        java.util.Random random = new java.util.Random(7);
        for (int bits = 0; bits <= 64; bits++) {
            long top = bits == 0 ? 0 : 1L << (bits - 1);
            for (long v : new long[] {top, top - 1, top + 1, top | random.nextLong() & (top - 1), random.nextLong() >>> (64 - Math.max(1, bits))}) {
                ByteBuf b = Unpooled.buffer();
                Varints.writeUnsigned(b, v);
                encodings.add(io.netty.buffer.ByteBufUtil.getBytes(b));
                b.release();
            }
        }
        for (String hex : new String[] {"8000", "ff00", "808000", "818000", "80808080808080808000", "ffffffffffffffff00",
                "ffffffffffffffffff7f", "ffffffffffffffffffff01"}) {
            encodings.add(java.util.HexFormat.of().parseHex(hex));
        }
        for (byte[] encoding : encodings) {
            String alone = verdict(encoding, 0, (byte) 0);
            for (byte pad : new byte[] {0, (byte) 0xFF, 0x01}) {
                assertThat(verdict(encoding, 8, pad)).as(java.util.HexFormat.of().formatHex(encoding) + " padded with "
                        + pad).isEqualTo(alone);
            }
        }
    }

    /** The value and bytes read, or the error, of a read of {@code encoding} followed by {@code padding} bytes. */
    private static String verdict(byte[] encoding, int padding, byte pad) {
        ByteBuf b = Unpooled.buffer();
        b.writeBytes(encoding);
        for (int i = 0; i < padding; i++) {
            b.writeByte(pad);
        }
        try {
            long v = Varints.readUnsigned(b);
            return v + " after " + b.readerIndex();
        } catch (ProtocolException e) {
            return e.getMessage() + " at " + b.readerIndex();
        } finally {
            b.release();
        }
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
