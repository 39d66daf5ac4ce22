package io.sluice.protocol.preface;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class PrefaceTest {

    @ParameterizedTest
    @ValueSource(strings = {"GET / HTTP/1.1", "POST /api", "PUT x", "DELETE x", "HEAD x", "OPTIONS x", "PATCH x",
            "CONNECT x", "TRACE x", "PRI * HTTP/2.0"})
    void httpRequestLinesAreNotBinaryFromTheirFirstByte(String requestLine) {
        ByteBuf one = Unpooled.wrappedBuffer(requestLine.substring(0, 1).getBytes(StandardCharsets.US_ASCII));
        assertThat(Preface.detect(one)).isEqualTo(PrefaceDetection.NOT_BINARY);
    }

    @Test
    void tlsClientHelloIsNotBinaryFromItsFirstByte() {
        ByteBuf hello = Unpooled.wrappedBuffer(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00});
        assertThat(Preface.detect(hello)).isEqualTo(PrefaceDetection.NOT_BINARY);
        assertThat(Preface.isBinary(hello)).isFalse();
    }

    @Test
    void theFirstByteDecidesAndDetectionDoesNotMoveTheReader() {
        ByteBuf preface = Preface.encode(Preface.CURRENT_VERSION);
        assertThat(Preface.detect(preface.slice(0, 0))).isEqualTo(PrefaceDetection.NEED_MORE_BYTES);
        assertThat(Preface.detect(preface.slice(0, Preface.DETECTION_BYTES))).isEqualTo(PrefaceDetection.BINARY);
        assertThat(Preface.isBinary(preface)).isTrue();
        assertThat(preface.readerIndex()).isZero();
        assertThat(Preface.DETECTION_BYTES).isLessThanOrEqualTo(5);
        assertThat(Preface.read(preface)).isEqualTo(1);
        preface.release();
    }

    @Test
    void aWrongMagicAfter0x89IsBinarySoTheBinaryDecoderAnswersIt() {
        // SPEC.md §1: 0x89 starts neither HTTP nor TLS, so the connection is binary and read() refuses the magic.
        ByteBuf wrong = Unpooled.wrappedBuffer(new byte[] {(byte) 0x89, 'S', 'L', 'X', 0, 1});
        assertThat(Preface.detect(wrong)).isEqualTo(PrefaceDetection.BINARY);
        assertThat(Preface.read(wrong)).isEqualTo(Preface.BAD_MAGIC);
        assertThat(wrong.readerIndex()).isZero();
    }

    @Test
    void readReportsIncompleteAndBadMagic() {
        assertThat(Preface.read(Unpooled.wrappedBuffer(new byte[] {(byte) 0x89, 'S'}))).isEqualTo(Preface.INCOMPLETE);
        assertThat(Preface.read(Unpooled.wrappedBuffer(new byte[] {(byte) 0x89, 'X'}))).isEqualTo(Preface.BAD_MAGIC);
        assertThat(Preface.read(Unpooled.wrappedBuffer(new byte[] {'G', 'E', 'T', ' ', '/', ' '}))).isEqualTo(Preface.BAD_MAGIC);
    }
}
