package io.sluice.protocol.segment;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.sluice.protocol.codec.Lz4Blocks;
import io.sluice.protocol.codec.Utf8Strings;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.RecordsWriter;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.record.SeriesDictionary;

import java.util.Map;
import java.util.Objects;

/**
 * Builds one segment: a tenant and a records block with its own series dictionary, ready to be a Kafka
 * record value. It writes with the same {@link RecordsWriter} as the client writes BATCH payloads.
 *
 * <p>Turning a decoded wire batch into a segment is {@link #addBatch}: one pass over the batch that copies
 * each sample's id, timestamp and value (re-mapping the connection's series ids to the segment's) and each
 * event's bytes, with no object per sample. To split a batch by Kafka partition, walk its cursor and
 * {@link #copy} each record into the writer of its partition (by {@link Series#fingerprint()}).
 *
 * <p>Ownership: the writer owns its buffer until {@link #finish()}, which hands it to the caller; closing an
 * unfinished writer releases it. Not thread-safe.
 */
public final class SegmentWriter implements AutoCloseable {

    private final ByteBufAllocator alloc;
    private final String tenant;
    private final boolean compress;
    private ByteBuf buf;
    private final RecordsWriter records;

    private SegmentWriter(ByteBufAllocator alloc, String tenant, boolean compress, int initialCapacity) {
        this.alloc = alloc;
        this.tenant = tenant;
        this.compress = compress;
        this.buf = alloc.buffer(initialCapacity);
        if (!compress) {
            writeHeader(buf, 0);
        }
        this.records = new RecordsWriter(buf, new SeriesDictionary());
    }

    /**
     * Starts a segment for {@code tenant}.
     *
     * @param compress whether to LZ4-compress the records (leave false when the Kafka producer compresses)
     */
    public static SegmentWriter create(ByteBufAllocator alloc, String tenant, boolean compress) {
        return create(alloc, tenant, compress, 4096);
    }

    /** As {@link #create(ByteBufAllocator, String, boolean)} with a buffer size hint. */
    public static SegmentWriter create(ByteBufAllocator alloc, String tenant, boolean compress, int initialCapacity) {
        Objects.requireNonNull(alloc, "alloc");
        Objects.requireNonNull(tenant, "tenant");
        if (tenant.isEmpty()) {
            throw new IllegalArgumentException("tenant: \"\" (expected: non-empty)");
        }
        return new SegmentWriter(alloc, tenant, compress, initialCapacity);
    }

    private void writeHeader(ByteBuf out, int flags) {
        out.writeInt(SegmentFormat.MAGIC);
        out.writeByte(SegmentFormat.VERSION_1);
        out.writeByte(flags);
        Utf8Strings.write(out, tenant);
    }

    /** Appends a sample. */
    public void addSample(Series series, long timestampMs, double value) {
        records.addSample(series, timestampMs, value);
    }

    /**
     * Defines {@code series} in this segment under a new id without looking it up, for a caller that knows it is not
     * defined here yet (see {@link RecordsWriter#define}).
     */
    public int define(Series series) {
        return records.define(series);
    }

    /** Appends a sample of the series with id {@code seriesId} from {@link #define} of this segment. */
    public void addSample(int seriesId, long timestampMs, double value) {
        records.addSample(seriesId, timestampMs, value);
    }

    /** Appends an event. */
    public void addEvent(Event event) {
        records.addEvent(event);
    }

    /** Appends an event without building an {@link Event}. */
    public void addEvent(String id, String type, long timestampMs, String key, Map<String, String> attributes) {
        records.addEvent(id, type, timestampMs, key, attributes);
    }

    /** Copies the record under {@code cursor} (from a batch or another segment). */
    public void copy(RecordCursor cursor) {
        records.copy(cursor);
    }

    /** Copies every record of a decoded batch; the batch is not released. Returns the records copied. */
    public int addBatch(Batch batch) {
        return records.copyAll(batch.cursor());
    }

    /** Samples so far. */
    public int sampleCount() {
        return records.sampleCount();
    }

    /** Events so far. */
    public int eventCount() {
        return records.eventCount();
    }

    /** Uncompressed bytes of the records so far (to cut segments by size). */
    public int recordBytes() {
        return records.bytesWritten();
    }

    /** Finishes the segment and hands its buffer to the caller, who must release it. */
    public ByteBuf finish() {
        if (buf == null) {
            throw new IllegalStateException("already finished");
        }
        records.finish();
        ByteBuf block = buf;
        buf = null;
        if (!compress) {
            return block;
        }
        try {
            ByteBuf out = alloc.buffer(64 + block.readableBytes() / 2);
            try {
                writeHeader(out, SegmentFormat.FLAG_LZ4);
                Lz4Blocks.compress(block, out);
                return out;
            } catch (RuntimeException e) {
                out.release();
                throw e;
            }
        } finally {
            block.release();
        }
    }

    /** Releases the buffer of an unfinished segment; does nothing after {@link #finish()}. */
    @Override
    public void close() {
        if (buf != null) {
            buf.release();
            buf = null;
        }
    }
}
