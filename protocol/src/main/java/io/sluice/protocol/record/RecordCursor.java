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
 */
public final class RecordCursor {

    private static final int NONE = 0;
    private static final int SAMPLE = 1;
    private static final int EVENT = 2;

    private final ByteBuf in;
    /** The block as one region, to skip definitions in: index k of {@code in} is the view's k + viewShift. */
    private final java.nio.ByteBuffer view;
    private final int viewShift;
    private final SeriesTable table;
    private long timestamp;
    private int kind = NONE;
    private int seriesId;
    private double value;
    private int eventBodyStart;
    private int eventBodyEnd;

    /** A cursor over the readable bytes of {@code block}, whose series ids refer to {@code table}. */
    public RecordCursor(ByteBuf block, SeriesTable table) {
        this.in = block.duplicate();
        this.view = RecordBlocks.view(in);
        this.viewShift = view.position() - in.readerIndex();
        this.table = table;
        in.skipBytes(RecordFormat.BASE_TIMESTAMP_OFFSET);
        this.timestamp = in.readLong();
    }

    /** Moves to the next sample or event; false at the end of the block. */
    public boolean next() {
        ByteBuf in = this.in;
        while (in.isReadable()) {
            byte tag = in.readByte();
            if (tag == RecordFormat.TAG_SAMPLE) {
                seriesId = (int) Varints.readUnsigned(in);
                timestamp += Varints.readSigned(in);
                value = Double.longBitsToDouble(in.readLong());
                kind = SAMPLE;
                return true;
            } else if (tag == RecordFormat.TAG_SERIES) {
                // Already applied to the dictionary by validation: skip it.
                Varints.readUnsigned(in);
                skipDefinition();
            } else {
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
                kind = EVENT;
                return true;
            }
        }
        kind = NONE;
        return false;
    }

    /** Skips a validated definition after its id: on one region, found by one walk over its bytes. */
    private void skipDefinition() {
        int length = RecordBlocks.definitionLength(view, in.readerIndex() + viewShift, in.writerIndex() + viewShift,
                Integer.MAX_VALUE, Integer.MAX_VALUE);
        if (length >= 0) {
            in.skipBytes(length);
            return;
        }
        // a string of 2^28 bytes or more, which the walk does not take (a validated block may hold one only if its
        // limits allow it)
        skipString();
        long labels = Varints.readUnsigned(in);
        for (long i = 0; i < labels; i++) {
            skipString();
            skipString();
        }
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
