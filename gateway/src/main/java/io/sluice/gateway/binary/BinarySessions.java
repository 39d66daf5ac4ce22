package io.sluice.gateway.binary;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.sluice.config.EdgeConfig;
import io.sluice.config.IngestConfig;
import io.sluice.gateway.auth.Authenticator;
import io.sluice.gateway.ingest.Admission;
import io.sluice.gateway.ingest.InFlightLimit;
import io.sluice.gateway.ingest.IngestMetrics;
import io.sluice.gateway.ingest.IngestPipeline;
import io.sluice.protocol.frame.FrameLimits;
import io.sluice.protocol.frame.InvalidFrame;
import io.sluice.protocol.frame.SessionLimits;
import io.sluice.protocol.frame.SessionLimits.Limit;
import io.sluice.protocol.record.RecordLimits;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Everything binary sessions share: the collaborators a {@link BinarySession} needs, the open sessions (for
 * GOAWAY at shutdown and for pausing reads when too much is in flight), and their metrics.
 *
 * <table>
 *   <caption>Limits</caption>
 *   <tr><th>setting</th><th>announced as</th><th>when exceeded</th></tr>
 *   <tr><td>{@code binary.max-frame-bytes}</td><td>HELLO_OK maxFrameBytes</td><td>ERROR FRAME_TOO_LARGE, close</td></tr>
 *   <tr><td>{@code binary.max-in-flight-batches}</td><td>HELLO_OK maxInFlightBatches</td><td>ERROR PROTOCOL_ERROR, close</td></tr>
 *   <tr><td>{@code ingest.max-in-flight-items}, {@code -bytes}</td><td>—</td><td>reads pause; NACK RETRY_LATER</td></tr>
 *   <tr><td>{@code tenants.*.items-per-minute}</td><td>—</td><td>NACK THROTTLED with the bucket's retry-after</td></tr>
 * </table>
 *
 * <p>A client whose HELLO asks for it also gets HELLO_OK's limits list ({@link #announcedLimits}): the
 * codec's record limits, the ingest settings every record is checked against, and {@code server.idle-timeout}.
 */
public final class BinarySessions {

    /** The {@code transport} tag of this transport's ingest metrics. */
    static final String TRANSPORT = "binary";

    final Authenticator authenticator;
    final Admission admission;
    final BatchChecks checks;
    final IngestPipeline pipeline;
    final IngestMetrics metrics;
    final InFlightLimit inFlight;
    final int maxFrameBytes;
    final int maxInFlightBatches;
    /** {@code binary.flush-delay}: how long a connection's accepted batches wait for more before going to Kafka. */
    final long flushDelayNanos;
    final SessionLimits announcedLimits;
    private final FrameLimits frameLimits;
    private final ChannelGroup channels = new DefaultChannelGroup("binary-sessions", GlobalEventExecutor.INSTANCE);
    private final Counter opened;
    private final ChannelHandler errorCounter;
    private volatile boolean goingAway;

    public BinarySessions(EdgeConfig edge, IngestConfig ingest, Duration idleTimeout, Authenticator authenticator,
                          Admission admission, IngestPipeline pipeline, IngestMetrics metrics, InFlightLimit inFlight,
                          MeterRegistry registry) {
        this.authenticator = authenticator;
        this.admission = admission;
        this.checks = new BatchChecks(admission);
        this.pipeline = pipeline;
        this.metrics = metrics;
        this.inFlight = inFlight;
        this.maxFrameBytes = edge.maxFrameBytes();
        this.maxInFlightBatches = edge.maxInFlightBatches();
        this.flushDelayNanos = edge.flushDelay().toNanos();
        this.frameLimits = FrameLimits.builder().maxFrameBytes(edge.maxFrameBytes()).build();
        this.announcedLimits = announcedLimits(ingest, frameLimits.records(), idleTimeout);
        this.opened = Counter.builder("sluice_binary_sessions").description("Binary sessions that passed HELLO")
                .register(registry);
        Gauge.builder("sluice_binary_connections_open", channels, ChannelGroup::size)
                .description("Open binary connections").register(registry);
        Gauge.builder("sluice_binary_connections_paused", channels,
                        group -> group.stream().filter(ch -> !ch.config().isAutoRead()).count())
                .description("Binary connections not reading their sockets (ingest.max-in-flight-*)").register(registry);
        this.errorCounter = new InvalidFrameCounter(metrics);
        inFlight.onPauseChange(this::applyReadPause);
    }

