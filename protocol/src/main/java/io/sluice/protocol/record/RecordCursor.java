package io.sluice.protocol.record;

import io.netty.buffer.ByteBuf;
import io.sluice.protocol.codec.Utf8Strings;
import io.sluice.protocol.codec.Varints;
import io.sluice.protocol.error.ErrorCode;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A flyweight reader over a validated records block: {@link #next()} moves to the next sample or event,
 * and the accessors read the current one. Walking samples allocates nothing: {@link #series()} returns the
 * dictionary's shared {@link Series}.
 *
 * <pre>{@code
 * RecordCursor c = batch.cursor();
 * while (c.next()) {
 *     if (c.isSample()) store(c.series(), c.timestampMs(), c.value());
 *     else store(c.event());
 * }
 * }</pre>
 *
 * <p>Only for blocks that passed {@link RecordBlocks#validate}; the cursor does not check again. It reads a
 * duplicate of the block, so it never moves the block's indices, and it does not own the block: the block's
 * owner (a {@code Batch} or {@code Segment}) must stay unreleased while the cursor is used. Not thread-safe.
 *
 * <p>A caller that walks many blocks on one thread keeps one cursor and points it at each block with
 * {@link #reset}; see there why the gateway's event loops and the storage writer do.
 */
public final class RecordCursor {

    private static final int NONE = 0;
    private static final int SAMPLE = 1;
    private static final int EVENT = 2;

    private ByteBuf in;
    /** The block as one region, to skip definitions in: index k of {@code in} is the view's k + viewShift. */
    private java.nio.ByteBuffer view;
    private int viewShift;
    /** The view's index after the block's last byte. */
    private int viewEnd;
    /** The view's index of the next record. */
    private int pos;
    private SeriesTable table;
    private long timestamp;
    private int kind = NONE;
    private int seriesId;
    private double value;
    private int eventBodyStart;
    private int eventBodyEnd;

    /** A cursor over the readable bytes of {@code block}, whose series ids refer to {@code table}. */
    public RecordCursor(ByteBuf block, SeriesTable table) {
        reset(block, table);
    }

    /** A cursor over no block: {@link #next()} is false until {@link #reset} points it at one. */
    public RecordCursor() {
    }

    /**
     * Points this cursor at the readable bytes of {@code block}, whose series ids refer to {@code table}, before its
     * first record; returns this cursor.
     *
     * <p>A cursor kept and reset, rather than a new one for each block, is never scalar-replaced by C2. HotSpot
     * 17.0.15 crashed the gateway three times (SIGSEGV in {@code Deoptimization::reassign_fields}, under binary
     * load) when it deoptimized a method of {@code BatchChecks} that walked a new cursor, rebuilding the cursor and
     * the buffers it holds from the compiled frame. A kept cursor is a plain object on the heap, with nothing to
     * rebuild.
     */
    public RecordCursor reset(ByteBuf block, SeriesTable table) {
        ByteBuf duplicate = block.duplicate();
        java.nio.ByteBuffer v = RecordBlocks.view(duplicate);
        this.in = duplicate;
        this.view = v;
        this.viewShift = v.position() - duplicate.readerIndex();
        this.table = table;
        duplicate.skipBytes(RecordFormat.BASE_TIMESTAMP_OFFSET);
        this.timestamp = duplicate.readLong();
        this.pos = duplicate.readerIndex() + viewShift;
        this.viewEnd = duplicate.writerIndex() + viewShift;
        this.kind = NONE;
        return this;
    }

    /**
     * Moves to the next sample or event; false at the end of the block. Samples and definitions are read from the
     * view with absolute gets: a {@code ByteBuf} read walks a chain of calls and checks (a duplicate of a pooled
     * buffer: three classes and a reference-count check for each varint), and this runs for every sample the gateway
     * takes and the writer stores. Events, rare, are read through the buffer.
     */
    public boolean next() {
        java.nio.ByteBuffer v = view;
        int end = viewEnd;
        while (pos < end) {
            byte tag = v.get(pos++);
            if (tag == RecordFormat.TAG_SAMPLE) {
                seriesId = (int) readVarint();
                long zigzag = readVarint();
                timestamp += (zigzag >>> 1) ^ -(zigzag & 1);
                value = Double.longBitsToDouble(Long.reverseBytes(v.getLong(pos))); // big-endian on the wire
                pos += Double.BYTES;
                kind = SAMPLE;
                return true;
            } else if (tag == RecordFormat.TAG_SERIES) {
                // Already applied to the dictionary by validation: skip it.
                readVarint();
                skipDefinition();
            } else {
                in.readerIndex(pos - viewShift);
                timestamp += Varints.readSigned(in);
                eventBodyStart = in.readerIndex();
                skipString();
                skipString();
                skipString();
                long attrs = Varints.readUnsigned(in);
                for (long i = 0; i < attrs; i++) {
                    skipString();
                    skipString();
                }
                eventBodyEnd = in.readerIndex();
                pos = eventBodyEnd + viewShift;
                kind = EVENT;
                return true;
            }
        }
        kind = NONE;
        return false;
    }

    /**
     * The unsigned varint at {@link #pos} (well formed: the block was validated), moving past it. Most are one or two
     * bytes (series ids, timestamp deltas), decoded from one eight-byte read where eight bytes remain.
     */
    private long readVarint() {
        int p = pos;
        java.nio.ByteBuffer v = view;
        if (viewEnd - p >= Long.BYTES) {
            long word = v.getLong(p); // the view is little-endian: the varint's first byte is the lowest
            if ((word & 0x80) == 0) {
                pos = p + 1;
                return word & 0x7F;
            }
            if ((word & 0x8000) == 0) {
                pos = p + 2;
                return (word & 0x7F) | (word >>> 1 & 0x3F80);
            }
        }
        long result = 0;
        for (int shift = 0; ; shift += 7) {
            byte b = v.get(p++);
            result |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                pos = p;
                return result;
            }
        }
    }

    /** Skips a validated definition after its id: on one region, found by one walk over its bytes. */
    private void skipDefinition() {
        int length = RecordBlocks.definitionLength(view, pos, viewEnd, Integer.MAX_VALUE, Integer.MAX_VALUE);
        if (length >= 0) {
            pos += length;
            return;
        }
        // a string of 2^28 bytes or more, which the walk does not take (a validated block may hold one only if its
        // limits allow it)
        in.readerIndex(pos - viewShift);
        skipString();
        long labels = Varints.readUnsigned(in);
        for (long i = 0; i < labels; i++) {
            skipString();
            skipString();
        }
        pos = in.readerIndex() + viewShift;
    }

    private void skipString() {
        Utf8Strings.skipTrusted(in);
    }

    /** Whether the current record is a sample. */
    public boolean isSample() {
        return kind == SAMPLE;
    }

    /** Whether the current record is an event. */
    public boolean isEvent() {
        return kind == EVENT;
    }

    /** The current record's timestamp in milliseconds since the epoch. */
    public long timestampMs() {
        return timestamp;
    }

    /** The current sample's series id in the block's dictionary. */
    public int seriesId() {
        return seriesId;
    }

    /** The current sample's series. */
    public Series series() {
        return table.get(seriesId);
    }

    /** The current sample's value. */
    public double value() {
        return value;
    }

    /** The current event, decoded into a new object. */
    public Event event() {
        if (kind != EVENT) {
            throw new IllegalStateException("the current record is not an event");
        }
        ByteBuf body = in.slice(eventBodyStart, eventBodyEnd - eventBodyStart);
        String id = Utf8Strings.read(body, Integer.MAX_VALUE, "event id", ErrorCode.INVALID_RECORD);
        String type = Utf8Strings.read(body, Integer.MAX_VALUE, "event type", ErrorCode.INVALID_RECORD);
        String key = Utf8Strings.read(body, Integer.MAX_VALUE, "event key", ErrorCode.INVALID_RECORD);
        int n = (int) Varints.readUnsigned(body);
        Map<String, String> attrs = new LinkedHashMap<>(Math.max(4, n * 2));
        for (int i = 0; i < n; i++) {
            String k = Utf8Strings.read(body, Integer.MAX_VALUE, "attribute key", ErrorCode.INVALID_RECORD);
            attrs.put(k, Utf8Strings.read(body, Integer.MAX_VALUE, "attribute value", ErrorCode.INVALID_RECORD));
        }
        return new Event(id, type, timestamp, key, attrs);
    }

    /** Copies the current event's bytes after its timestamp (id, type, key, attributes) to {@code out}. */
    void writeEventBodyTo(ByteBuf out) {
        out.writeBytes(in, eventBodyStart, eventBodyEnd - eventBodyStart);
    }
}
