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
 *
 * <p>Strings must be well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF). Malformed bytes are refused, never replaced by U+FFFD (SPEC.md, "Conventions"): what is
 * stored, and what a series fingerprint is computed from, is exactly the bytes that were sent, and two
 * different byte strings never decode to the same text.
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
     * @param malformed the code to answer for a string that runs past the end of the input or is not
     *                  well-formed UTF-8
     */
    public static String read(ByteBuf in, int maxBytes, String what, ErrorCode malformed) {
        int len = readLength(in, maxBytes, what, malformed);
        String s = in.toString(in.readerIndex(), len, StandardCharsets.UTF_8);
        if (s.indexOf('\uFFFD') >= 0) {
            // The decoder replaced something, unless the sender really wrote U+FFFD (EF BF BD): ask the strict check.
            checkUtf8(in, len, what, malformed);
        }
        in.skipBytes(len);
        return s;
    }

    /** Skips a string after checking its length and its UTF-8, returning the byte length of its content. */
    public static int skip(ByteBuf in, int maxBytes, String what, ErrorCode malformed) {
        int len = readLength(in, maxBytes, what, malformed);
        checkUtf8(in, len, what, malformed);
        in.skipBytes(len);
        return len;
    }

    /**
     * Skips a string of input that already passed {@link #skip} or {@link #read} (a validated records
     * block): no limit and no UTF-8 check, so walking a block twice costs its checks once.
     */
    public static void skipTrusted(ByteBuf in) {
        in.skipBytes((int) Varints.readUnsigned(in));
    }

    private static void checkUtf8(ByteBuf in, int len, String what, ErrorCode malformed) {
        if (!ByteBufUtil.isText(in, in.readerIndex(), len, StandardCharsets.UTF_8)) {
            throw new ProtocolException(malformed, what + " is not well-formed UTF-8 (" + len + " bytes)");
        }
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