    /**
     * HELLO_OK's limits list (SPEC.md §2.2): what this gateway enforces on every BATCH, the stricter of the
     * codec's limit and the ingest setting where both apply. Lengths are UTF-8 bytes.
     */
    static SessionLimits announcedLimits(IngestConfig ingest, RecordLimits records, Duration idleTimeout) {
        int strings = records.maxStringBytes();
        return SessionLimits.of(Map.ofEntries(
                Map.entry(Limit.MAX_STRING_BYTES, (long) strings),
                Map.entry(Limit.MAX_BLOCK_BYTES, (long) records.maxBlockBytes()),
                Map.entry(Limit.MAX_RECORDS_PER_BLOCK, (long) records.maxRecordsPerBlock()),
                Map.entry(Limit.MAX_LABELS_PER_SERIES, (long) Math.min(records.maxLabelsPerSeries(), ingest.maxLabels())),
                Map.entry(Limit.MAX_ATTRIBUTES_PER_EVENT, (long) Math.min(records.maxAttributesPerEvent(), ingest.maxLabels())),
                Map.entry(Limit.MAX_SERIES_PER_CONNECTION, (long) records.maxSeriesPerDictionary()),
                Map.entry(Limit.MAX_NAME_BYTES, (long) Math.min(strings, ingest.maxNameLength())),
                Map.entry(Limit.MAX_LABEL_NAME_BYTES, (long) Math.min(strings, ingest.maxLabelNameLength())),
                Map.entry(Limit.MAX_LABEL_VALUE_BYTES, (long) Math.min(strings, ingest.maxLabelValueLength())),
                Map.entry(Limit.LATE_WINDOW_MS, ingest.lateWindow().toMillis()),
                Map.entry(Limit.CLOCK_SKEW_MS, ingest.clockSkew().toMillis()),
                Map.entry(Limit.IDLE_TIMEOUT_MS, idleTimeout.toMillis())));
    }

    /** Limits for the connection's frame decoder. */
    public FrameLimits frameLimits() {
        return frameLimits;
    }

    /** A handler for one new binary connection. */
    public BinarySession newSession() {
        return new BinarySession(this);
    }

    /** A sharable handler, placed before the invalid-frame handler, that counts malformed input by code. */
    public ChannelHandler invalidFrameCounter() {
        return errorCounter;
    }

    long newSessionId() {
        return ThreadLocalRandom.current().nextLong();
    }

    /** Called by a session once its HELLO passed. */
    void sessionOpened() {
        opened.increment();
    }

    /** Called by a session when it is added to its connection's pipeline. */
    void register(Channel channel) {
        channels.add(channel);
        if (goingAway) {
            channel.eventLoop().execute(() -> channel.pipeline().fireUserEventTriggered(GoAwayEvent.INSTANCE));
        }
        applyReadPause(channel);
    }

    boolean goingAway() {
        return goingAway;
    }

    /**
     * Sends GOAWAY on every session: each stops taking new batches, answers those it has, then closes.
     * The future completes when every binary connection is closed (the caller bounds the wait).
     */
    public CompletableFuture<Void> goAway() {
        goingAway = true;
        CompletableFuture<?>[] closed = channels.stream().map(ch -> {
            CompletableFuture<Void> done = new CompletableFuture<>();
            ch.closeFuture().addListener(f -> done.complete(null));
            ch.eventLoop().execute(() -> ch.pipeline().fireUserEventTriggered(GoAwayEvent.INSTANCE));
            return done;
        }).toArray(CompletableFuture[]::new);
        return CompletableFuture.allOf(closed);
    }

    private void applyReadPause() {
        for (Channel ch : channels) {
            applyReadPause(ch);
        }
    }

    private void applyReadPause(Channel ch) {
        ch.eventLoop().execute(() -> {
            boolean read = !inFlight.readsPaused();
            if (ch.config().isAutoRead() != read) {
                ch.config().setAutoRead(read);
            }
        });
    }

    /** The event that makes a session send GOAWAY. */
    enum GoAwayEvent {
        INSTANCE
    }

    /** Counts each malformed-input ERROR as {@code sluice_ingest_rejected_total{reason=<code>,transport=binary}}. */
    @ChannelHandler.Sharable
    private static final class InvalidFrameCounter extends ChannelInboundHandlerAdapter {
        private final IngestMetrics metrics;

        InvalidFrameCounter(IngestMetrics metrics) {
            this.metrics = metrics;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof InvalidFrame invalid) {
                metrics.rejected(invalid.code().name().toLowerCase(Locale.ROOT), TRANSPORT, 1);
            }
            ctx.fireChannelRead(msg);
        }
    }
}
