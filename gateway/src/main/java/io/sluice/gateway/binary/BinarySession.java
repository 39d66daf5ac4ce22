package io.sluice.gateway.binary;

import io.sluice.gateway.http.DependencyErrors;
import io.sluice.storage.postgres.PostgresCalls;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.sluice.gateway.ingest.Admission;
import io.sluice.gateway.ingest.IngestPipeline;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Ack;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.frame.ErrorFrame;
import io.sluice.protocol.frame.GoAway;
import io.sluice.protocol.frame.Hello;
import io.sluice.protocol.frame.HelloOk;
import io.sluice.protocol.frame.Nack;
import io.sluice.protocol.frame.Ping;
import io.sluice.protocol.frame.Pong;
import io.sluice.protocol.frame.ProtocolMessage;
import io.sluice.storage.auth.Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One binary connection after its preface: HELLO → authenticate → HELLO_OK, then each BATCH → checks,
 * in-flight room, item quota → segments to Kafka → ACK once Kafka acknowledged all of them (SPEC.md §2:
 * one ACK or NACK per BATCH, in any order). Confined to the channel's event loop; the key lookup and the
 * Kafka acknowledgements hop back to it.
 *
 * <p>Frame rules it enforces (SPEC.md §2.3): a BATCH that arrives while the HELLO is still being checked
 * is held and handled right after HELLO_OK (dropped if the HELLO fails); at most
 * {@code maxInFlightBatches} unanswered BATCHes, each with a sequence number not already in flight
 * (ERROR PROTOCOL_ERROR otherwise); after the client's own GOAWAY, no further BATCH (ERROR
 * PROTOCOL_ERROR); after the server's GOAWAY, a BATCH is NACKed SHUTTING_DOWN. An unsolicited PONG is
 * ignored; a client ERROR closes the connection without answering what is in flight.
 *
 * <p>Ownership: every {@link Batch} that reaches this handler is released here, right after its records
 * were copied into segments (or when it is refused, or when a held batch is dropped).
 */
