package io.sluice.gateway.http;

import io.micrometer.core.instrument.Counter;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;

/**
 * Netty's aggregator, limited by {@code server.max-body-bytes}, counting each oversized request (which
 * it answers with 413) as {@code sluice_http_rejected_total{reason="body_too_large"}}.
 */
public final class BodyAggregator extends HttpObjectAggregator {

    private final Counter oversized;

    public BodyAggregator(int maxBodyBytes, Counter oversized) {
        super(maxBodyBytes, true);
        this.oversized = oversized;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage message) throws Exception {
        oversized.increment();
        super.handleOversizedMessage(ctx, message);
    }
}
