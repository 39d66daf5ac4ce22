package io.sluice.protocol.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.error.ProtocolException;

import java.nio.charset.StandardCharsets;

/**
 * Length-prefixed UTF-8 strings (an unsigned varint byte count, then the bytes) on a {@link ByteBuf}.
 *
 * <p>The length is checked against the limit and against the readable bytes before any {@code String} is
 * allocated, so a hostile length cannot make the reader allocate more than the frame already holds.
 */
public final class Utf8Strings {

    private Utf8Strings() {
    }

    /** Writes {@code s} as a varint byte length followed by its UTF-8 bytes. */
    public static void write(ByteBuf out, CharSequence s) {
        int len = ByteBufUtil.utf8Bytes(s);
        Varints.writeUnsigned(out, len);
        out.writeCharSequence(s, StandardCharsets.UTF_8);
    }

    /** The number of bytes {@link #write} uses for {@code s}. */
    public static int encodedSize(CharSequence s) {
        int len = ByteBufUtil.utf8Bytes(s);
        return Varints.unsignedSize(len) + len;
    }

    /**
     * Reads a string of at most {@code maxBytes} UTF-8 bytes.
     *
     * @param what names the field in error messages
     * @param malformed the code to answer for a string that runs past the end of the input
     */
    public static String read(ByteBuf in, int maxBytes, String what, ErrorCode malformed) {
        int len = readLength(in, maxBytes, what, malformed);
        String s = in.toString(in.readerIndex(), len, StandardCharsets.UTF_8);
        in.skipBytes(len);
        return s;
    }

    /** Skips a string after checking its length, returning the byte length of its content. */
    public static int skip(ByteBuf in, int maxBytes, String what, ErrorCode malformed) {
        int len = readLength(in, maxBytes, what, malformed);
        in.skipBytes(len);
        return len;
    }

    private static int readLength(ByteBuf in, int maxBytes, String what, ErrorCode malformed) {
        int len = Varints.readBounded(in, maxBytes, what, " bytes", ErrorCode.LIMIT_EXCEEDED);
        if (len > in.readableBytes()) {
            throw new ProtocolException(malformed, what + " is truncated: " + len + " bytes declared, "
                    + in.readableBytes() + " left");
        }
        return len;
    }
}
