package io.sluice.protocol.frame;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.SeriesTable;

/**
 * BATCH: a sequence number and a records block of samples and events.
 *
 * <p>Ownership: a {@code Batch} owns its records buffer ({@link #content()}, always the uncompressed
 * block). The decoder hands a decoded batch to the next handler, which must {@link #release()} it once done
 * (or {@link #retain()} it to keep it past {@code channelRead}). The encoder releases a written batch.
 *
 * <p>A decoded batch carries the {@link SeriesTable} of its connection as it was after the batch, so
 * {@link #cursor()} can resolve series on any thread, however far the decoder has moved on.
 */
public final class Batch extends DefaultByteBufHolder implements ProtocolMessage {

    private final long sequence;
    private final SeriesTable series;
    private final int sampleCount;
    private final int eventCount;
    private final boolean compressed;

    /**
     * A batch of the records block {@code records} (ownership passes to the batch).
     *
     * @param series     the dictionary view its series ids refer to; null for a batch that is only encoded
     * @param compressed decoded: it arrived LZ4-compressed; to be encoded: compress it
     */
    public Batch(long sequence, ByteBuf records, SeriesTable series, int sampleCount, int eventCount, boolean compressed) {
        super(records);
        this.sequence = sequence;
        this.series = series;
        this.sampleCount = sampleCount;
        this.eventCount = eventCount;
        this.compressed = compressed;
    }

    /** A batch to send: {@code records} is a finished records block (ownership passes to the batch). */
    public static Batch outbound(long sequence, ByteBuf records, boolean compress) {
        int idx = records.readerIndex();
        return new Batch(sequence, records, null, records.getInt(idx), records.getInt(idx + 4), compress);
    }

    @Override
    public FrameType type() {
        return FrameType.BATCH;
    }

    /** The client's sequence number, echoed by ACK/NACK; stable across resends. */
    public long sequence() {
        return sequence;
    }

    /** Samples in the block. */
    public int sampleCount() {
        return sampleCount;
    }

    /** Events in the block. */
    public int eventCount() {
        return eventCount;
    }

    /** Decoded: whether it arrived compressed. To encode: whether to compress it. */
    public boolean compressed() {
        return compressed;
    }

    /** The series this batch's ids refer to (null for an outbound batch). */
    public SeriesTable series() {
        return series;
    }

    /** A new cursor over the records; the batch must stay unreleased while it is used. */
    public RecordCursor cursor() {
        return cursor(new RecordCursor());
    }

    /**
     * {@code reuse}, pointed at the records (see {@link RecordCursor#reset}); the batch must stay unreleased while it
     * is used.
     */
    public RecordCursor cursor(RecordCursor reuse) {
        if (series == null) {
            throw new IllegalStateException("an outbound batch has no series table to read with");
        }
        return reuse.reset(content(), series);
    }

    /** Bytes of the uncompressed records block (header included). */
    public int recordBytes() {
        return content().readableBytes();
    }


    @Override
    public Batch replace(ByteBuf content) {
        return new Batch(sequence, content, series, sampleCount, eventCount, compressed);
    }

    @Override
    public Batch copy() {
        return replace(content().copy());
    }

    @Override
    public Batch duplicate() {
        return replace(content().duplicate());
    }

    @Override
    public Batch retainedDuplicate() {
        return replace(content().retainedDuplicate());
    }

    @Override
    public Batch retain() {
        super.retain();
        return this;
    }

    @Override
    public Batch retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public Batch touch() {
        super.touch();
        return this;
    }

    @Override
    public Batch touch(Object hint) {
        super.touch(hint);
        return this;
    }

    @Override
    public String toString() {
        return "Batch[sequence=" + sequence + ", samples=" + sampleCount + ", events=" + eventCount
                + ", recordBytes=" + content().readableBytes() + ", compressed=" + compressed + ']';
    }
}
