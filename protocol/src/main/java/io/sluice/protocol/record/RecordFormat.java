package io.sluice.protocol.record;

/**
 * Constants of the record encoding shared by BATCH payloads and Kafka segment values (SPEC.md, "Records").
 *
 * <pre>
 * records block := header entry*
 * header        := sampleCount u32 | eventCount u32 | baseTimestampMs i64          (16 bytes, big-endian)
 * entry         := SERIES  0x01 | id uvarint | name string | labelCount uvarint | (key string | value string)*
 *                | SAMPLE  0x02 | seriesId uvarint | tsDelta zigzag-varint | value float64
 *                | EVENT   0x03 | tsDelta zigzag-varint | id string | type string | key string
 *                                | attrCount uvarint | (key string | value string)*
 * </pre>
 */
public final class RecordFormat {

    /** Bytes of the fixed block header. */
    public static final int HEADER_BYTES = 16;
    /** Entry tag: defines the next series id of the block's dictionary. */
    public static final byte TAG_SERIES = 0x01;
    /** Entry tag: one metric sample. */
    public static final byte TAG_SAMPLE = 0x02;
    /** Entry tag: one event. */
    public static final byte TAG_EVENT = 0x03;

    static final int SAMPLE_COUNT_OFFSET = 0;
    static final int EVENT_COUNT_OFFSET = 4;
    static final int BASE_TIMESTAMP_OFFSET = 8;

    private RecordFormat() {
    }
}
