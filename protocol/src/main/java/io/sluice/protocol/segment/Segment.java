package io.sluice.protocol.segment;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.codec.Lz4Blocks;
import io.sluice.protocol.codec.Utf8Strings;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.error.ProtocolException;
import io.sluice.protocol.record.RecordBlocks;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.RecordLimits;
import io.sluice.protocol.record.SeriesDefinitions;
import io.sluice.protocol.record.SeriesDictionary;
import io.sluice.protocol.record.SeriesTable;

/**
 * A decoded segment, as the storage writer reads it: the tenant, the counts, and a {@link RecordCursor} over
 * samples (series name, labels, timestamp, value) and events.
 *
 * <pre>{@code
 * try (Segment s = Segment.decode(kafkaRecord.value())) {
 *     RecordCursor c = s.cursor();
 *     while (c.next()) { ... }
 * }
 * }</pre>
 *
 * <p>{@link #decode} checks the whole segment before returning (bad magic, version, varints, series
 * references, counts, LZ4), so a segment either decodes completely or throws a {@link ProtocolException}
 * naming the problem. Ownership: decoding does not take the input; the segment holds its own reference to
 * the records (a retained slice, or the decompressed block) and {@link #close()} releases it.
 */
public final class Segment implements AutoCloseable {

    private final String tenant;
    private final boolean compressed;
    private final ByteBuf block;
    private final SeriesTable series;
    private final int sampleCount;
    private final int eventCount;
    private boolean closed;

    private Segment(String tenant, boolean compressed, ByteBuf block, SeriesTable series, int samples, int events) {
        this.tenant = tenant;
        this.compressed = compressed;
        this.block = block;
        this.series = series;
        this.sampleCount = samples;
        this.eventCount = events;
    }

    /** Decodes a segment from a Kafka record value, with default limits. */
    public static Segment decode(byte[] value) {
        return decode(value, null);
    }

    /**
     * The same, sharing {@code definitions} (may be null) with the other segments decoded with it: a series defined
     * in an earlier one is taken from there rather than decoded again (see {@link SeriesDefinitions}).
     */
    public static Segment decode(byte[] value, SeriesDefinitions definitions) {
        ByteBuf wrapped = Unpooled.wrappedBuffer(value);
        try {
            return decode(wrapped, RecordLimits.DEFAULTS, ByteBufAllocator.DEFAULT, definitions);
        } finally {
            wrapped.release();
        }
    }

    /**
     * Decodes the readable bytes of {@code value} (whose indices are not changed and which stays the caller's).
     *
     * @param alloc allocates the decompressed block of an LZ4 segment
     * @throws ProtocolException if the segment is malformed or over a limit
     */
    public static Segment decode(ByteBuf value, RecordLimits limits, ByteBufAllocator alloc) {
        return decode(value, limits, alloc, null);
    }

    /**
     * The same, sharing {@code definitions} (may be null; use one per {@code limits}) with the other segments decoded
     * with it.
     */
    public static Segment decode(ByteBuf value, RecordLimits limits, ByteBufAllocator alloc,
                                 SeriesDefinitions definitions) {
        ByteBuf in = value.duplicate();
        if (in.readableBytes() < SegmentFormat.FIXED_HEADER_BYTES) {
            throw new ProtocolException(ErrorCode.INVALID_RECORD, "segment: " + in.readableBytes() + " bytes (expected: >= "
                    + SegmentFormat.FIXED_HEADER_BYTES + ")");
        }
        if (in.readInt() != SegmentFormat.MAGIC) {
            throw new ProtocolException(ErrorCode.INVALID_RECORD, "bad segment magic");
        }
        int version = in.readUnsignedByte();
        if (version != SegmentFormat.VERSION_1) {
            throw new ProtocolException(ErrorCode.UNSUPPORTED_VERSION,
                    "segment version " + version + " (supported: " + SegmentFormat.VERSION_1 + ")");
        }
        int flags = in.readUnsignedByte();
        if ((flags & ~SegmentFormat.FLAG_LZ4) != 0) {
            throw new ProtocolException(ErrorCode.INVALID_RECORD, "unknown segment flags 0x" + Integer.toHexString(flags));
        }
        String tenant = Utf8Strings.read(in, limits.maxStringBytes(), "tenant", ErrorCode.INVALID_RECORD);
        if (tenant.isEmpty()) {
            throw new ProtocolException(ErrorCode.INVALID_RECORD, "tenant is empty");
        }
        boolean lz4 = (flags & SegmentFormat.FLAG_LZ4) != 0;
        ByteBuf block;
        if (lz4) {
            if (in.readableBytes() < Integer.BYTES) {
                throw new ProtocolException(ErrorCode.INVALID_RECORD, "segment is truncated before its LZ4 length");
            }
            long declared = in.readUnsignedInt();
            if (declared > limits.maxBlockBytes()) {
                throw new ProtocolException(ErrorCode.FRAME_TOO_LARGE, "segment decompresses to " + declared
                        + " bytes (expected: <= " + limits.maxBlockBytes() + "; raise maxBlockBytes)");
            }
            block = Lz4Blocks.decompress(in, (int) declared, alloc);
        } else {
            // the readable bytes named: a pooled slice's duplicate (PooledNonRetainedSlicedByteBuf) answers the
            // no-argument retainedSlice() with its whole capacity, the segment's header included
            block = in.retainedSlice(in.readerIndex(), in.readableBytes());
        }
        try {
            SeriesDictionary dictionary = new SeriesDictionary(dictionaryCapacity(block, limits));
            RecordBlocks.Counts counts = RecordBlocks.validate(block, dictionary, limits, definitions);
            return new Segment(tenant, lz4, block, dictionary.snapshot(), counts.samples(), counts.events());
        } catch (RuntimeException e) {
            block.release();
            throw e;
        }
    }

    /**
     * Room for as many series as the block declares samples (a gateway's segment defines about one series per sample),
     * within the limits and never more than {@link #DICTIONARY_CAPACITY_CAP}: an untrusted count only sizes an array.
     */
    private static int dictionaryCapacity(ByteBuf block, RecordLimits limits) {
        long declared = block.readableBytes() < Integer.BYTES ? 0 : block.getUnsignedInt(block.readerIndex());
        return (int) Math.max(16, Math.min(declared, Math.min(limits.maxSeriesPerDictionary(), DICTIONARY_CAPACITY_CAP)));
    }

    private static final int DICTIONARY_CAPACITY_CAP = 4096;

    /** The tenant the records belong to. */
    public String tenant() {
        return tenant;
    }

    /** Whether the records were LZ4-compressed. */
    public boolean compressed() {
        return compressed;
    }

    /** Samples in the segment. */
    public int sampleCount() {
        return sampleCount;
    }

    /** Events in the segment. */
    public int eventCount() {
        return eventCount;
    }

    /** The segment's series dictionary, id by id. */
    public SeriesTable series() {
        return series;
    }

    /** A new cursor over the records; valid until {@link #close()}. */
    public RecordCursor cursor() {
        return new RecordCursor(block, series);
    }

    /** {@code reuse}, pointed at the records (see {@link RecordCursor#reset}); valid until {@link #close()}. */
    public RecordCursor cursor(RecordCursor reuse) {
        return reuse.reset(block, series);
    }

    /** Releases the records buffer. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            block.release();
        }
    }
}
