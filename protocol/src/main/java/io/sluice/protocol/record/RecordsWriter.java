package io.sluice.protocol.record;

import io.netty.buffer.ByteBuf;
import io.sluice.protocol.codec.Utf8Strings;
import io.sluice.protocol.codec.Varints;

import java.util.Map;

/**
 * Appends a records block (header, then series definitions, samples and events) to a {@link ByteBuf}.
 *
 * <p>The one writer of the record encoding: the client uses it for batches, the gateway for segments. A
 * series is defined in the block the first time it is used, under the next id of the given dictionary;
 * a dictionary that outlives the block (a connection's) makes later blocks refer to it by id only.
 *
 * <p>Ownership: the writer never owns {@code out}; the caller allocates and releases it. Call
 * {@link #finish()} once, after the last record, to fill in the header.
 */
public final class RecordsWriter {

    private final ByteBuf out;
    private final SeriesDictionary dictionary;
    private final int headerIndex;
    /** Whether definitions go into the block; false for a staging block (see {@link #staging}). */
    private final boolean definitionsInBlock;
    /** A staging block's definitions: the bytes they would take in the block. */
    private int stagedDefinitionBytes;
    private int samples;
    private int events;
    private long previousTimestamp;
    private boolean started;

    /** Starts a block at {@code out}'s writer index, defining series in {@code dictionary}. */
    public RecordsWriter(ByteBuf out, SeriesDictionary dictionary) {
        this(out, dictionary, true);
    }

    private RecordsWriter(ByteBuf out, SeriesDictionary dictionary, boolean definitionsInBlock) {
        this.out = out;
        this.dictionary = dictionary;
        this.headerIndex = out.writerIndex();
        this.definitionsInBlock = definitionsInBlock;
        out.writeZero(RecordFormat.HEADER_BYTES);
    }

    /**
     * A writer of a staging block, which never goes out as it is: its series are defined in {@code dictionary} only,
     * not in the block, and it is read back with a {@link RecordCursor} over {@code dictionary.snapshot()} to be
     * copied ({@link #copyAll(RecordCursor, int[])}) into a block that does go out (the client stages a batch so,
     * then copies it into the block for its connection). Writing and later skipping each definition would cost
     * more than the samples; {@link #bytesWritten()} still counts the definitions.
     */
    public static RecordsWriter staging(ByteBuf out, SeriesDictionary dictionary) {
        return new RecordsWriter(out, dictionary, false);
    }

    /** The id of {@code series} in this block's dictionary, writing its definition first if it is new. */
    public int seriesId(Series series) {
        int id = dictionary.idOf(series);
        return id < 0 ? define(series) : id;
    }

    /**
     * Defines {@code series} under the next id without looking it up first, for a caller that keeps track of what this
     * block defines (a series defined twice in one block is legal, only longer); returns the id. Unlike
     * {@link #seriesId}, never builds the dictionary's index by value.
     */
    public int define(Series series) {
        int id = dictionary.add(series);
        if (!definitionsInBlock) {
            stagedDefinitionBytes += 1 + Varints.unsignedSize(id) + series.definitionBytes();
            return id;
        }
        out.ensureWritable(1 + Varints.MAX_VARINT_BYTES + series.definitionBytes());
        out.writeByte(RecordFormat.TAG_SERIES);
        Varints.writeUnsigned(out, id);
        series.writeDefinitionTo(out);
        return id;
    }

    /** Appends a sample of {@code series}. */
    public void addSample(Series series, long timestampMs, double value) {
        addSample(seriesId(series), timestampMs, value);
    }

    /**
     * Appends a sample of the series with dictionary id {@code seriesId}, which must come from
     * {@link #seriesId} of this writer (or an earlier writer on the same dictionary).
     */
    public void addSample(int seriesId, long timestampMs, double value) {
        out.ensureWritable(1 + Varints.MAX_VARINT_BYTES + Varints.MAX_VARLONG_BYTES + Double.BYTES);
        out.writeByte(RecordFormat.TAG_SAMPLE);
        Varints.writeUnsigned(out, seriesId);
        Varints.writeSigned(out, delta(timestampMs));
        out.writeLong(Double.doubleToRawLongBits(value));
        samples++;
    }

