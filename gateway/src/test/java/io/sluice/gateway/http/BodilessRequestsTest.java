package io.sluice.gateway.http;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A request without a body reaches the routes as one message; every other request as the aggregator makes it. */
class BodilessRequestsTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final List<Object> seen = new ArrayList<>();
    private final EmbeddedChannel channel = new EmbeddedChannel(new HttpServerCodec(), new BodilessRequests(),
            new io.netty.channel.ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                    seen.add(msg);
                    ctx.fireChannelRead(msg);
                }
            },
            new BodyAggregator(1 << 20, registry.counter("oversized"), registry.counter("expectation")));

    @AfterEach
    void close() {
        for (Object m; (m = channel.readInbound()) != null; ) {
            ((FullHttpRequest) m).release();
        }
        channel.finishAndReleaseAll();
    }

    @Test
    void pipelinedRequestsWithAndWithoutBodiesArriveWholeAndInOrder() {
        channel.writeInbound(Unpooled.copiedBuffer("""
                GET /abc?x=1 HTTP/1.1\r
                Host: a\r
                Referer: https://example.org/\r
                \r
                POST /api/v1/ingest/metrics HTTP/1.1\r
                Host: a\r
                Content-Length: 5\r
                \r
                hello\
                GET /def HTTP/1.1\r
                Host: a\r
                Content-Length: 0\r
                \r
                HEAD /ghi HTTP/1.1\r
                Host: a\r
                \r
                """, StandardCharsets.US_ASCII));

        List<FullHttpRequest> requests = new ArrayList<>();
        for (Object m; (m = channel.readInbound()) != null; ) {
            requests.add((FullHttpRequest) m);
        }
        try {
            assertThat(requests).extracting(FullHttpRequest::uri)
                    .containsExactly("/abc?x=1", "/api/v1/ingest/metrics", "/def", "/ghi");
            assertThat(requests).extracting(r -> r.content().toString(StandardCharsets.US_ASCII))
                    .containsExactly("", "hello", "", "");
            assertThat(requests.get(0).headers().get("Referer")).isEqualTo("https://example.org/");
            // the bodiless GET and HEAD were one message each, and no empty last content followed them; the
            // others came as a head and content the aggregator gathered
            assertThat(seen.get(0)).isInstanceOf(FullHttpRequest.class);
            assertThat(seen.get(seen.size() - 1)).isInstanceOf(FullHttpRequest.class);
            assertThat(seen).hasSize(1 + 2 + 2 + 1);
        } finally {
            requests.forEach(FullHttpRequest::release);
        }
    }

    @Test
    void aRequestAskingToContinueIsLeftToTheAggregator() {
        channel.writeInbound(Unpooled.copiedBuffer("""
                GET /abc HTTP/1.1\r
                Host: a\r
                Expect: something-else\r
                \r
                """, StandardCharsets.US_ASCII));
        assertThat(seen.get(0)).isNotInstanceOf(FullHttpRequest.class);
        assertThat(registry.counter("expectation").count()).isEqualTo(1);
    }
}
