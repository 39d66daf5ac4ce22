package io.sluice.gateway.http;

import io.micrometer.core.instrument.Counter;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

/**
 * The API's one error shape, {@code {"error": {"status": 404, "code": "not_found", "message": "…"}}}, for
 * every answer that refuses a request: the routes' (through {@link HttpExchange#error}) and the pipeline's
 * own, given before a request reaches the router (413 from {@link BodyAggregator}, 400 and 415 from
 * {@link RequestDecompressor}).
 */
public final class ApiErrors {

    private ApiErrors() {
    }

    /** Writes the error document; {@code details} adds fields inside {@code error} (may be null). */
    public static Json.Writer body(HttpResponseStatus status, String code, String message, Json.Writer details) {
        return body(status, code, message, details, null);
    }

    /**
     * The error document with more fields beside {@code error} ({@code outside}, may be null), for a client of
     * another API that reads its own fields (e.g. InfluxDB's {@code code} and {@code message}).
     */
    public static Json.Writer body(HttpResponseStatus status, String code, String message, Json.Writer details,
                                   Json.Writer outside) {
        return json -> {
            json.writeStartObject();
            json.writeObjectFieldStart("error");
            json.writeNumberField("status", status.code());
            json.writeStringField("code", code);
            json.writeStringField("message", message);
            if (details != null) {
                details.write(json);
            }
            json.writeEndObject();
            if (outside != null) {
                outside.write(json);
            }
            json.writeEndObject();
        };
    }

    /** A complete response in the error shape, with its content type and length; the caller owns it. */
    public static FullHttpResponse response(ByteBufAllocator alloc, HttpResponseStatus status, String code,
                                            String message) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Json.write(alloc, body(status, code, message, null)));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        HttpUtil.setContentLength(response, response.content().readableBytes());
        return response;
    }

    /**
     * Refuses the request being read on this connection from inside the pipeline, counts it, and closes the
     * connection once the answer is written (what follows the request on the wire cannot be trusted).
     */
    public static void rejectAndClose(ChannelHandlerContext ctx, Counter rejected, HttpResponseStatus status,
                                      String code, String message) {
        rejected.increment();
        FullHttpResponse response = response(ctx.alloc(), status, code, message);
        HttpUtil.setKeepAlive(response, false);
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }
}
