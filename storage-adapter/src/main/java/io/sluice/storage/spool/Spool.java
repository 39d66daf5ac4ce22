package io.sluice.storage.spool;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import io.sluice.config.SpoolConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * The local disk spool: holds accepted records durably while Kafka is unavailable, until a replayer has
 * delivered them.
 *
 * <h2>Threading</h2>
 * <ul>
 *   <li>{@link #append} and {@link #markDelivered} never block and may be called from any thread,
 *       event loops included: they queue work for the one writer thread ({@value #WRITER_THREAD_NAME})
 *       and return a future. Futures complete on the writer thread, so continuations attached with the
 *       non-async {@code CompletableFuture} methods must be short and must not block.</li>
 *   <li>{@link #open}, {@link #close} and {@link SpoolReader} do blocking file I/O: call them from a
 *       thread that may block (start-up, {@code Schedulers.boundedElastic()}, the replayer's thread).</li>
 *   <li>The getters and {@link #stats()} are cheap and thread-safe.</li>
 * </ul>
 *
 * <h2>Durability</h2>
 * An append's future completes only after its bytes are written and {@code FileChannel.force} returned,
 * so acknowledging the client then is safe. Delivery is at-least-once: after a crash, replay restarts
 * after the last checkpoint written by {@link #markDelivered}, so records delivered after it go to Kafka
 * again; storage is idempotent, which makes that harmless.
 *
 * <h2>Limits</h2>
 * <table>
 *   <caption>Limits</caption>
 *   <tr><th>setting</th><th>what it bounds</th><th>when exceeded</th></tr>
 *   <tr><td>{@code spool.max-bytes}</td><td>undelivered record bytes (framing included), on disk and
 *       queued. Disk use can be one segment more, as the oldest segment is deleted only when wholly
 *       delivered.</td><td>{@link SpoolFullException} with a retry-after, counted in
 *       {@link SpoolStats#rejectedFull()}</td></tr>
 *   <tr><td>{@code spool.segment-bytes}</td><td>segment file size; a larger record gets a segment of its
 *       own</td><td>a new segment is started</td></tr>
 *   <tr><td>{@code spool.fsync-interval}</td><td>how long a batch gathers appends before its fsync, so
 *       the longest extra wait an append sees</td><td>-</td></tr>
 *   <tr><td>topic</td><td>1 to 65535 UTF-8 bytes</td><td>{@link IllegalArgumentException}</td></tr>
 * </table>
 */
public final class Spool implements AutoCloseable {

    public static final String WRITER_THREAD_NAME = "sluice-spool-writer";
    /** What {@link SpoolFullException#retryAfterMillis()} suggests: a full spool drains in seconds at best. */
    public static final long FULL_RETRY_AFTER_MILLIS = 1000;

    private static final Logger log = LoggerFactory.getLogger(Spool.class);
    private static final AtomicLong IDS = new AtomicLong();
    private static final byte[] EMPTY = new byte[0];

    final long id = IDS.incrementAndGet();
    final Queue<AppendRequest> queue = new ConcurrentLinkedQueue<>();
    final ConcurrentSkipListMap<Long, Segment> segments = new ConcurrentSkipListMap<>();
    final LongAdder appends = new LongAdder();
    final LongAdder appendedBytes = new LongAdder();
    final LongAdder fsyncs = new LongAdder();
    final LongAdder checkpoints = new LongAdder();
    volatile boolean closing;

    private final Path dir;
    private final long maxBytes;
    private final int tornTails;
    private final AtomicLong used = new AtomicLong();
    private final LongAdder rejectedFull = new LongAdder();
    private final AtomicReference<SpoolPosition> deliveryTarget = new AtomicReference<>();
    private final Queue<CompletableFuture<Void>> checkpointWaiters = new ConcurrentLinkedQueue<>();
    private final FileChannel lockChannel;
    private final SpoolWriter writer;
    private final Thread writerThread;
    private volatile Committed committed;
    private volatile Location deliveredFrom;
    private volatile boolean terminated;
    private volatile Throwable failure;

    private Spool(SpoolConfig config, SyncListener syncListener, FileChannel lockChannel,
                  SpoolRecovery.Recovered recovered) throws IOException {
        this.dir = config.dir();
        this.maxBytes = config.maxBytes();
        this.lockChannel = lockChannel;
        this.tornTails = recovered.tornTails();
        for (Segment segment : recovered.segments()) {
            segments.put(segment.base, segment);
        }
        List<Segment> list = recovered.segments();
        this.committed = list.isEmpty()
                ? new Committed(-1, 0, recovered.nextSequence() - 1)
                : new Committed(list.get(list.size() - 1).base, recovered.activeSize(), recovered.nextSequence() - 1);
        this.deliveredFrom = new Location(recovered.deliveredSegment(), recovered.deliveredOffset());
        this.used.set(recovered.logicalEnd() - recovered.deliveredLogicalEnd());
        this.writer = new SpoolWriter(this, dir, config.segmentBytes(), config.fsyncInterval().toNanos(),
                syncListener, recovered);
        this.writerThread = new Thread(writer, WRITER_THREAD_NAME);
        writerThread.setDaemon(true);
    }

    /**
     * Opens (creating if needed) the spool in {@code config.dir()}, recovering from a crash: temp files are
     * removed, a torn tail of the newest segment is truncated, and damage anywhere else fails the open.
     * Blocks while it reads every undelivered record once to check its CRC.
     *
     * @throws SpoolCorruptedException when acknowledged data is unreadable (names the file and offset)
     * @throws IOException             when the directory cannot be used, or another process holds it
     */
    public static Spool open(SpoolConfig config) throws IOException {
        return open(config, SyncListener.NONE);
    }

    static Spool open(SpoolConfig config, SyncListener syncListener) throws IOException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(config.dir(), "spool.dir");
        check(config.maxBytes() > 0, "spool.max-bytes: " + config.maxBytes() + " (expected: > 0)");
        check(config.segmentBytes() > SpoolFormat.SEGMENT_HEADER_BYTES,
                "spool.segment-bytes: " + config.segmentBytes() + " (expected: > " + SpoolFormat.SEGMENT_HEADER_BYTES + ")");
        check(config.fsyncInterval() != null && !config.fsyncInterval().isNegative(),
                "spool.fsync-interval: " + config.fsyncInterval() + " (expected: >= 0)");
        Path dir = config.dir();
        Files.createDirectories(dir);
        FileChannel lockChannel = FileChannel.open(dir.resolve(SpoolFormat.LOCK_FILE), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        try {
            FileLock lock;
            try {
                lock = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new IOException("spool directory " + dir + " is in use by another spool "
                        + "(each gateway process needs its own spool.dir)");
            }
            SpoolRecovery.Recovered recovered = SpoolRecovery.recover(dir);
            Spool spool = new Spool(config, syncListener, lockChannel, recovered);
            spool.writerThread.start();
            log.info("Spool open at {}: {} undelivered bytes in {} segment(s), next sequence {}", dir,
                    spool.bytes(), recovered.segments().size(), recovered.nextSequence());
            return spool;
        } catch (IOException | RuntimeException | Error e) {
            lockChannel.close();
            throw e;
        }
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /**
     * Queues a record and returns a future that completes with its position once it is written and
     * fsync'd. Never blocks. The future fails with {@link SpoolFullException} at once when the record does
     * not fit in {@code spool.max-bytes}, with {@link SpoolClosedException} when the spool is closed or
     * failed, and with {@link IllegalArgumentException} for a topic that is empty or over 65535 UTF-8 bytes,
     * or a record that could never fit. The arrays must not be modified until the future completes.
     *
     * @param key may be null or empty
     */
    public CompletableFuture<SpoolPosition> append(String topic, byte[] key, byte[] value) {
        Objects.requireNonNull(value, "value");
        return enqueue(topic, key, value, null, value.length);
    }

    /**
     * Like {@link #append(String, byte[], byte[])} for a value in a {@link ByteBuf}, whose readable bytes
     * are the value. <b>Ownership passes to the spool</b>: it releases the buffer exactly once, whatever the
     * outcome (after copying it on the writer thread, or at once when the append is refused). The caller
     * must neither touch nor release it after this call; {@code retain()} first to keep using it.
     */
    public CompletableFuture<SpoolPosition> append(String topic, byte[] key, ByteBuf value) {
        Objects.requireNonNull(value, "value");
        return enqueue(topic, key, null, value, value.readableBytes());
    }

    private CompletableFuture<SpoolPosition> enqueue(String topic, byte[] key, byte[] valueArray, ByteBuf valueBuf,
                                                     int valueLength) {
        byte[] topicBytes;
        try {
            topicBytes = Objects.requireNonNull(topic, "topic").getBytes(StandardCharsets.UTF_8);
        } catch (RuntimeException e) {
            ReferenceCountUtil.safeRelease(valueBuf);
            throw e;
        }
        byte[] keyBytes = key == null ? EMPTY : key;
        if (topicBytes.length == 0 || topicBytes.length > SpoolFormat.MAX_TOPIC_BYTES) {
            return refuse(valueBuf, new IllegalArgumentException("topic: " + topicBytes.length
                    + " UTF-8 bytes (expected: 1.." + SpoolFormat.MAX_TOPIC_BYTES + ")"));
        }
        long frame = SpoolFormat.frameBytes(topicBytes.length, keyBytes.length, valueLength);
        if (closing) {
            return refuse(valueBuf, closedException());
        }
        if (frame > maxBytes || frame > Integer.MAX_VALUE - 64) {
            return refuse(valueBuf, new IllegalArgumentException("record of " + frame
                    + " bytes can never fit in the spool (spool.max-bytes: " + maxBytes + ")"));
        }
        if (!reserve(frame)) {
            rejectedFull.increment();
            return refuse(valueBuf, new SpoolFullException("spool full: " + used.get() + " of " + maxBytes
                    + " bytes undelivered, record needs " + frame + " (raise spool.max-bytes, or restore Kafka "
                    + "so the spool drains)", FULL_RETRY_AFTER_MILLIS));
        }
        AppendRequest request = new AppendRequest(topicBytes, keyBytes, valueArray, valueBuf, valueLength,
                (int) frame);
        queue.offer(request);
        wakeWriter();
        if (terminated) {
            // The writer may have stopped before seeing this request; nothing is left hanging.
            failQueued();
        }
        return request.future;
    }

    private static <T> CompletableFuture<T> refuse(ByteBuf valueBuf, Throwable cause) {
        ReferenceCountUtil.safeRelease(valueBuf);
        return CompletableFuture.failedFuture(cause);
    }

    private boolean reserve(long bytes) {
        long current;
        do {
            current = used.get();
            if (current + bytes > maxBytes) {
                return false;
            }
        } while (!used.compareAndSet(current, current + bytes));
        return true;
    }

    void unreserve(long bytes) {
        used.addAndGet(-bytes);
    }

    /**
     * Records that every record up to and including {@code upTo} is in Kafka: the mark is persisted in a
     * checkpoint (fsync'd) and segment files holding only delivered records are deleted, freeing their
     * bytes. Never blocks; the future completes once the checkpoint is durable. Calls coalesce, so marking
     * after each Kafka batch is fine; marking an older position than before is a no-op.
     *
     * @throws IllegalArgumentException for a position of another spool instance or beyond the durable end
     */
    public CompletableFuture<Void> markDelivered(SpoolPosition upTo) {
        Objects.requireNonNull(upTo, "upTo");
        if (upTo.spoolId != id) {
            throw new IllegalArgumentException("position " + upTo + " comes from another spool instance");
        }
        if (upTo.sequence > committed.lastSequence()) {
            throw new IllegalArgumentException("position " + upTo + " is beyond the spool's durable end");
        }
        if (closing) {
            return CompletableFuture.failedFuture(closedException());
        }
        deliveryTarget.accumulateAndGet(upTo, (a, b) -> a == null || b.sequence > a.sequence ? b : a);
        CompletableFuture<Void> done = new CompletableFuture<>();
        checkpointWaiters.offer(done);
        LockSupport.unpark(writerThread);
        if (terminated) {
            failCheckpointWaiters();
        }
        return done;
    }

    /**
     * A reader positioned at the oldest undelivered record, reading in append order up to the durable end
     * and further as appends continue. Each call returns a new, independent reader.
     */
    public SpoolReader reader() {
        Location from = deliveredFrom;
        return new SpoolReader(this, from.segment, from.offset);
    }

    /** Undelivered bytes, on disk and queued: what {@code spool.max-bytes} bounds. */
    public long bytes() {
        return used.get();
    }

    public long maxBytes() {
        return maxBytes;
    }

    /** True when every record appended so far has been delivered (and none is queued). */
    public boolean isEmpty() {
        return used.get() == 0;
    }

    /** False once closed, or once a write or fsync failed (the spool must then be reopened). */
    public boolean isOpen() {
        return !closing && !terminated;
    }

    public SpoolStats stats() {
        return new SpoolStats(used.get(), maxBytes, appends.sum(), appendedBytes.sum(), fsyncs.sum(),
                rejectedFull.sum(), checkpoints.sum(), tornTails, segments.size());
    }

    public Path dir() {
        return dir;
    }

    /**
     * Writes and fsyncs every append queued before the call (their futures complete normally), persists a
     * pending delivery mark, stops the writer thread and closes the files. Appends racing with close fail
     * with {@link SpoolClosedException}; no future is left pending. Blocks until done; idempotent.
     */
    @Override
    public void close() {
        if (Thread.currentThread() == writerThread) {
            throw new IllegalStateException("close() called from a continuation on the spool writer thread");
        }
        closing = true;
        LockSupport.unpark(writerThread);
        boolean interrupted = false;
        while (writerThread.isAlive()) {
            try {
                writerThread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        try {
            lockChannel.close();
        } catch (IOException e) {
            log.warn("Closing the spool lock file in {} failed", dir, e);
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- writer side -----------------------------------------------------------------------------

    private void wakeWriter() {
        if (writer.idle) {
            LockSupport.unpark(writerThread);
        }
    }

    void publish(Committed durable) {
        committed = durable;
    }

    Committed committed() {
        return committed;
    }

    void deliveredFrom(long segment, long offset) {
        deliveredFrom = new Location(segment, offset);
    }

    boolean checkpointRequested() {
        return !checkpointWaiters.isEmpty();
    }

    SpoolPosition deliveryTarget() {
        return deliveryTarget.get();
    }

    List<CompletableFuture<Void>> takeCheckpointWaiters() {
        List<CompletableFuture<Void>> taken = new ArrayList<>();
        CompletableFuture<Void> waiter;
        while ((waiter = checkpointWaiters.poll()) != null) {
            taken.add(waiter);
        }
        return taken;
    }

    void writerStopped(Throwable cause) {
        failure = cause;
        terminated = true;
        failQueued();
        failCheckpointWaiters();
    }

    private void failQueued() {
        AppendRequest request;
        while ((request = queue.poll()) != null) {
            request.release();
            unreserve(request.frameBytes);
            request.future.completeExceptionally(closedException());
        }
    }

    private void failCheckpointWaiters() {
        CompletableFuture<Void> waiter;
        while ((waiter = checkpointWaiters.poll()) != null) {
            waiter.completeExceptionally(closedException());
        }
    }

    /** Where the oldest undelivered record starts (or will start: the segment may not exist yet). */
    private record Location(long segment, long offset) {
    }

    private SpoolClosedException closedException() {
        Throwable cause = failure;
        return cause == null
                ? new SpoolClosedException("spool " + dir + " is closed", null)
                : new SpoolClosedException("spool " + dir + " stopped after a write failure: " + cause, cause);
    }
}
