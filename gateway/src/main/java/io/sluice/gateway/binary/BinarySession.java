package io.sluice.gateway.binary;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.sluice.gateway.ingest.InFlightLimit;
import io.sluice.gateway.ratelimit.RateLimitDecision;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
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
import io.sluice.storage.auth.Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * One binary connection after its preface: HELLO → authenticate → HELLO_OK, then each BATCH → checks,
 * in-flight room, item quota → segments to Kafka → ACK once Kafka acknowledged all of them (SPEC.md §2:
 * one ACK or NACK per BATCH, in any order). Confined to the channel's event loop; the key lookup and the
 * Kafka acknowledgements hop back to it.
 *
 * <p>Ownership: every {@link Batch} that reaches this handler is released here, right after its records
 * were copied into segments (or when it is refused).
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
    private long sessionId;
    private int unanswered;
    private boolean goingAway;
    private boolean goAwaySent;

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
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
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
                // The agent is leaving: answer what it sent, then close.
                goingAway = true;
                goAwaySent = true;
                closeIfDrained();
            } else if (msg instanceof ErrorFrame error) {
                log.info("{} agent sent ERROR {}: {}", ctx.channel(), error.code(), error.message());
                close();
            }
            // PONG needs no answer.
        } finally {
            ReferenceCountUtil.release(msg);
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
            Throwable cause = io.sluice.gateway.http.DependencyErrors.unwrap(e);
            if (io.sluice.storage.postgres.PostgresCalls.isUnavailable(cause)) {
                fail(ErrorCode.RETRY_LATER, "the API key cannot be checked right now (PostgreSQL unavailable); "
                        + "reconnect in " + io.sluice.storage.postgres.PostgresCalls.RETRY_AFTER.toSeconds() + " s");
            } else {
                log.error("{} API key lookup failed", ctx.channel(), cause);
                fail(ErrorCode.INTERNAL_ERROR, "internal error while checking the API key; reconnect later");
            }
            return;
        }
        if (found.isEmpty()) {
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
        ctx.writeAndFlush(new HelloOk(sessionId, shared.maxFrameBytes, shared.maxInFlightBatches));
        if (goingAway) {
            goAway();
        }
    }

    private void onBatch(Batch batch) {
        if (state != State.READY) {
            shared.metrics.rejected("protocol_error", BinarySessions.TRANSPORT, 1);
            fail(ErrorCode.PROTOCOL_ERROR, "BATCH before HELLO_OK");
            return;
        }
        if (unanswered >= shared.maxInFlightBatches) {
            shared.metrics.rejected("window_exceeded", BinarySessions.TRANSPORT, 1);
            fail(ErrorCode.PROTOCOL_ERROR, "BATCH " + batch.sequence() + " exceeds the " + shared.maxInFlightBatches
                    + " unanswered BATCHes allowed per connection (maxInFlightBatches in HELLO_OK)");
            return;
        }
        unanswered++;
        long seq = batch.sequence();
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
        BatchChecks.Refusal refusal = shared.checks.check(principal.tenant(), batch);
        if (refusal != null) {
            refuse(seq, items, refusal.code(), 0, refusal.reason(), refusal.message());
            return;
        }
        long bytes = batch.recordBytes();
        if (!shared.inFlight.tryAcquire(items, bytes)) {
            refuse(seq, items, ErrorCode.RETRY_LATER, InFlightLimit.RETRY_AFTER_MS, InFlightLimit.REJECTION_REASON,
                    "the gateway has too much data in flight to Kafka (ingest.max-in-flight-items / -bytes)");
            return;
        }
        RateLimitDecision quota = shared.limiter.tryConsume(principal, TenantRateLimiter.Kind.ITEMS, items);
        if (!quota.allowed()) {
            shared.inFlight.release(items, bytes);
            if (quota.neverFits()) {
                refuse(seq, items, ErrorCode.LIMIT_EXCEEDED, 0, "item_quota", "a batch of " + items
                        + " items can never fit the tenant's item quota of " + quota.limit() + " per minute; split it");
            } else {
                refuse(seq, items, ErrorCode.THROTTLED, (int) Math.min(Integer.MAX_VALUE, quota.retryAfterMillis()),
                        "item_quota", "tenant " + principal.tenant() + " is over its item quota of " + quota.limit()
                                + " per minute");
            }
            return;
        }
        CompletableFuture<Void> durable;
        try {
            durable = shared.pipeline.submitBatch(principal.tenant(), batch);
        } catch (RuntimeException e) {
            shared.inFlight.release(items, bytes);
            log.error("{} could not encode BATCH {}", ctx.channel(), seq, e);
            refuse(seq, items, ErrorCode.INTERNAL_ERROR, SINK_FAILED_RETRY_AFTER_MS, "internal", "internal error");
            return;
        }
        int samples = batch.sampleCount();
        int events = batch.eventCount();
        durable.whenComplete((ok, err) -> {
            shared.inFlight.release(items, bytes);
            ctx.executor().execute(() -> {
                if (err != null) {
                    log.warn("{} BATCH {} of {} items for {} not acknowledged by Kafka: {}", ctx.channel(), seq, items,
                            principal.tenant(), err.toString());
                    refuse(seq, items, ErrorCode.RETRY_LATER, SINK_FAILED_RETRY_AFTER_MS, "unavailable",
                            "the batch could not be made durable; nothing was accepted, resend it");
                    return;
                }
                if (samples > 0) {
                    shared.metrics.accepted("samples", BinarySessions.TRANSPORT, samples);
                }
                if (events > 0) {
                    shared.metrics.accepted("events", BinarySessions.TRANSPORT, events);
                }
                answer(new Ack(seq));
            });
        });
    }

    private void refuse(long seq, int items, ErrorCode code, int retryAfterMs, String reason, String message) {
        shared.metrics.rejected(reason, BinarySessions.TRANSPORT, items);
        answer(new Nack(seq, code, retryAfterMs, message));
    }

    private void answer(Object ackOrNack) {
        unanswered--;
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
        if (goingAway && unanswered == 0 && state == State.READY) {
            close();
        }
    }

    private void fail(ErrorCode code, String message) {
        if (state == State.CLOSED) {
            return;
        }
        state = State.CLOSED;
        ctx.writeAndFlush(new ErrorFrame(code, message)).addListener(ChannelFutureListener.CLOSE);
    }

    private void close() {
        state = State.CLOSED;
        ctx.flush();
        ctx.close();
    }
}
