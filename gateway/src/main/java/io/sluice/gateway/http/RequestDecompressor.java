package io.sluice.gateway.http;

import io.micrometer.core.instrument.Counter;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContentDecompressor;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;

/**
 * Decodes request bodies sent with {@code Content-Encoding: gzip} or {@code deflate} ({@code x-gzip},
 * {@code x-deflate}; {@code identity} or none passes through) and refuses every other encoding, rather than
 * handing a route bytes it cannot read. Refusals are answered in the API's error shape, counted in
 * {@code sluice_http_rejected_total{reason}}, and end the connection:
 *
 * <ul>
 *   <li>415 {@code unsupported_encoding}: any other encoding (e.g. {@code br}, a list of encodings);</li>
 *   <li>400 {@code invalid_encoding}: a body that does not decode as its declared encoding.</li>
 * </ul>
 *
 * <p>{@code Content-Encoding: snappy} passes through untouched to {@value #SNAPPY_PATH} only (Prometheus
 * remote_write: snappy <em>block</em> format, a whole-message encoding the route decodes and bounds itself);
 * on any other path it is refused like every unsupported encoding.
 *
 * <p>One instance per connection. The decompressed size is limited by the {@link BodyAggregator} after it.
 */
public final class RequestDecompressor extends HttpContentDecompressor {

    /** The encodings a request body may have, as the 415 answer names them. */
    public static final String SUPPORTED = "gzip, deflate, identity";

    /** The one path whose requests may carry {@code Content-Encoding: snappy} (Prometheus remote_write). */
    public static final String SNAPPY_PATH = "/api/v1/write";

    private final Counter unsupported;
    private final Counter invalid;
    private String encoding;
    private String path;
    private boolean refused;

    public RequestDecompressor(Counter unsupported, Counter invalid) {
        super(false, 0);
        this.unsupported = unsupported;
        this.invalid = invalid;
    }

    @Override
    protected EmbeddedChannel newContentDecoder(String contentEncoding) throws Exception {
        encoding = contentEncoding;
        if (HttpHeaderValues.GZIP.contentEqualsIgnoreCase(contentEncoding)
                || HttpHeaderValues.X_GZIP.contentEqualsIgnoreCase(contentEncoding)
                || HttpHeaderValues.DEFLATE.contentEqualsIgnoreCase(contentEncoding)
                || HttpHeaderValues.X_DEFLATE.contentEqualsIgnoreCase(contentEncoding)) {
            return super.newContentDecoder(contentEncoding);
        }
        if ("snappy".equalsIgnoreCase(contentEncoding) && SNAPPY_PATH.equals(path)) {
            return null;
        }
        // without Content-Encoding Netty asks about the transfer coding, which the HTTP codec already undid
        if (HttpHeaderValues.IDENTITY.contentEqualsIgnoreCase(contentEncoding)
                || HttpHeaderValues.CHUNKED.contentEqualsIgnoreCase(contentEncoding)) {
            return null;
        }
        throw new UnsupportedEncoding();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (refused) {
            ReferenceCountUtil.release(msg); // the rest of a refused request, or what follows it on the wire
            return;
        }
        if (msg instanceof FullHttpRequest whole && !whole.content().isReadable()
                && !whole.headers().contains(HttpHeaderNames.CONTENT_ENCODING)) {
            ctx.fireChannelRead(msg); // a bodiless request (BodilessRequests): nothing to decompress
            return;
        }
        if (msg instanceof HttpRequest request) {
            int query = request.uri().indexOf('?');
            path = query < 0 ? request.uri() : request.uri().substring(0, query);
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
        if (refused) {
            return;
        }
        if (!(cause instanceof DecoderException)) {
            super.exceptionCaught(ctx, cause);
            return;
        }
        refused = true;
        ctx.channel().config().setAutoRead(false);
        if (cause.getCause() instanceof UnsupportedEncoding) {
            ApiErrors.rejectAndClose(ctx, unsupported, HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_encoding", "Content-Encoding " + encoding + " is not supported (expected one of: "
                            + SUPPORTED + ")");
        } else {
            Throwable why = cause.getCause() != null ? cause.getCause() : cause;
            ApiErrors.rejectAndClose(ctx, invalid, HttpResponseStatus.BAD_REQUEST, "invalid_encoding",
                    "the body is not valid " + encoding + " (" + (why.getMessage() != null ? why.getMessage()
                            : why.getClass().getSimpleName()) + ")");
        }
    }

    private static final class UnsupportedEncoding extends Exception {
        private static final long serialVersionUID = 1L;

        UnsupportedEncoding() {
            super(null, null, false, false);
        }
    }
}
