package io.sluice.protocol.frame;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Answers an {@link InvalidFrame} from the decoder with an ERROR frame carrying its code, then closes the
 * connection; passes every other message on. Must sit after {@link FrameDecoder} and {@link FrameEncoder}.
 */
@Sharable
public final class InvalidFrameHandler extends ChannelInboundHandlerAdapter {

    /** The shared instance. */
    public static final InvalidFrameHandler INSTANCE = new InvalidFrameHandler();

    private InvalidFrameHandler() {
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof InvalidFrame invalid) {
            ctx.writeAndFlush(new ErrorFrame(invalid.code(), invalid.message()))
                    .addListener(ChannelFutureListener.CLOSE);
        } else {
            ctx.fireChannelRead(msg);
        }
    }
}
