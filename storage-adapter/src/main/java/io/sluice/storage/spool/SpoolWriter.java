package io.sluice.storage.spool;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;
import java.util.zip.CRC32C;

/**
 * The loop of the spool's one writer thread: the only code that writes, fsyncs, rolls, checkpoints or
 * deletes spool files.
 *
 * <p>A batch starts with the first queued append and gathers more for up to {@code spool.fsync-interval}
 * (less once {@value #MAX_BATCH_BYTES} bytes are pending), copying each record into a direct staging buffer that
 * goes to the file in one write when full. Then one {@code force} makes the batch durable, the durable
 * end is published to readers, and only then are the batch's futures completed. Appends that arrive while
 * a batch is being synced form the next batch, so the fsync cost is shared even with an interval of 0.
 */
final class SpoolWriter implements Runnable {

    /** Records are staged up to this size before a write. */
    static final int STAGING_BYTES = 4 << 20;
    /**
     * A batch stops gathering at this size and is fsync'd, so that under sustained load acks keep flowing
     * instead of waiting for the queue to run dry; larger batches no longer make fsyncs noticeably cheaper.
     */
    static final int MAX_BATCH_BYTES = 8 << 20;

    private static final Logger log = LoggerFactory.getLogger(SpoolWriter.class);

    private final Spool spool;
    private final Path dir;
    private final int segmentBytes;
    private final long intervalNanos;
    private final SyncListener syncListener;
    private final CRC32C crc = new CRC32C();
    private final List<AppendRequest> batch = new ArrayList<>();
    private final List<SpoolPosition> positions = new ArrayList<>();
    private ByteBuffer staging = ByteBuffer.allocateDirect(STAGING_BYTES);
    private long batchBytes;

    private Segment active;
    private FileChannel channel;
    private long activeSize;
    private long nextSequence;
    private long logicalEnd;
    private long delivered;
    private long deliveredLogicalEnd;

    /** True while the thread is parked waiting for work; appenders unpark it only then. */
    volatile boolean idle;

    SpoolWriter(Spool spool, Path dir, int segmentBytes, long intervalNanos, SyncListener syncListener,
                SpoolRecovery.Recovered recovered) throws IOException {
        this.spool = spool;
        this.dir = dir;
        this.segmentBytes = segmentBytes;
        this.intervalNanos = intervalNanos;
        this.syncListener = syncListener;
        this.nextSequence = recovered.nextSequence();
        this.logicalEnd = recovered.logicalEnd();
        this.delivered = recovered.delivered();
        this.deliveredLogicalEnd = recovered.deliveredLogicalEnd();
        List<Segment> segments = recovered.segments();
        if (!segments.isEmpty()) {
            active = segments.get(segments.size() - 1);
            activeSize = recovered.activeSize();
            channel = FileChannel.open(active.path, StandardOpenOption.WRITE);
            channel.position(activeSize);
        }
    }

    @Override
    public void run() {
        Throwable failure = null;
        try {
            loop();
        } catch (Throwable t) {
            failure = t;
            log.error("Spool writer stopped after a failure; appends fail until the spool is reopened", t);
        } finally {
            closeChannel();
            spool.writerStopped(failure);
        }
    }

    private void loop() throws IOException {
        while (true) {
            AppendRequest first = spool.queue.poll();
            if (first == null) {
                if (spool.checkpointRequested()) {
                    checkpoint();
                    continue;
                }
                if (spool.closing) {
                    return;
                }
                idle = true;
                if (spool.queue.isEmpty() && !spool.checkpointRequested() && !spool.closing) {
                    LockSupport.park(this);
                }
                idle = false;
                continue;
            }
            try {
                gather(first);
                sync();
            } catch (IOException | RuntimeException | Error e) {
                failBatch(e);
                throw e;
            }
            if (spool.checkpointRequested()) {
                checkpoint();
            }
        }
    }

