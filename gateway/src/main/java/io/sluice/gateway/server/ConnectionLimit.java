package io.sluice.gateway.server;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts open connections and closes new ones beyond {@code server.max-connections}, counting each
 * refusal as {@code sluice_connections_rejected_total{reason="max_connections"}}.
 */
@ChannelHandler.Sharable
public final class ConnectionLimit extends ChannelInboundHandlerAdapter {

    private final int max;
    private final AtomicInteger open = new AtomicInteger();
    private final Counter rejected;

    public ConnectionLimit(int max, MeterRegistry registry) {
        this.max = max;
        Gauge.builder("sluice_connections_open", open, AtomicInteger::get)
                .description("Open client connections").register(registry);
        this.rejected = Counter.builder("sluice_connections_rejected")
                .description("Connections closed on accept").tag("reason", "max_connections").register(registry);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            rejected.increment();
            ctx.channel().config().setAutoRead(false);
            ctx.close();
            return;
        }
        ctx.channel().closeFuture().addListener(f -> open.decrementAndGet());
        super.channelActive(ctx);
    }

    public int open() {
        return open.get();
    }
}