public final class BinarySession extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(BinarySession.class);

    /** Retry-after of a NACK RETRY_LATER when Kafka did not acknowledge (the circuit breaker's business later). */
    static final int SINK_FAILED_RETRY_AFTER_MS = 5000;

    private enum State { AWAITING_HELLO, AUTHENTICATING, READY, CLOSED }

    private final BinarySessions shared;
    private ChannelHandlerContext ctx;
    private State state = State.AWAITING_HELLO;
    private Principal principal;
    /** What earlier batches of this connection settled about its series ({@link BatchChecks.Memory}). */
    private final BatchChecks.Memory seriesMemory = new BatchChecks.Memory();
    /** Where this connection's series go, and the segments its batches fill ({@link IngestPipeline.ConnectionSegments}). */
    private final IngestPipeline.ConnectionSegments segments = new IngestPipeline.ConnectionSegments();
    /** Whether a task that sends {@link #segments} is queued on the event loop. */
    private boolean flushQueued;
    /** That task, when it waits for {@code binary.flush-delay}. */
    private ScheduledFuture<?> delayedFlush;
    private long sessionId;
    private int unanswered;
    /** Sequence numbers of BATCHes received and not yet answered. */
    private final Set<Long> inFlightSequences = new HashSet<>();
    /** BATCHes that arrived while the HELLO was being checked, in order; owned here until handled. */
    private final ArrayDeque<Batch> held = new ArrayDeque<>();
    private boolean goingAway;
    private boolean goAwaySent;
    /** The client sent GOAWAY: it sends no more BATCHes and waits for the answers to the others. */
    private boolean clientLeaving;
    /** The client sent GOAWAY while its HELLO was being checked: it leaves once the held BATCHes are handled. */
    private boolean clientLeavingAfterHello;

    BinarySession(BinarySessions shared) {
        this.shared = shared;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        ctx.channel().closeFuture().addListener(f -> state = State.CLOSED);
        shared.register(ctx.channel());
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseHeld();
        // the connection is gone: its unanswered batches are resent by the client, not sent to Kafka from here
        shared.pipeline.discard(segments, new ClosedChannelException());
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Batch batch && state == State.AUTHENTICATING) {
            hold(batch);
            return;
        }
        try {
            if (state == State.CLOSED) {
                return;
            }
            if (msg instanceof Batch batch) {
                onBatch(batch);
            } else if (msg instanceof Hello hello) {
                onHello(hello);
            } else if (msg instanceof Ping ping) {
                ctx.writeAndFlush(new Pong(ping.payload()));
            } else if (msg instanceof GoAway) {
                // The agent is leaving: answer what it sent (held BATCHes too), then close.
                if (state == State.AUTHENTICATING) {
                    clientLeavingAfterHello = true;
                } else {
                    clientLeaving = true;
                    closeIfDrained();
                }
            } else if (msg instanceof ErrorFrame error) {
                log.info("{} agent sent ERROR {}: {}", ctx.channel(), error.code(), error.message());
                close();
            }
            // An unsolicited PONG needs no answer and changes nothing (it still counts as traffic for the idle timer).
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    /** A BATCH sent before HELLO_OK arrived: SPEC.md §2.3 lets the server handle it once the HELLO passed. */
    private void hold(Batch batch) {
        if (clientLeavingAfterHello) {
            batch.release();
            shared.metrics.rejected("protocol_error", BinarySessions.TRANSPORT, 1);
            fail(ErrorCode.PROTOCOL_ERROR, "BATCH " + batch.sequence() + " after the client's GOAWAY");
            return;
        }
        if (held.size() >= shared.maxInFlightBatches) {
            batch.release();
            shared.metrics.rejected("window_exceeded", BinarySessions.TRANSPORT, 1);
            fail(ErrorCode.PROTOCOL_ERROR, "more than " + shared.maxInFlightBatches
                    + " BATCHes sent before HELLO_OK (maxInFlightBatches in HELLO_OK)");
            return;
        }
        held.add(batch);
    }

    private void releaseHeld() {
        Batch b;
        while ((b = held.poll()) != null) {
            b.release();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt == BinarySessions.GoAwayEvent.INSTANCE) {
            goAway();
        } else {
            super.userEventTriggered(ctx, evt);
        }
    }

    private void onHello(Hello hello) {
        state = State.AUTHENTICATING;
        CompletableFuture<Optional<Principal>> lookup = shared.authenticator.authenticate(hello.apiKey());
        if (lookup.isDone()) {
            authenticated(hello, lookup);
        } else {
            lookup.whenComplete((p, e) -> ctx.executor().execute(() -> authenticated(hello, lookup)));
        }
    }

    private void authenticated(Hello hello, CompletableFuture<Optional<Principal>> lookup) {
        if (state != State.AUTHENTICATING) {
            return;
        }
        Optional<Principal> found;
        try {
            found = lookup.join();
        } catch (RuntimeException e) {
            // Counted by the authenticator (sluice_auth_rejected{reason="postgres_unavailable"}).
            Throwable cause = DependencyErrors.unwrap(e);
            if (PostgresCalls.isUnavailable(cause)) {
                fail(ErrorCode.RETRY_LATER, "the API key cannot be checked right now (PostgreSQL unavailable); "
                        + "reconnect in " + PostgresCalls.RETRY_AFTER.toSeconds() + " s");
            } else {
                log.error("{} API key lookup failed", ctx.channel(), cause);
                fail(ErrorCode.INTERNAL_ERROR, "internal error while checking the API key; reconnect later");
            }
            return;
        }
        if (found.isEmpty()) {
            releaseHeld();
            shared.metrics.rejected("auth_failed", BinarySessions.TRANSPORT, 1);
            fail(ErrorCode.AUTH_FAILED, "missing, unknown or revoked API key");
            return;
        }
        principal = found.get();
        sessionId = shared.newSessionId();
        state = State.READY;
        shared.sessionOpened();
        log.debug("{} session {} for tenant {} (agent {})", ctx.channel(), Long.toHexString(sessionId),
                principal.tenant(), hello.agentId());
        ctx.writeAndFlush(new HelloOk(sessionId, shared.maxFrameBytes, shared.maxInFlightBatches,
                hello.wantsLimits() ? shared.announcedLimits : null));
        Batch early;
        while ((early = held.poll()) != null) {
            try {
                if (state == State.READY) {
                    onBatch(early);
                }
            } finally {
                early.release();
            }
        }
        clientLeaving = clientLeavingAfterHello;
        if (goingAway) {
            goAway();
        } else {
            closeIfDrained();
        }
    }

    private void onBatch(Batch batch) {
        if (state != State.READY) {
            shared.metrics.rejected("protocol_error", BinarySessions.TRANSPORT, 1);
            fail(ErrorCode.PROTOCOL_ERROR, "BATCH before HELLO");
            return;
        }
        if (clientLeaving) {
            shared.metrics.rejected("protocol_error", BinarySessions.TRANSPORT, 1);
            fail(ErrorCode.PROTOCOL_ERROR, "BATCH " + batch.sequence() + " after the client's GOAWAY");
            return;
        }
        if (unanswered >= shared.maxInFlightBatches) {
            shared.metrics.rejected("window_exceeded", BinarySessions.TRANSPORT, 1);
            fail(ErrorCode.PROTOCOL_ERROR, "BATCH " + batch.sequence() + " exceeds the " + shared.maxInFlightBatches
                    + " unanswered BATCHes allowed per connection (maxInFlightBatches in HELLO_OK)");
            return;
        }
        long seq = batch.sequence();
        if (!inFlightSequences.add(seq)) {
            shared.metrics.rejected("duplicate_sequence", BinarySessions.TRANSPORT, 1);
            fail(ErrorCode.PROTOCOL_ERROR, "BATCH " + Long.toUnsignedString(seq)
                    + " is already in flight on this connection: sequence numbers of unanswered BATCHes must differ");
            return;
        }
        unanswered++;
        int items = batch.sampleCount() + batch.eventCount();
        if (goingAway) {
            refuse(seq, items, ErrorCode.SHUTTING_DOWN, 0, "shutting_down",
                    "the gateway is shutting down (GOAWAY sent); resend on a new connection");
            return;
        }
        if (items == 0) {
            answer(new Ack(seq));
            return;
        }
        BatchChecks.Refusal refusal = shared.checks.check(principal.tenant(), batch, seriesMemory);
        if (refusal != null) {
            refuse(seq, items, refusal.code(), 0, refusal.reason(), refusal.message());
            return;
        }
        long bytes = batch.recordBytes();
        Admission.BatchVerdict verdict = shared.admission.admitBatch(principal, BinarySessions.TRANSPORT, items, bytes);
        if (!verdict.admitted()) {
            ErrorCode code = switch (verdict.outcome()) {
                case SATURATED -> ErrorCode.RETRY_LATER;
                case THROTTLED -> ErrorCode.THROTTLED;
                default -> ErrorCode.LIMIT_EXCEEDED;
            };
            answer(new Nack(seq, code, (int) Math.min(Integer.MAX_VALUE, verdict.retryAfterMs()),
                    verdict.refusal().message()));
            return;
        }
        CompletableFuture<Void> durable;
        try {
            durable = shared.pipeline.submitBatch(principal.tenant(), batch, segments);
        } catch (RuntimeException e) {
            shared.admission.release(items, bytes);
            log.error("{} could not encode BATCH {}", ctx.channel(), seq, e);
            refuse(seq, items, ErrorCode.INTERNAL_ERROR, SINK_FAILED_RETRY_AFTER_MS, "internal", "internal error");
            return;
        }
        // Sent binary.flush-delay after the first batch, so that the batches in between share their segments (each
        // series defined once in each); but once the event loop has handled what it read when the delay is 0, or
        // when the client may send nothing more before an answer (its window is full).
        boolean windowFull = unanswered >= shared.maxInFlightBatches;
        if (!flushQueued) {
            flushQueued = true;
            if (shared.flushDelayNanos > 0 && !windowFull) {
                delayedFlush = ctx.executor().schedule(this::flushSegments, shared.flushDelayNanos,
                        TimeUnit.NANOSECONDS);
            } else {
                ctx.executor().execute(this::flushSegments);
            }
        } else if (windowFull && delayedFlush != null) {
            delayedFlush.cancel(false);
            delayedFlush = null;
            ctx.executor().execute(this::flushSegments);
        }
        int samples = batch.sampleCount();
        int events = batch.eventCount();
        durable.whenComplete((ok, err) -> {
            shared.admission.release(items, bytes);
            ctx.executor().execute(() -> {
                if (err != null && DependencyErrors.unwrap(err) instanceof ClosedChannelException) {
                    return; // discarded unsent when the connection closed: nobody to answer, nothing was accepted
                }
                if (err != null) {
                    log.warn("{} BATCH {} of {} items for {} not acknowledged by Kafka: {}", ctx.channel(), seq, items,
                            principal.tenant(), err.toString());
                    refuse(seq, items, ErrorCode.RETRY_LATER, SINK_FAILED_RETRY_AFTER_MS, "unavailable",
                            "the batch could not be made durable; nothing was accepted, resend it");
                    return;
                }
                if (samples > 0) {
                    shared.admission.accepted(principal.tenant(), "samples", BinarySessions.TRANSPORT, samples);
                }
                if (events > 0) {
                    shared.admission.accepted(principal.tenant(), "events", BinarySessions.TRANSPORT, events);
                }
                answer(new Ack(seq));
            });
        });
    }

    private void flushSegments() {
        flushQueued = false;
        delayedFlush = null;
        shared.pipeline.flush(segments);
    }

    private void refuse(long seq, int items, ErrorCode code, int retryAfterMs, String reason, String message) {
        shared.metrics.rejected(reason, BinarySessions.TRANSPORT, items);
        answer(new Nack(seq, code, retryAfterMs, message));
    }

    private void answer(ProtocolMessage ackOrNack) {
        unanswered--;
        inFlightSequences.remove(ackOrNack instanceof Ack ack ? ack.sequence() : ((Nack) ackOrNack).sequence());
        if (state == State.CLOSED) {
            return;
        }
        ctx.writeAndFlush(ackOrNack);
        closeIfDrained();
    }

    /** GOAWAY: take no new batches, answer those in flight, then close (SPEC.md §2, session step 6). */
    private void goAway() {
        goingAway = true;
        if (state == State.AWAITING_HELLO) {
            close();
            return;
        }
        if (state == State.READY && !goAwaySent) {
            goAwaySent = true;
            ctx.writeAndFlush(new GoAway(ErrorCode.SHUTTING_DOWN, "the gateway is shutting down; reconnect"));
        }
        closeIfDrained();
    }

    private void closeIfDrained() {
        if ((goingAway || clientLeaving) && unanswered == 0 && state == State.READY) {
            close();
        }
    }

    private void fail(ErrorCode code, String message) {
        if (state == State.CLOSED) {
            return;
        }
        state = State.CLOSED;
        releaseHeld();
        ctx.writeAndFlush(new ErrorFrame(code, message)).addListener(ChannelFutureListener.CLOSE);
    }

    private void close() {
        state = State.CLOSED;
        ctx.flush();
        ctx.close();
    }
}
