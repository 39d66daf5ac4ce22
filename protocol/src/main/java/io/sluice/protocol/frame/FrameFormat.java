package io.sluice.protocol.frame;

/**
 * Layout constants of the frame header (SPEC.md, "Frames").
 *
 * <pre>
 *  offset  size  field
 *  0       4     length   unsigned 32-bit, big-endian: bytes of the payload that follows the header
 *  4       1     type     {@link FrameType} id
 *  5       1     flags    per type; bits a type does not define must be 0
 *  6       length payload
 * </pre>
 */
public final class FrameFormat {

    /** Bytes of the frame header. */
    public static final int HEADER_BYTES = 6;
    /** BATCH flag: the records block is LZ4-compressed ({@code uncompressedLength u32 | LZ4 block}). */
    public static final int FLAG_LZ4 = 0x01;
    /** Longest message text (in chars) senders put in NACK, GOAWAY and ERROR frames; longer text is cut. */
    public static final int MAX_MESSAGE_CHARS = 1000;

    private FrameFormat() {
    }

    static String truncate(String message) {
        return message.length() <= MAX_MESSAGE_CHARS ? message : message.substring(0, MAX_MESSAGE_CHARS);
    }
}
