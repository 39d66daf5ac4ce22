package io.sluice.protocol.segment;

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
}