    private void gather(AppendRequest first) throws IOException {
        long deadline = System.nanoTime() + intervalNanos;
        stage(first);
        while (true) {
            AppendRequest next;
            while (batchBytes < MAX_BATCH_BYTES && (next = spool.queue.poll()) != null) {
                stage(next);
            }
            if (intervalNanos == 0 || spool.closing || batchBytes >= MAX_BATCH_BYTES) {
                return;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            LockSupport.parkNanos(this, left);
        }
    }

    private void stage(AppendRequest request) throws IOException {
        int frame = request.frameBytes;
        try {
            makeRoom(frame);
        } catch (IOException | RuntimeException | Error e) {
            request.release();
            spool.unreserve(frame);
            request.future.completeExceptionally(new SpoolClosedException("spool write failed: " + e, e));
            throw e;
        }
        int start = staging.position();
        try {
            staging.putInt(frame - SpoolFormat.FRAME_PREFIX_BYTES).putInt(0).putLong(nextSequence)
                    .putShort((short) request.topic.length).put(request.topic)
                    .putInt(request.key.length).put(request.key)
                    .putInt(request.valueLength);
            request.putValue(staging);
        } catch (RuntimeException e) {
            // The caller broke the ownership rule (e.g. released or shrank the ByteBuf): fail only this append.
            staging.position(start);
            request.release();
            spool.unreserve(frame);
            request.future.completeExceptionally(new IllegalStateException("append value unreadable: " + e, e));
            return;
        }
        request.release();
        int body = start + SpoolFormat.FRAME_PREFIX_BYTES;
        crc.reset();
        crc.update(staging.duplicate().position(body).limit(start + frame));
        staging.putInt(start + 4, (int) crc.getValue());
        activeSize += frame;
        logicalEnd += frame;
        batchBytes += frame;
        batch.add(request);
        positions.add(new SpoolPosition(spool.id, nextSequence, active.base, activeSize, logicalEnd));
        nextSequence++;
    }

    private void makeRoom(int frame) throws IOException {
        if (active == null) {
            openSegment();
        } else if (activeSize + frame > segmentBytes && activeSize > SpoolFormat.SEGMENT_HEADER_BYTES) {
            roll();
        }
        if (staging.remaining() < frame) {
            writeStaging();
            if (staging.capacity() < frame) {
                staging = ByteBuffer.allocateDirect(frame);
            }
        }
    }

    private void sync() throws IOException {
        writeStaging();
        if (!batch.isEmpty()) {
            syncListener.beforeSync();
            channel.force(false);
            spool.fsyncs.increment();
            spool.publish(new Committed(active.base, activeSize, nextSequence - 1));
        }
        int n = batch.size();
        // Counters first, so whoever sees a completed future also sees it counted.
        spool.appends.add(n);
        spool.appendedBytes.add(batchBytes);
        for (int i = 0; i < n; i++) {
            batch.get(i).future.complete(positions.get(i));
        }
        batch.clear();
        positions.clear();
        batchBytes = 0;
    }

    private void failBatch(Throwable cause) {
        SpoolClosedException failure = new SpoolClosedException("spool write failed: " + cause, cause);
        for (AppendRequest request : batch) {
            spool.unreserve(request.frameBytes);
            request.future.completeExceptionally(failure);
        }
        batch.clear();
        positions.clear();
    }

    private void writeStaging() throws IOException {
        staging.flip();
        while (staging.hasRemaining()) {
            channel.write(staging);
        }
        staging.clear();
    }

    /** Seals the full segment, fsync'd whole before the next one exists, which recovery relies on. */
    private void roll() throws IOException {
        writeStaging();
        syncListener.beforeSync();
        channel.force(false);
        spool.fsyncs.increment();
        active.seal(activeSize, nextSequence - 1);
        closeChannel();
        active = null;
        openSegment();
    }

    /** Creates the next segment as a temp file with its header, fsync'd, then renamed into place. */
    private void openSegment() throws IOException {
        long base = nextSequence;
        Path path = dir.resolve(SpoolFormat.segmentFileName(base));
        Path temp = dir.resolve(path.getFileName() + SpoolFormat.TEMP_SUFFIX);
        FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE);
        try {
            ByteBuffer header = ByteBuffer.allocate(SpoolFormat.SEGMENT_HEADER_BYTES);
            SpoolFormat.putSegmentHeader(header, base, crc);
            header.flip();
            while (header.hasRemaining()) {
                ch.write(header);
            }
            ch.force(true);
            Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE);
            Checkpoint.syncDirectory(dir);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        channel = ch;
        active = new Segment(base, path, logicalEnd);
        activeSize = SpoolFormat.SEGMENT_HEADER_BYTES;
        spool.segments.put(base, active);
    }

    /** Persists the furthest delivery mark requested so far and deletes what it makes obsolete. */
    private void checkpoint() throws IOException {
        List<CompletableFuture<Void>> waiters = spool.takeCheckpointWaiters();
        // Read after taking the waiters: each waiter raised the target before it queued itself.
        SpoolPosition target = spool.deliveryTarget();
        try {
            if (target != null && target.sequence > delivered) {
                Checkpoint.write(dir, target.sequence);
                spool.checkpoints.increment();
                delivered = target.sequence;
                spool.unreserve(target.logicalEnd - deliveredLogicalEnd);
                deliveredLogicalEnd = target.logicalEnd;
                spool.deliveredFrom(target.segment, target.endOffset);
                deleteDelivered();
            }
        } catch (IOException | RuntimeException e) {
            SpoolClosedException failure = new SpoolClosedException("spool checkpoint failed: " + e, e);
            waiters.forEach(w -> w.completeExceptionally(failure));
            throw e;
        }
        waiters.forEach(w -> w.complete(null));
    }

    private void deleteDelivered() throws IOException {
        for (Segment segment : spool.segments.values()) {
            if (segment == active) {
                if (delivered >= nextSequence - 1) {
                    // All caught up: drop the active segment too; the next append starts a new one.
                    active.seal(activeSize, nextSequence - 1);
                    closeChannel();
                    active = null;
                    delete(segment);
                }
                return;
            }
            if (segment.lastSequence() > delivered) {
                return;
            }
            delete(segment);
        }
    }

    private void delete(Segment segment) throws IOException {
        Files.deleteIfExists(segment.path);
        spool.segments.remove(segment.base);
        log.debug("Deleted delivered spool segment {}", segment);
    }

    private void closeChannel() {
        FileChannel ch = channel;
        channel = null;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                log.warn("Closing spool segment {} failed", active, e);
            }
        }
    }
}
