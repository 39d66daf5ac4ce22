package io.sluice.protocol.client;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.sluice.protocol.frame.Ack;
import io.sluice.protocol.frame.ErrorFrame;
import io.sluice.protocol.frame.GoAway;
import io.sluice.protocol.frame.HelloOk;
import io.sluice.protocol.frame.InvalidFrame;
import io.sluice.protocol.frame.Nack;
import io.sluice.protocol.frame.Ping;
import io.sluice.protocol.frame.Pong;

/**
 * The client's handler on one connection: passes the server's frames to its {@link SluiceClient}, answers
 * PINGs, and closes the connection on malformed input or any exception (the client then reconnects).
 */
final class ClientHandler extends ChannelInboundHandlerAdapter {

    private final SluiceClient client;

    ClientHandler(SluiceClient client) {
        this.client = client;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        client.onActive(ctx.channel());
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof Ack ack) {
                client.onAck(ctx.channel(), ack.sequence());
            } else if (msg instanceof Nack nack) {
                client.onNack(ctx.channel(), nack);
            } else if (msg instanceof HelloOk ok) {
                client.onHelloOk(ctx.channel(), ok);
            } else if (msg instanceof Ping ping) {
                ctx.writeAndFlush(new Pong(ping.payload()));
            } else if (msg instanceof GoAway goAway) {
                client.onGoAway(ctx.channel(), goAway);
            } else if (msg instanceof ErrorFrame error) {
                client.onError(ctx.channel(), error);
            } else if (msg instanceof InvalidFrame) {
                ctx.close();
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        client.trySend();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        client.onInactive(ctx.channel());
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
