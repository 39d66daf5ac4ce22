package io.sluice.protocol.preface;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * The connection preface a client sends before its first frame: four magic bytes and a protocol version.
 *
 * <pre>
 *  offset  size  field
 *  0       4     magic   0x89 0x53 0x4C 0x55  ("\x89SLU")
 *  4       2     version unsigned 16-bit, big-endian; 0x0001 for v1
 * </pre>
 *
 * <p>The first magic byte 0x89 has its high bit set, so it is neither a letter that begins an HTTP method
 * ({@code GET}, {@code POST}, {@code PRI} of HTTP/2, ...) nor a TLS record type (20..23). That one byte
 * decides (SPEC.md §1): a connection whose first byte is 0x89 is binary, and the binary decoder then
 * checks the rest of the magic, answering ERROR PROTOCOL_ERROR when it is wrong; any other first byte is
 * not binary. {@link #detect} therefore never needs more than {@value #DETECTION_BYTES} byte, well inside
 * the 5 bytes Netty's {@code SslHandler.isEncrypted} needs.
 */
public final class Preface {

    /** The magic bytes that open every binary connection. */
    private static final byte[] MAGIC = {(byte) 0x89, 'S', 'L', 'U'};
    /** How many readable bytes {@link #detect} needs to decide: the first byte alone. */
    public static final int DETECTION_BYTES = 1;
    /** Bytes of the magic. */
    public static final int MAGIC_BYTES = 4;
    /** The whole preface: magic and version. */
    public static final int LENGTH = 6;
    /** Protocol version 1, the version this implementation speaks. */
    public static final int VERSION_1 = 1;
    /** The highest version this implementation speaks. */
    public static final int CURRENT_VERSION = VERSION_1;

    private Preface() {
    }

    /**
     * Tells whether the readable bytes of {@code in} begin a Sluice binary connection, without changing
     * its indices: {@link PrefaceDetection#BINARY} when the first byte is the magic's 0x89 (whether the
     * rest of the magic is right is {@link #read}'s business), {@link PrefaceDetection#NOT_BINARY} for any
     * other first byte, {@link PrefaceDetection#NEED_MORE_BYTES} when nothing is readable.
     */
    public static PrefaceDetection detect(ByteBuf in) {
        if (!in.isReadable()) {
            return PrefaceDetection.NEED_MORE_BYTES;
        }
        return in.getByte(in.readerIndex()) == MAGIC[0] ? PrefaceDetection.BINARY : PrefaceDetection.NOT_BINARY;
    }

    /** Shorthand for {@code detect(in) == BINARY}. */
    public static boolean isBinary(ByteBuf in) {
        return detect(in) == PrefaceDetection.BINARY;
    }

    /** Writes the preface for {@code version}. */
    public static void write(ByteBuf out, int version) {
        out.writeBytes(MAGIC);
        out.writeShort(version);
    }

    /** A new unpooled buffer holding the preface for {@code version}; the caller owns it. */
    public static ByteBuf encode(int version) {
        ByteBuf buf = Unpooled.buffer(LENGTH, LENGTH);
        write(buf, version);
        return buf;
    }

    /**
     * Reads a preface if {@link #LENGTH} bytes are readable.
     *
     * @return the version, {@link #INCOMPLETE} if fewer than {@link #LENGTH} bytes are readable and those
     *     match the magic so far, or {@link #BAD_MAGIC} as soon as a byte differs from the magic (the
     *     reader index then does not move)
     */
    public static int read(ByteBuf in) {
        int readable = Math.min(in.readableBytes(), MAGIC_BYTES);
        int start = in.readerIndex();
        for (int i = 0; i < readable; i++) {
            if (in.getByte(start + i) != MAGIC[i]) {
                return BAD_MAGIC;
            }
        }
        if (in.readableBytes() < LENGTH) {
            return INCOMPLETE;
        }
        in.skipBytes(MAGIC_BYTES);
        return in.readUnsignedShort();
    }

    /** {@link #read} result: not enough bytes yet. */
    public static final int INCOMPLETE = -1;
    /** {@link #read} result: the bytes are not the magic. */
    public static final int BAD_MAGIC = -2;
}
