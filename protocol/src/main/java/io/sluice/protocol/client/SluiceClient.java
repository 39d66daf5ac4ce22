package io.sluice.protocol.client;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.frame.ErrorFrame;
import io.sluice.protocol.frame.FrameDecoder;
import io.sluice.protocol.frame.FrameEncoder;
import io.sluice.protocol.frame.GoAway;
import io.sluice.protocol.frame.Hello;
import io.sluice.protocol.frame.HelloOk;
import io.sluice.protocol.frame.Nack;
import io.sluice.protocol.frame.Ping;
import io.sluice.protocol.frame.SessionLimits;
import io.sluice.protocol.preface.Preface;
import io.sluice.protocol.record.RecordsWriter;
import io.sluice.protocol.record.SeriesDictionary;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Java agent client: sends batches of samples and events to a Sluice gateway over the binary protocol
 * and completes each batch's future when the gateway acknowledges it (which means it is durable).
 *
 * <pre>{@code
 * try (SluiceClient client = SluiceClient.builder().address("gateway", 7070).apiKey(key).build()) {
 *     RecordBatch batch = client.newBatch();
 *     batch.addSample(Series.of("cpu", "host", "a"), System.currentTimeMillis(), 0.42);
 *     client.send(batch).join();
 * }
 * }</pre>
 *
 * <p>Delivery is at-least-once: batches not acknowledged when a connection drops are resent, in sequence
 * order, after the client reconnects (exponential backoff with full jitter). A retriable NACK
 * (THROTTLED, RETRY_LATER, ...) pauses sending for the NACK's retry-after, then the batch is resent; a
 * non-retriable NACK fails the batch's future with {@link BatchRejectedException}. The gateway stores
 * idempotently, so resends never double count.
 *
 * <p>Threading: {@link #send} may be called from any thread; connection state lives on one event loop,
 * which also completes the futures (so keep dependent actions short, or use the {@code *Async} variants).
 * {@link #send} with {@link BufferFullPolicy#BLOCK} and {@link #close()} block and must not run on an
 * event loop.
 */
public final class SluiceClient implements AutoCloseable {

    /** Shortest keep-alive PING period, whatever idle timeout a server announces. */
    private static final long MIN_KEEP_ALIVE_MS = 100;
    /** Bytes a BATCH frame adds around its records: frame header and sequence number. */
    private static final int BATCH_OVERHEAD = 6 + 8;

    private final SluiceClientBuilder config;
    private final EventLoopGroup group;
    private final boolean ownsGroup;
    private final EventLoop loop;
    private final Bootstrap bootstrap;
    private final SendBuffer buffer;
    private final Backoff backoff;
    private final ByteBufAllocator alloc;
    private final AtomicLong sequences = new AtomicLong();
    private final Map<Long, CompletableFuture<Void>> outstanding = new ConcurrentHashMap<>();
    private volatile boolean closed;
    private volatile RuntimeException fatal;
    // The size of the last batch sent (its staging buffer's bytes, its series): a new batch starts with room for as
    // much, so that an agent sending batches of a steady size does not grow each one's buffer and dictionary step by
    // step.
    private volatile int lastBatchBytes = 4096;
    private volatile int lastBatchSeries;

    // Confined to `loop`.
    private final PriorityQueue<PendingBatch> ready = new PriorityQueue<>();
    private final Map<Long, PendingBatch> inFlight = new HashMap<>();
    private final SeriesDictionary connectionSeries = new SeriesDictionary();
    private Channel channel;
    private boolean sessionReady;
    private boolean draining;
    private boolean shutDown;
    private int window;
    private int serverMaxFrameBytes;
    private int serverMaxBlockBytes;
    private AnnouncedLimitCheck limitCheck;
    private int reconnectAttempts;
    private long pausedUntilNanos;
    private ScheduledFuture<?> resumeTask;
    private ScheduledFuture<?> reconnectTask;
    private ScheduledFuture<?> keepAlive;
    private final ClientStats stats = new ClientStats();

    SluiceClient(SluiceClientBuilder b) {
        this.config = b;
        this.ownsGroup = b.eventLoopGroup == null;
        this.group = ownsGroup
                ? new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("sluice-client", true), NioIoHandler.newFactory())
                : b.eventLoopGroup;
        this.loop = group.next();
        this.alloc = b.allocator;
        this.buffer = new SendBuffer(b.maxBufferedBatches, b.maxBufferedBytes);
        this.backoff = new Backoff(b.initialBackoff.toMillis(), b.maxBackoff.toMillis(), b.random);
        this.bootstrap = new Bootstrap()
                .group(loop)
                .channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, b.connectTimeout.toMillis()))
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.ALLOCATOR, alloc)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (config.tls != null) {
                            ch.pipeline().addLast("tls", config.tls.newHandler(ch.alloc(),
                                    config.address.getHostString(), config.address.getPort()));
                        }
                        ch.pipeline().addLast("decoder", FrameDecoder.forClient(config.frameLimits));
                        ch.pipeline().addLast("encoder", FrameEncoder.INSTANCE);
                        ch.pipeline().addLast("client", new ClientHandler(SluiceClient.this));
                    }
                });
        loop.execute(this::connect);
    }

    /** Starts configuring a client. */
    public static SluiceClientBuilder builder() {
        return new SluiceClientBuilder();
    }

    /** A new, empty batch to fill and {@link #send}. */
    public RecordBatch newBatch() {
        return new RecordBatch(alloc, lastBatchBytes, lastBatchSeries);
    }

    /**
     * Sends {@code batch} (taking it over) and returns a future that completes when the gateway acknowledges
     * it, or fails with {@link BatchRejectedException} (rejected for good), {@link BufferFullException} (not
     * accepted: the buffer stayed full) or {@link ClientClosedException}.
     */
    public CompletableFuture<Void> send(RecordBatch batch) {
        if (batch.isEmpty()) {
            batch.close();
            return CompletableFuture.completedFuture(null);
        }
        RuntimeException refusal = closed ? new ClientClosedException("client is closed") : fatal;
        if (refusal != null) {
            batch.close();
            return CompletableFuture.failedFuture(refusal);
        }
        int size = batch.bytes();
        // Blocking an event loop could wait for acks that only that loop can deliver: fail fast there.
        long timeout = config.bufferFullPolicy == BufferFullPolicy.BLOCK && !loop.inEventLoop()
                ? config.bufferFullTimeout.toNanos() : 0;
        try {
            buffer.acquire(size, timeout);
        } catch (BufferFullException e) {
            batch.close();
            return CompletableFuture.failedFuture(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            batch.close();
            return CompletableFuture.failedFuture(e);
        }
        batch.seal();
        lastBatchBytes = Math.max(4096, batch.stagedBytes());
        lastBatchSeries = batch.seriesTable().size();
        PendingBatch p = new PendingBatch(sequences.incrementAndGet(), batch, size);
        outstanding.put(p.sequence, p.future);
        try {
            loop.execute(() -> enqueue(p));
        } catch (RuntimeException e) {
            // The event loop is shutting down.
            finish(p, new ClientClosedException("client is closed"));
        }
        return p.future;
    }

    /** A future that completes when every batch sent before this call has been acknowledged or failed. */
    public CompletableFuture<Void> flush() {
        CompletableFuture<?>[] pending = outstanding.values().toArray(new CompletableFuture<?>[0]);
        return CompletableFuture.allOf(pending).handle((v, e) -> null);
    }

    /** Counters of what the client did; for tests and metrics. */
    public ClientStats stats() {
        return stats;
    }

    /**
     * Stops accepting batches, waits up to {@code closeTimeout} for the outstanding ones to be acknowledged,
     * fails the rest with {@link ClientClosedException} and closes the connection.
     */
    @Override
    public void close() {
        close(config.closeTimeout);
    }

    /** As {@link #close()} with an explicit wait; returns whether every batch was answered in time. */
    public boolean close(Duration timeout) {
        if (loop.inEventLoop()) {
            throw new IllegalStateException("close() blocks: call it off the event loop");
        }
        if (closed) {
            return outstanding.isEmpty();
        }
        closed = true;
        boolean drained = true;
        try {
            flush().get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            drained = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            drained = false;
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        }
        if (!loop.isShuttingDown()) {
            loop.submit(this::shutDownOnLoop).syncUninterruptibly();
        }
        if (ownsGroup) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        return drained;
    }

    // ---- everything below runs on `loop` ----

    private void enqueue(PendingBatch p) {
        if (shutDown) {
            finish(p, new ClientClosedException("client is closed"));
            return;
        }
        if (fatal != null) {
            finish(p, fatal);
            return;
        }
        ready.add(p);
        trySend();
    }

    private void connect() {
        if (shutDown || fatal != null || channel != null) {
            return;
        }
        stats.connectAttempts.increment();
        // An unresolved address is resolved by the bootstrap's resolver.
        ChannelFuture f = bootstrap.connect(config.address);
        f.addListener(done -> {
            if (!done.isSuccess()) {
                scheduleReconnect();
            }
        });
    }

    private void scheduleReconnect() {
        if (shutDown || fatal != null || reconnectTask != null || channel != null) {
            return;
        }
        long delay = backoff.delayMs(reconnectAttempts++);
        reconnectTask = loop.schedule(() -> {
            reconnectTask = null;
            connect();
        }, delay, TimeUnit.MILLISECONDS);
    }

    void onActive(Channel ch) {
        if (shutDown) {
            ch.close();
            return;
        }
        channel = ch;
        ByteBuf preface = ch.alloc().buffer(Preface.LENGTH);
        Preface.write(preface, Preface.CURRENT_VERSION);
        ch.write(preface);
        ch.writeAndFlush(new Hello(Preface.CURRENT_VERSION, config.agentId, config.apiKey,
                config.checkAnnouncedLimits ? Map.of(Hello.OPTION_LIMITS, Hello.LIMITS_V1) : Map.of()));
    }

    void onHelloOk(Channel ch, HelloOk ok) {
        if (ch != channel) {
            return;
        }
        sessionReady = true;
        reconnectAttempts = 0;
        window = Math.min(config.maxInFlightBatches, ok.maxInFlightBatches());
        serverMaxFrameBytes = ok.maxFrameBytes();
        // A server that announces no limits list (an older one) is checked against the frame size only.
        SessionLimits limits = ok.limits() != null ? ok.limits() : SessionLimits.of(Map.of());
        serverMaxBlockBytes = limits.getInt(SessionLimits.Limit.MAX_BLOCK_BYTES, Integer.MAX_VALUE);
        limitCheck = new AnnouncedLimitCheck(limits);
        limits.get(SessionLimits.Limit.IDLE_TIMEOUT_MS).ifPresent(idleMs -> keepAlive(ch, idleMs));
        stats.sessions.increment();
        trySend();
    }

    /** PINGs every third of the server's idle timeout, so that a quiet session is not closed (SPEC.md §2.3 rule 5). */
    private void keepAlive(Channel ch, long idleMs) {
        cancelKeepAlive();
        long period = Math.max(MIN_KEEP_ALIVE_MS, idleMs / 3);
        keepAlive = loop.scheduleAtFixedRate(() -> {
            if (ch == channel && ch.isActive()) {
                ch.writeAndFlush(new Ping(System.nanoTime()));
            }
        }, period, period, TimeUnit.MILLISECONDS);
    }

    private void cancelKeepAlive() {
        if (keepAlive != null) {
            keepAlive.cancel(false);
            keepAlive = null;
        }
    }

    void onAck(Channel ch, long sequence) {
        PendingBatch p = inFlight.remove(sequence);
        if (ch != channel || p == null) {
            return;
        }
        stats.acks.increment();
        finish(p, null);
        if (draining && inFlight.isEmpty()) {
            ch.close();
        }
        trySend();
    }

    void onNack(Channel ch, Nack nack) {
        if (ch != channel) {
            return;
        }
        PendingBatch p = inFlight.remove(nack.sequence());
        if (p == null) {
            return;
        }
        stats.nacks.increment();
        if (nack.code().retriable()) {
            ready.add(p);
            pause(nack.retryAfterMs() > 0 ? nack.retryAfterMs() : backoff.ceilingMs(0));
        } else {
            finish(p, new BatchRejectedException(nack.code(), nack.message()));
        }
        trySend();
    }

    void onGoAway(Channel ch, GoAway goAway) {
        if (ch != channel) {
            return;
        }
        draining = true;
        if (inFlight.isEmpty()) {
            ch.close();
        }
    }

    void onError(Channel ch, ErrorFrame error) {
        if (ch != channel) {
            return;
        }
        ErrorCode code = error.code();
        if (!sessionReady && (code == ErrorCode.AUTH_FAILED || code == ErrorCode.UNSUPPORTED_VERSION)) {
            // Reconnecting cannot fix a bad key or version: fail everything now and refuse further sends.
            fatal = new BatchRejectedException(code, error.message());
            failAll(fatal);
        } else if (!code.retriable()) {
            List<PendingBatch> poisoned = new ArrayList<>();
            for (PendingBatch p : inFlight.values()) {
                if (++p.connectionErrors >= config.maxConnectionErrorsPerBatch) {
                    poisoned.add(p);
                }
            }
            for (PendingBatch p : poisoned) {
                inFlight.remove(p.sequence);
                finish(p, new BatchRejectedException(code, error.message()));
            }
        }
        ch.close();
    }

    void onInactive(Channel ch) {
        if (ch != channel) {
            return;
        }
        channel = null;
        sessionReady = false;
        draining = false;
        cancelKeepAlive();
        // Unacknowledged batches go back in sequence order, to be resent on the next connection, whose
        // dictionary starts empty again.
        ready.addAll(inFlight.values());
        stats.requeued.add(inFlight.size());
        inFlight.clear();
        connectionSeries.clear();
        scheduleReconnect();
    }

    void trySend() {
        Channel ch = channel;
        if (ch == null || !sessionReady || draining || shutDown) {
            return;
        }
        long now = System.nanoTime();
        if (now - pausedUntilNanos < 0) {
            scheduleResume(pausedUntilNanos - now);
            return;
        }
        boolean wrote = false;
        while (!ready.isEmpty() && inFlight.size() < window && ch.isWritable()) {
            PendingBatch p = ready.poll();
            ByteBuf block = ch.alloc().buffer(p.bytes + 64);
            RecordsWriter writer = new RecordsWriter(block, connectionSeries);
            // each of the batch's series looked up in the connection's dictionary once
            int[] ids = writer.idsOf(p.records.seriesTable());
            String violation = limitCheck.violation(p.records, ids);
            if (violation != null) {
                // The server would refuse it for good (SPEC.md §2.2): fail it without sending.
                block.release();
                stats.refusedLocally.increment();
                finish(p, new BatchRejectedException(ErrorCode.LIMIT_EXCEEDED, violation));
                continue;
            }
            writer.copyAll(p.records.cursor(), ids);
            writer.finish();
            int frameBytes = block.readableBytes() + BATCH_OVERHEAD;
            if (frameBytes > serverMaxFrameBytes || block.readableBytes() > serverMaxBlockBytes) {
                int blockBytes = block.readableBytes();
                block.release();
                finish(p, new BatchRejectedException(ErrorCode.FRAME_TOO_LARGE, "batch frame is "
                        + frameBytes + " bytes (records " + blockBytes + "), the server accepts frames up to "
                        + serverMaxFrameBytes + " bytes and records blocks up to " + serverMaxBlockBytes
                        + " bytes: send smaller batches"));
                // Its series are in our dictionary but the server never saw them: start a fresh connection.
                ch.close();
                return;
            }
            p.sends++;
            if (p.sends > 1) {
                stats.resends.increment();
            }
            inFlight.put(p.sequence, p);
            ch.write(Batch.outbound(p.sequence, block, config.compression));
            wrote = true;
        }
        if (wrote) {
            ch.flush();
        }
    }

    private void pause(long millis) {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        if (until - pausedUntilNanos > 0) {
            pausedUntilNanos = until;
        }
    }

    private void scheduleResume(long delayNanos) {
        if (resumeTask == null) {
            resumeTask = loop.schedule(() -> {
                resumeTask = null;
                trySend();
            }, delayNanos, TimeUnit.NANOSECONDS);
        }
    }

    private void finish(PendingBatch p, Throwable failure) {
        outstanding.remove(p.sequence);
        p.records.release();
        buffer.release(p.bytes);
        if (failure == null) {
            p.future.complete(null);
        } else {
            p.future.completeExceptionally(failure);
        }
    }

    private void failAll(RuntimeException failure) {
        List<PendingBatch> all = new ArrayList<>(inFlight.values());
        all.addAll(ready);
        inFlight.clear();
        ready.clear();
        for (PendingBatch p : all) {
            finish(p, failure);
        }
    }

    private void shutDownOnLoop() {
        shutDown = true;
        if (reconnectTask != null) {
            reconnectTask.cancel(false);
            reconnectTask = null;
        }
        if (resumeTask != null) {
            resumeTask.cancel(false);
            resumeTask = null;
        }
        cancelKeepAlive();
        failAll(new ClientClosedException("client closed before the batch was acknowledged"));
        if (channel != null) {
            channel.close();
        }
    }
}
