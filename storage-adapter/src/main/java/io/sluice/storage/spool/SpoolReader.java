package io.sluice.storage.spool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * Reads spooled records in append order, from the oldest record undelivered when it was created, up to
 * the durable end; as appends continue, later calls return the new records, so a replayer can catch up
 * with the tail. Reading does not mark anything delivered: call {@link Spool#markDelivered} for that.
 *
 * <p>Not thread-safe: one thread at a time. Reads files, so call it where blocking is allowed (the
 * replayer's own thread or {@code Schedulers.boundedElastic()}), never on an event loop. Each record's
 * CRC is checked again as it is read; a mismatch throws {@link SpoolCorruptedException}.
 */
public final class SpoolReader implements AutoCloseable {

    private static final int BUFFER_BYTES = 1 << 20;

    private final Spool spool;
    private final CRC32C crc = new CRC32C();
    private ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES);
    /** File offset of buffer index 0, and how many bytes from there the buffer holds. */
    private long bufferStart;
    private int buffered;

    private long nextBase;
    private long startOffset;
    private Segment segment;
    private FileChannel channel;
    private long offset;
    private boolean closed;

    SpoolReader(Spool spool, long fromSegment, long fromOffset) {
        this.spool = spool;
        this.nextBase = fromSegment;
        this.startOffset = fromOffset;
    }

    /** Returns the next record, or null when the reader has caught up with the durable end for now. */
    public SpoolEntry next() throws IOException {
        if (closed) {
            throw new IllegalStateException("reader closed");
        }
        while (true) {
            Committed durable = spool.committed();
            if (segment == null && !openNextSegment(durable)) {
                return null;
            }
            long limit;
            if (segment.base == durable.segment()) {
                limit = durable.end();
            } else if (segment.base < durable.segment()) {
                limit = segment.sealedSize();
            } else {
                return null;
            }
            if (offset < limit) {
                return read(limit);
            }
            if (segment.base == durable.segment()) {
                return null;
            }
            closeSegment();
        }
    }

    /** Returns up to {@code maxRecords} records, fewer (possibly none) when it catches up. */
    public List<SpoolEntry> next(int maxRecords) throws IOException {
        List<SpoolEntry> entries = new ArrayList<>(Math.min(maxRecords, 1024));
        SpoolEntry entry;
        while (entries.size() < maxRecords && (entry = next()) != null) {
            entries.add(entry);
        }
        return entries;
    }

    private boolean openNextSegment(Committed durable) throws IOException {
        while (true) {
            Map.Entry<Long, Segment> next = spool.segments.ceilingEntry(nextBase);
            if (next == null || next.getKey() > durable.segment()) {
                return false;
            }
            Segment candidate = next.getValue();
            try {
                channel = FileChannel.open(candidate.path, StandardOpenOption.READ);
            } catch (NoSuchFileException e) {
                // Deleted meanwhile because it was delivered; what we want is in a later segment.
                nextBase = candidate.base + 1;
                continue;
            }
            segment = candidate;
            offset = candidate.base == nextBase && startOffset > 0 ? startOffset : SpoolFormat.SEGMENT_HEADER_BYTES;
            startOffset = 0;
            buffered = 0;
            return true;
        }
    }

    private SpoolEntry read(long limit) throws IOException {
        fill(SpoolFormat.FRAME_PREFIX_BYTES, limit);
        int at = (int) (offset - bufferStart);
        int bodyLength = buffer.getInt(at);
        if (bodyLength < SpoolFormat.BODY_FIXED_BYTES || offset + SpoolFormat.FRAME_PREFIX_BYTES + bodyLength > limit) {
            throw new SpoolCorruptedException(segment.path, offset, "record length " + bodyLength
                    + " does not fit before the durable end " + limit);
        }
        int frame = SpoolFormat.FRAME_PREFIX_BYTES + bodyLength;
        fill(frame, limit);
        at = (int) (offset - bufferStart);
        String problem = SpoolFormat.verifyFrame(buffer, at, frame, crc);
        if (problem != null) {
            throw new SpoolCorruptedException(segment.path, offset, problem);
        }
        ByteBuffer view = buffer.duplicate().position(at + SpoolFormat.FRAME_PREFIX_BYTES).limit(at + frame);
        long sequence = view.getLong();
        byte[] topic = new byte[view.getShort() & 0xFFFF];
        view.get(topic);
        byte[] key = new byte[view.getInt()];
        view.get(key);
        byte[] value = new byte[view.getInt()];
        view.get(value);
        offset += frame;
        SpoolPosition position = new SpoolPosition(spool.id, sequence, segment.base, offset,
                segment.logicalStart + offset - SpoolFormat.SEGMENT_HEADER_BYTES);
        return new SpoolEntry(position, new String(topic, StandardCharsets.UTF_8), key, value);
    }

    /** Makes the buffer hold {@code bytes} bytes from {@link #offset}, reading ahead up to {@code limit}. */
    private void fill(int bytes, long limit) throws IOException {
        if (offset >= bufferStart && offset + bytes <= bufferStart + buffered) {
            return;
        }
        if (offset + bytes > limit) {
            throw new SpoolCorruptedException(segment.path, offset, "record crosses the durable end " + limit);
        }
        if (buffer.capacity() < bytes) {
            buffer = ByteBuffer.allocateDirect(Math.max(bytes, buffer.capacity() * 2));
        }
        buffer.clear();
        buffer.limit((int) Math.min(buffer.capacity(), limit - offset));
        while (buffer.position() < bytes) {
            int n = channel.read(buffer, offset + buffer.position());
            if (n < 0) {
                throw new SpoolCorruptedException(segment.path, offset + buffer.position(),
                        "file ends before the durable end " + limit);
            }
        }
        bufferStart = offset;
        buffered = buffer.position();
    }

    private void closeSegment() throws IOException {
        nextBase = segment.base + 1;
        segment = null;
        FileChannel ch = channel;
        channel = null;
        ch.close();
    }

    @Override
    public void close() throws IOException {
        closed = true;
        if (channel != null) {
            closeSegment();
        }
    }
}
