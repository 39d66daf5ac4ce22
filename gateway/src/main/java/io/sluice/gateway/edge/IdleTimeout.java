package io.sluice.gateway.edge;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Ticker;

import java.util.concurrent.TimeUnit;

/**
 * Closes a connection that has neither read anything nor started a write for {@code server.idle-timeout}.
 *
 * <p>Netty's {@code IdleStateHandler} in its all-idle mode does the same, but learns of writes by a listener on
 * each write's promise: every answer's void promise became a real one with a listener list, notified after the
 * write. Here a write counts when it is made. A write that never completes (a client that stopped reading) is
 * no activity either, so such a connection is still closed one timeout after it.
 */
final class IdleTimeout extends ChannelDuplexHandler {

    private final long timeoutNanos;
    private Ticker ticker;
    private long lastActivity;
    private Future<?> check;

    IdleTimeout(long timeout, TimeUnit unit) {
        this.timeoutNanos = Math.max(1, unit.toNanos(timeout));
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive() && ctx.channel().isRegistered()) {
            start(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        start(ctx);
        super.channelActive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        stop();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        stop();
        super.channelInactive(ctx);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        if (ticker != null) {
            lastActivity = ticker.nanoTime();
        }
        super.channelReadComplete(ctx);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (ticker != null) {
            lastActivity = ticker.nanoTime();
        }
        ctx.write(msg, promise);
    }

    private void start(ChannelHandlerContext ctx) {
        if (check != null) {
            return;
        }
        ticker = ctx.executor().ticker();
        lastActivity = ticker.nanoTime();
        check = ctx.executor().schedule(() -> check(ctx), timeoutNanos, TimeUnit.NANOSECONDS);
    }

    private void check(ChannelHandlerContext ctx) {
        if (!ctx.channel().isOpen()) {
            return;
        }
        long left = timeoutNanos - (ticker.nanoTime() - lastActivity);
        if (left <= 0) {
            ctx.close();
        } else {
            check = ctx.executor().schedule(() -> check(ctx), left, TimeUnit.NANOSECONDS);
        }
    }

    private void stop() {
        if (check != null) {
            check.cancel(false);
            check = null;
        }
    }
}
