package io.sluice.protocol.server;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.ErrorFrame;

/**
 * The last handler of a binary connection: turns any exception that reached the end of the pipeline into an
 * ERROR frame ({@link ErrorCode#INTERNAL_ERROR}, retriable) and a close, so nothing escapes to Netty's
 * tail handler and the agent learns why its connection ended.
 */
@Sharable
public final class ProtocolExceptionHandler extends ChannelInboundHandlerAdapter {

    /** The shared instance. */
    public static final ProtocolExceptionHandler INSTANCE = new ProtocolExceptionHandler();

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(ProtocolExceptionHandler.class);

    private ProtocolExceptionHandler() {
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!ctx.channel().isActive()) {
            return;
        }
        logger.warn("{} closing binary connection after an unhandled exception", ctx.channel(), cause);
        ctx.writeAndFlush(new ErrorFrame(ErrorCode.INTERNAL_ERROR, "internal error"))
                .addListener(ChannelFutureListener.CLOSE);
    }
}
