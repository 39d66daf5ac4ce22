package io.sluice.protocol.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.RecordsWriter;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.record.SeriesDictionary;
import io.sluice.protocol.record.SeriesTable;

import java.util.Map;

/**
 * Samples and events to send together, acknowledged together: build one with
 * {@link SluiceClient#newBatch()}, add records, then {@link SluiceClient#send} it.
 *
 * <p>Records are encoded as they are added, into a staging block whose series live in a dictionary of its
 * own ({@link RecordsWriter#staging}); when the batch goes out on a connection, the client re-maps its series to the
 * connection's dictionary, defining there the ones new to it (so a resend after a reconnect defines them again). No
 * object is kept per sample.
 *
 * <p>Ownership: the batch owns a pooled buffer. {@code send} takes it over (and releases it when the batch
 * is acknowledged or failed); a batch that is never sent must be {@link #close() closed}. Not thread-safe.
 */
public final class RecordBatch implements AutoCloseable {

    private ByteBuf buf;
    private final SeriesDictionary dictionary;
    private final RecordsWriter writer;
    private SeriesTable table;

    /** A batch with room for {@code initialCapacity} bytes and {@code expectedSeries} series before it grows. */
    RecordBatch(ByteBufAllocator alloc, int initialCapacity, int expectedSeries) {
        this.buf = alloc.buffer(initialCapacity);
        this.dictionary = new SeriesDictionary(Math.max(16, expectedSeries));
        // staged: the series live in the dictionary only, and go out when the batch is copied for its connection
        this.writer = RecordsWriter.staging(buf, dictionary);
    }

    /** Adds a sample. */
    public RecordBatch addSample(Series series, long timestampMs, double value) {
        checkOpen();
        writer.addSample(series, timestampMs, value);
        return this;
    }

    /** Adds an event. */
    public RecordBatch addEvent(Event event) {
        checkOpen();
        writer.addEvent(event);
        return this;
    }

    /** Adds an event without building an {@link Event}. */
    public RecordBatch addEvent(String id, String type, long timestampMs, String key, Map<String, String> attributes) {
        checkOpen();
        writer.addEvent(id, type, timestampMs, key, attributes);
        return this;
    }

    /** Samples added. */
    public int sampleCount() {
        return writer.sampleCount();
    }

    /** Events added. */
    public int eventCount() {
        return writer.eventCount();
    }

    /** Encoded bytes so far; what counts against {@code maxBufferedBytes}. */
    public int bytes() {
        return writer.bytesWritten();
    }

    /** Bytes the staging buffer holds (what {@link #bytes()} counts but the series definitions it leaves out). */
    int stagedBytes() {
        return buf.writerIndex();
    }

    /** Whether nothing was added. */
    public boolean isEmpty() {
        return sampleCount() == 0 && eventCount() == 0;
    }

    private void checkOpen() {
        if (buf == null || table != null) {
            throw new IllegalStateException("the batch was sent or closed");
        }
    }

    /** Ends writing; called by send. */
    void seal() {
        checkOpen();
        writer.finish();
        table = dictionary.snapshot();
    }

    /** A cursor over the sealed records. */
    RecordCursor cursor() {
        return new RecordCursor(buf, table);
    }

    /** The sealed batch's own series, each once. */
    SeriesTable seriesTable() {
        return table;
    }

    /** Releases the buffer of a batch that was never sent; does nothing once {@code send} took it over. */
    @Override
    public void close() {
        if (table == null) {
            release();
        }
    }

    /** Releases the buffer; the client calls it when the batch is done. */
    void release() {
        if (buf != null) {
            buf.release();
            buf = null;
        }
    }
}