    /** Appends an event. */
    public void addEvent(Event event) {
        addEvent(event.id(), event.type(), event.timestampMs(), event.key(), event.attributes());
    }

    /** Appends an event without building an {@link Event} first. */
    public void addEvent(String id, String type, long timestampMs, String key, Map<String, String> attributes) {
        out.writeByte(RecordFormat.TAG_EVENT);
        Varints.writeSigned(out, delta(timestampMs));
        Utf8Strings.write(out, id);
        Utf8Strings.write(out, type);
        Utf8Strings.write(out, key);
        Varints.writeUnsigned(out, attributes.size());
        for (Map.Entry<String, String> e : attributes.entrySet()) {
            Utf8Strings.write(out, e.getKey());
            Utf8Strings.write(out, e.getValue());
        }
        events++;
    }

    /** Copies the record under {@code cursor} (a sample or an event) into this block, re-mapping its series. */
    public void copy(RecordCursor cursor) {
        if (cursor.isSample()) {
            addSample(seriesId(cursor.series()), cursor.timestampMs(), cursor.value());
        } else {
            // The event body after its timestamp is position-independent: copy it byte for byte.
            out.writeByte(RecordFormat.TAG_EVENT);
            Varints.writeSigned(out, delta(cursor.timestampMs()));
            cursor.writeEventBodyTo(out);
            events++;
        }
    }

    /** Copies every remaining record of {@code cursor}; returns how many were copied. */
    public int copyAll(RecordCursor cursor) {
        int n = 0;
        while (cursor.next()) {
            copy(cursor);
            n++;
        }
        return n;
    }

    /**
     * The ids in this writer's dictionary of the series of {@code table} (the table of a block to be copied
     * with {@link #copyAll(RecordCursor, int[])}), each looked up once: entry {@code i} is the id of
     * {@code table.get(i)} plus one, or 0 where the dictionary does not define it yet.
     */
    public int[] idsOf(SeriesTable table) {
        int[] ids = new int[table.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = dictionary.idOf(table.get(i)) + 1;
        }
        return ids;
    }

    /**
     * {@link #copyAll(RecordCursor)} for a block whose series were looked up by {@link #idsOf}: no sample is looked
     * up by value again, and a series marked 0 is defined the first time a record uses it (then {@code ids} is
     * updated). Returns how many records were copied.
     */
    public int copyAll(RecordCursor cursor, int[] ids) {
        int n = 0;
        while (cursor.next()) {
            if (cursor.isSample()) {
                int local = cursor.seriesId();
                int id = ids[local] - 1;
                if (id < 0) {
                    id = define(cursor.series());
                    ids[local] = id + 1;
                }
                addSample(id, cursor.timestampMs(), cursor.value());
            } else {
                copy(cursor);
            }
            n++;
        }
        return n;
    }

    private long delta(long timestampMs) {
        if (!started) {
            started = true;
            previousTimestamp = timestampMs;
            out.setLong(headerIndex + RecordFormat.BASE_TIMESTAMP_OFFSET, timestampMs);
        }
        long d = timestampMs - previousTimestamp;
        previousTimestamp = timestampMs;
        return d;
    }

    /** Samples written so far. */
    public int sampleCount() {
        return samples;
    }

    /** Events written so far. */
    public int eventCount() {
        return events;
    }

    /** Bytes of the block so far, header included (and, for a staging block, the definitions it leaves out). */
    public int bytesWritten() {
        return out.writerIndex() - headerIndex + stagedDefinitionBytes;
    }

    /** Fills in the header's counts. The block ends at {@code out}'s writer index. */
    public void finish() {
        out.setInt(headerIndex + RecordFormat.SAMPLE_COUNT_OFFSET, samples);
        out.setInt(headerIndex + RecordFormat.EVENT_COUNT_OFFSET, events);
    }
}
