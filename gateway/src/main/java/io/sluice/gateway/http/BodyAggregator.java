package io.sluice.gateway.http;

import io.micrometer.core.instrument.Counter;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.ReferenceCountUtil;

/**
 * Netty's aggregator, limited by {@code server.max-body-bytes} (counted after decompression, so a gzip
 * bomb is cut off there too). What it refuses is answered in the API's error shape and counted in
 * {@code sluice_http_rejected_total{reason}}: 413 {@code body_too_large} for a body over the limit (declared
 * by {@code Content-Length} or found while reading), 417 {@code expectation_failed} for an {@code Expect}
 * other than {@code 100-continue}.
 */
public final class BodyAggregator extends HttpObjectAggregator {

    private final int maxBodyBytes;
    private final Counter oversized;
    private final Counter expectationFailed;

    public BodyAggregator(int maxBodyBytes, Counter oversized, Counter expectationFailed) {
        super(maxBodyBytes, true);
        this.maxBodyBytes = maxBodyBytes;
        this.oversized = oversized;
        this.expectationFailed = expectationFailed;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage message) throws Exception {
        if (!(message instanceof HttpRequest)) {
            super.handleOversizedMessage(ctx, message);
            return;
        }
        oversized.increment();
        FullHttpResponse response = tooLarge(ctx.channel().pipeline());
        // Like Netty's own 413: a request whose body was partly read (or whose client will not wait for
        // 100-continue and does not keep the connection) ends the connection; otherwise the aggregator skips
        // the announced body and the connection serves the next request.
        if (message instanceof FullHttpMessage
                || !HttpUtil.is100ContinueExpected(message) && !HttpUtil.isKeepAlive(message)) {
            HttpUtil.setKeepAlive(response, false);
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        } else {
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        }
    }

    /** Netty's interim answers to {@code Expect}, with the refusals (413, 417) in the error shape. */
    @Override
    protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
        Object answer = super.newContinueResponse(start, maxContentLength, pipeline);
        if (!(answer instanceof FullHttpResponse refusal) || refusal.status().code() < 400) {
            return answer;
        }
        HttpResponseStatus status = refusal.status();
        ReferenceCountUtil.release(refusal);
        FullHttpResponse response;
        if (status.equals(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE)) {
            oversized.increment();
            response = tooLarge(pipeline);
        } else {
            expectationFailed.increment();
            response = ApiErrors.response(pipeline.channel().alloc(), status, "expectation_failed",
                    "Expect: " + start.headers().get(io.netty.handler.codec.http.HttpHeaderNames.EXPECT)
                            + " is not supported (expected: 100-continue or none)");
        }
        // the aggregator closes the connection after a refused expectation
        HttpUtil.setKeepAlive(response, false);
        return response;
    }

    private FullHttpResponse tooLarge(ChannelPipeline pipeline) {
        return ApiErrors.response(pipeline.channel().alloc(), HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                "body_too_large", "request body exceeds server.max-body-bytes (" + maxBodyBytes
                        + " bytes, counted after decompression)");
    }
}
