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
    /**
     * Longest message text, in UTF-8 bytes, senders put in NACK, GOAWAY and ERROR frames; longer text is
     * cut at the last whole character that fits.
     */
    public static final int MAX_MESSAGE_BYTES = 1000;

    private FrameFormat() {
    }

    static String truncate(String message) {
        if (message.length() * 3L <= MAX_MESSAGE_BYTES) {
            return message;
        }
        int bytes = 0;
        for (int i = 0; i < message.length(); ) {
            int cp = message.codePointAt(i);
            // A lone surrogate is written as '?' (1 byte) by the encoder.
            int size = cp < 0x80 || Character.isSurrogate((char) cp) ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (bytes + size > MAX_MESSAGE_BYTES) {
                return message.substring(0, i);
            }
            bytes += size;
            i += Character.charCount(cp);
        }
        return message;
    }
}
