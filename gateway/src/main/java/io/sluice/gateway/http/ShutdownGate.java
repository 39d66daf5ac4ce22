package io.sluice.gateway.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.AttributeKey;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Graceful shutdown for HTTP, between the body aggregator and the router: counts the requests not answered
 * yet, and once {@link #close()} was called answers every new request with 503 {@code shutting_down} (the one
 * error shape, {@code Retry-After}, {@code Connection: close}) while the listener stays open and the requests
 * already admitted finish. Health and metrics stay served, so probes and scrapes see the shutdown.
 */
@ChannelHandler.Sharable
public final class ShutdownGate extends ChannelDuplexHandler {

    /** {@code Retry-After} of a request refused during shutdown: another node can take it at once. */
    public static final int RETRY_AFTER_SECONDS = 1;
    /** Served to the end: probes must see {@code /health/ready} turn 503, scrapes the last metrics. */
    static final Set<String> ALWAYS_SERVED = Set.of("/health/live", "/health/ready", "/metrics");

    /** Requests of one connection read but not answered yet; touched only on that connection's event loop. */
    private static final AttributeKey<int[]> UNANSWERED = AttributeKey.valueOf("sluice-http-unanswered");

    private final AtomicInteger unanswered = new AtomicInteger();
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
    private final Counter refused;
    private final RequestMetrics metrics;
    private volatile boolean closing;

    public ShutdownGate(MeterRegistry registry) {
        this.refused = Counter.builder("sluice_http_rejected")
                .description("HTTP requests refused before routing, by reason").tag("reason", "shutting_down")
                .register(registry);
        this.metrics = new RequestMetrics(registry, "shutdown");
    }

    /**
     * Starts refusing new requests.
     *
     * @return completes once every request admitted before has been answered (or its connection closed)
     */
    public CompletableFuture<Void> close() {
        closing = true;
        if (unanswered.get() == 0) {
            drained.complete(null);
        }
        return drained;
    }

    /** Requests read and not answered yet, over all connections. */
    public int unanswered() {
        return unanswered.get();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof FullHttpRequest request) {
            // Count first, then look at closing: close() either sees this request or this request sees closing.
            unanswered.incrementAndGet();
            open(ctx)[0]++;
            if (closing && !ALWAYS_SERVED.contains(new QueryStringDecoder(request.uri()).path())) {
                refuse(ctx, request);
                answered(ctx);
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse) {
            answered(ctx);
        }
        ctx.write(msg, promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        int[] open = open(ctx);
        while (open[0] > 0) {
            answered(ctx); // nobody can read those answers any more
        }
        ctx.fireChannelInactive();
    }

    private void refuse(ChannelHandlerContext ctx, FullHttpRequest request) {
        refused.increment();
        request.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE); // reconnect, perhaps elsewhere
        HttpExchange exchange = new HttpExchange(ctx, request, new QueryStringDecoder(request.uri()).path(), metrics);
        exchange.responseHeaders().set(HttpHeaderNames.RETRY_AFTER, RETRY_AFTER_SECONDS);
        exchange.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "shutting_down",
                "this gateway is shutting down; retry (another node, or this one once restarted)");
    }

    private void answered(ChannelHandlerContext ctx) {
        int[] open = open(ctx);
        if (open[0] == 0) {
            return; // an answer written after its connection closed: counted off already
        }
        open[0]--;
        if (unanswered.decrementAndGet() == 0 && closing) {
            drained.complete(null);
        }
    }

    private static int[] open(ChannelHandlerContext ctx) {
        int[] open = ctx.channel().attr(UNANSWERED).get();
        if (open == null) {
            open = new int[1];
            ctx.channel().attr(UNANSWERED).set(open);
        }
        return open;
    }
}
