package io.sluice.protocol.codec;

import io.netty.buffer.ByteBuf;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.error.ProtocolException;

/**
 * Unsigned LEB128 varints and zig-zag signed varints on a {@link ByteBuf}, as used by the record encoding.
 *
 * <p>A varint is at most {@value #MAX_VARLONG_BYTES} bytes and uses no more bytes than its value needs
 * (SPEC.md: a last byte {@code 0x00} after a continuation byte is an overlong encoding). A longer,
 * overlong or overflowing one, or one that runs past the end of the readable bytes, is rejected with
 * {@link ErrorCode#INVALID_RECORD} rather than read as garbage; so every value has exactly one encoding,
 * and a series' canonical definition (whose fingerprint keys it) exactly one byte form.
 */
public final class Varints {

    /** The longest encoding of a 64-bit value. */
    public static final int MAX_VARLONG_BYTES = 10;
    /** The longest encoding of a 32-bit value. */
    public static final int MAX_VARINT_BYTES = 5;

    private Varints() {
    }

    /** Writes {@code value} as an unsigned varint (the bits of a negative value are written as unsigned). */
    public static void writeUnsigned(ByteBuf out, long value) {
        // The common cases (dictionary ids, small deltas) are one or two bytes: write those without a loop.
        if ((value & ~0x7FL) == 0) {
            out.writeByte((int) value);
            return;
        }
        if ((value & ~0x3FFFL) == 0) {
            out.writeShort((int) (((value & 0x7F) | 0x80) << 8 | (value >>> 7)));
            return;
        }
        while ((value & ~0x7FL) != 0) {
            out.writeByte((int) ((value & 0x7F) | 0x80));
            value >>>= 7;
        }
        out.writeByte((int) value);
    }

    /** Writes {@code value} zig-zag encoded, so that small negative numbers stay short. */
    public static void writeSigned(ByteBuf out, long value) {
        writeUnsigned(out, (value << 1) ^ (value >> 63));
    }

    /** The number of bytes {@link #writeUnsigned} uses for {@code value}. */
    public static int unsignedSize(long value) {
        int bits = 64 - Long.numberOfLeadingZeros(value | 1);
        return (bits + 6) / 7;
    }

    /** Reads an unsigned varint of at most 64 bits. */
    public static long readUnsigned(ByteBuf in) {
        int idx = in.readerIndex();
        if (!in.hasArray() && in.writerIndex() - idx >= Long.BYTES) {
            // Eight bytes in one read, the varint decoded from them in registers: on a direct or pooled buffer (often
            // derived) every ByteBuf access walks a chain of checks, and most varints here are two bytes (series ids
            // past 127). A heap buffer's getByte is an array access, which the byte-wise read is faster with.
            long word = in.getLongLE(idx);
            if ((word & 0x80) == 0) {
                in.readerIndex(idx + 1);
                return word & 0x7F;
            }
            long stops = ~word & 0x8080808080808080L; // a byte without the continuation bit ends the varint
            if (stops != 0) {
                int length = (Long.numberOfTrailingZeros(stops) >>> 3) + 1;
                // a last byte 0x00 is an overlong encoding: the byte-wise read below says so
                if (((word >>> ((length - 1) << 3)) & 0xFF) != 0) {
                    long result = 0;
                    for (int i = 0; i < length; i++) {
                        result |= ((word >>> (i << 3)) & 0x7F) << (7 * i);
                    }
                    in.readerIndex(idx + length);
                    return result;
                }
            }
        }
        return readUnsignedBytewise(in, idx);
    }

    /** {@link #readUnsigned} a byte at a time: near the end of the readable bytes, for long or malformed varints. */
    private static long readUnsignedBytewise(ByteBuf in, int idx) {
        int end = in.writerIndex();
        long result = 0;
        for (int shift = 0, i = 0; i < MAX_VARLONG_BYTES; i++, shift += 7) {
            if (idx >= end) {
                throw new ProtocolException(ErrorCode.INVALID_RECORD, "truncated varint");
            }
            byte b = in.getByte(idx++);
            if (i == MAX_VARLONG_BYTES - 1 && (b & 0xFE) != 0) {
                throw new ProtocolException(ErrorCode.INVALID_RECORD, "varint overflows 64 bits");
            }
            result |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                if (b == 0 && i > 0) {
                    throw new ProtocolException(ErrorCode.INVALID_RECORD, "overlong varint (" + (i + 1)
                            + " bytes, the last one 0x00)");
                }
                in.readerIndex(idx);
                return result;
            }
        }
        throw new ProtocolException(ErrorCode.INVALID_RECORD, "varint longer than " + MAX_VARLONG_BYTES + " bytes");
    }

    /** Reads a zig-zag encoded signed varint. */
    public static long readSigned(ByteBuf in) {
        long raw = readUnsigned(in);
        return (raw >>> 1) ^ -(raw & 1);
    }

    /**
     * Reads an unsigned varint that must be at most {@code max} (a count, a length or an id).
     *
     * @param what names the field in the error message
     * @param overLimit the code to answer when the value is well-formed but above {@code max}
     */
    public static int readBounded(ByteBuf in, int max, String what, ErrorCode overLimit) {
        return readBounded(in, max, what, "", overLimit);
    }

    /**
     * The same, naming the value {@code what + suffix} in the error: callers on hot paths pass the two
     * parts so that the name is only built when the value is refused.
     */
    public static int readBounded(ByteBuf in, int max, String what, String suffix, ErrorCode overLimit) {
        long v = readUnsigned(in);
        if (v > max || v < 0) {
            throw new ProtocolException(overLimit, what + suffix + ": " + Long.toUnsignedString(v)
                    + " (expected: <= " + max + ")");
        }
        return (int) v;
    }
}
