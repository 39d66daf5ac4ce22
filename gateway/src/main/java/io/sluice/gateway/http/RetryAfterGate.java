package io.sluice.gateway.http;

import io.micrometer.core.instrument.Counter;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * Makes a refusal cheap for a client that will not wait. A route that refuses a request with a 429 that every
 * request of the same kind would get until some time ({@link #toldToWait}: a tenant's request quota, a client
 * address's redirect limit) tells this gate so. A request of that kind on the same connection before that time
 * is answered 429 at once, before anything else reads it (no authentication, no bucket, no body: what it sends
 * is dropped as it arrives), and the connection's reads pause until that time. Other requests on the connection
 * (another tenant's behind a proxy, a smaller batch after an item-quota refusal) pass as before. The early
 * requests in a row beyond {@code server.early-retries} close the connection after their answer; any answer
 * other than a 429 ends the row. A connection that has carried requests with more than one {@code Authorization}
 * (or with and without one) is shared, as a proxy's connections are: its early requests are still answered at
 * once, but its reads never pause and it is never closed for them, so that one client's flood does not hold up
 * the others'. Each early request is counted in
 * {@code sluice_http_rejected_total{reason="early_retry"}}, each connection closed for them in
 * {@code {reason="early_retry_closed"}}.
 *
 * <p>One instance per connection, after {@link HttpTracing} (its answers carry trace ids and are logged like
 * any other) and before the body is decompressed or gathered.
 */
public final class RetryAfterGate extends ChannelDuplexHandler {

    private static final AttributeKey<RetryAfterGate> GATE = AttributeKey.valueOf("sluice-retry-after-gate");

    private final int earlyRetries;
    private final LongSupplier nanoClock;
    private final Counter early;
    private final Counter closed;
    /** When the last 429's Retry-After runs out ({@link #nanoClock} time); meaningful while {@link #waiting}. */
    private long retryAt;
    private boolean waiting;
    /** The requests that 429 applies to. */
    private Predicate<HttpRequest> scope;
    /** Early requests since the last answer that was not a 429. */
    private int strikes;
    /** The rest of an early request (its body) is still arriving: dropped. */
    private boolean dropping;
    /** Reads are paused until {@link #retryAt}. */
    private boolean paused;
    /** The {@code Authorization} of the first request read ("" for none). */
    private String firstCredential;
    /** Requests of more than one credential came on this connection (a proxy's): never paused or closed. */
    private boolean shared;

    /**
     * @param earlyRetries {@code server.early-retries}
     * @param nanoClock    the time Retry-After is measured in ({@code System::nanoTime}; tests pass their own)
     */
    public RetryAfterGate(int earlyRetries, LongSupplier nanoClock, Counter early, Counter closed) {
        this.earlyRetries = earlyRetries;
        this.nanoClock = nanoClock;
        this.early = early;
        this.closed = closed;
    }

    /**
     * Records that the request being answered on {@code channel} was refused with {@code Retry-After:
     * retryAfterSeconds}, and that every request {@code scope} accepts would be refused too until then. Call on
     * the channel's event loop (a route's code runs there); a channel without this gate ignores it.
     */
    public static void toldToWait(Channel channel, long retryAfterSeconds, Predicate<HttpRequest> scope) {
        RetryAfterGate gate = channel.attr(GATE).get();
        if (gate != null) {
            gate.retryAt = gate.nanoClock.getAsLong() + TimeUnit.SECONDS.toNanos(retryAfterSeconds);
            gate.scope = scope;
            gate.waiting = true;
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        ctx.channel().attr(GATE).set(this);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (dropping) {
            if (msg instanceof HttpContent) {
                dropping = !(msg instanceof LastHttpContent);
                ReferenceCountUtil.release(msg);
                return;
            }
            dropping = false;
        }
        if (msg instanceof HttpRequest request && !shared) {
            String credential = request.headers().get(HttpHeaderNames.AUTHORIZATION, "");
            if (firstCredential == null) {
                firstCredential = credential;
            } else if (!firstCredential.equals(credential)) {
                shared = true;
            }
        }
        if (msg instanceof HttpRequest request && waiting) {
            long left = retryAt - nanoClock.getAsLong();
            if (left <= 0) {
                waiting = false;
            } else if (scope.test(request)) {
                refuse(ctx, request, left);
                dropping = !(msg instanceof LastHttpContent);
                ReferenceCountUtil.release(msg);
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    private void refuse(ChannelHandlerContext ctx, HttpRequest request, long nanosLeft) {
        early.increment();
        strikes++;
        long seconds = Math.max(1, (nanosLeft + 999_999_999L) / 1_000_000_000L);
        boolean close = strikes > earlyRetries && !shared || !HttpUtil.isKeepAlive(request);
        FullHttpResponse response = ApiErrors.response(ctx.alloc(), HttpResponseStatus.TOO_MANY_REQUESTS,
                "rate_limited", "sent before the Retry-After of this connection's last 429 ran out; retry after "
                        + seconds + " s" + (close ? " on a new connection" : ""));
        response.headers().set(HttpHeaderNames.RETRY_AFTER, seconds);
        if (close) {
            if (strikes > earlyRetries && !shared) {
                closed.increment();
            }
            HttpUtil.setKeepAlive(response, false);
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        ctx.writeAndFlush(response, ctx.voidPromise());
        if (shared) {
            return; // other clients' requests come on this connection too: they are not held up
        }
        // what is already read is still answered (each early one like this); nothing more is read until then
        paused = true;
        ctx.channel().config().setAutoRead(false);
        ctx.executor().schedule(() -> {
            paused = false;
            if (ctx.channel().isActive()) {
                ctx.channel().config().setAutoRead(true);
            }
        }, nanosLeft, TimeUnit.NANOSECONDS);
    }

    /**
     * While paused, the handlers after this one do not get to ask for a read: the decoders among them ask for one
     * whenever a read gave them nothing (here: a request this handler kept from them), which would undo the pause.
     */
    @Override
    public void read(ChannelHandlerContext ctx) {
        if (!paused) {
            ctx.read();
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse response && response.status().codeClass() != HttpStatusClass.INFORMATIONAL
                && response.status().code() != 429) {
            strikes = 0;
        }
        ctx.write(msg, promise);
    }
}
