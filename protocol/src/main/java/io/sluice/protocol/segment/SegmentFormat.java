package io.sluice.protocol.segment;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.codec.Varints;
import io.sluice.protocol.error.ProtocolException;

/**
 * Layout constants of a segment, the self-contained value of a Kafka record (SPEC.md, "Segments").
 *
 * <pre>
 *  offset  size  field
 *  0       4     magic    0x53 0x4C 0x53 0x47 ("SLSG")
 *  4       1     version  1
 *  5       1     flags    bit 0: the records block is LZ4-compressed; other bits 0
 *  6       ...   tenant   string (uvarint length + UTF-8), non-empty
 *  ...     ...   records  records block with its own dictionary (ids from 0), or, with bit 0,
 *                         uncompressedLength u32 + LZ4 block of it
 * </pre>
 */
public final class SegmentFormat {

    /** The magic bytes that open every segment. */
    public static final int MAGIC = 0x534C5347;
    /** The segment version this implementation writes and reads. */
    public static final int VERSION_1 = 1;
    /** Flag: the records block is LZ4-compressed. */
    public static final int FLAG_LZ4 = 0x01;
    /** Bytes before the tenant. */
    public static final int FIXED_HEADER_BYTES = 6;

    private SegmentFormat() {
    }

    /**
     * What the segment {@code value} holds once decoded, in bytes: the records block's announced
     * {@code uncompressedLength} for a compressed segment, otherwise the value's own length (also when the header
     * cannot be read: such a value is refused whole when decoded). Reads the header only; verifies nothing.
     */
    public static long decodedBytes(byte[] value) {
        if (value.length <= FIXED_HEADER_BYTES || (value[5] & FLAG_LZ4) == 0) {
            return value.length;
        }
        ByteBuf in = Unpooled.wrappedBuffer(value);
        try {
            in.readerIndex(FIXED_HEADER_BYTES);
            long tenantBytes = Varints.readUnsigned(in);
            if (tenantBytes < 0 || tenantBytes > in.readableBytes() - Integer.BYTES) { // unsigned: past 2^63 too
                return value.length;
            }
            return Math.max(value.length, in.getUnsignedInt(in.readerIndex() + (int) tenantBytes));
        } catch (ProtocolException malformed) {
            return value.length;
        } finally {
            in.release();
        }
    }
}
