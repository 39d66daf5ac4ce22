package io.sluice.gateway.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;

/**
 * Hands a request that cannot have a body on as one {@code FullHttpRequest} with an empty body, right after
 * the HTTP codec: without it, such a request (every redirect's {@code GET}) is a head and an empty last
 * content, which the handlers after it each visit twice and the {@link BodyAggregator} gathers into a new
 * composite buffer. A request has no body when it declares neither {@code Content-Length} nor
 * {@code Transfer-Encoding} (RFC 9112 §6.3); one that also sends {@code Content-Encoding} or {@code Expect}
 * passes unchanged, so that the decompressor and the aggregator answer it as before. The empty last content
 * the codec then reads is dropped. One instance per connection.
 */
public final class BodilessRequests extends ChannelInboundHandlerAdapter {

    /** The codec's empty last content of a request passed on whole is still to come. */
    private boolean dropLast;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (dropLast && msg instanceof LastHttpContent last) {
            dropLast = false;
            if (!last.content().isReadable() && last.trailingHeaders().isEmpty()) {
                last.release();
                return;
            }
        }
        dropLast = false;
        if (msg instanceof HttpRequest request && !(msg instanceof HttpContent) && bodiless(request)) {
            dropLast = true;
            ctx.fireChannelRead(new DefaultFullHttpRequest(request.protocolVersion(), request.method(),
                    request.uri(), Unpooled.EMPTY_BUFFER, request.headers(), EmptyHttpHeaders.INSTANCE));
            return;
        }
        ctx.fireChannelRead(msg);
    }

    private static boolean bodiless(HttpRequest request) {
        HttpHeaders headers = request.headers();
        return request.decoderResult().isSuccess()
                && !headers.contains(HttpHeaderNames.CONTENT_LENGTH)
                && !headers.contains(HttpHeaderNames.TRANSFER_ENCODING)
                && !headers.contains(HttpHeaderNames.CONTENT_ENCODING)
                && !headers.contains(HttpHeaderNames.EXPECT);
    }
}
