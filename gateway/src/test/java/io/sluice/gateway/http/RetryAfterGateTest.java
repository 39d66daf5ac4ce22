package io.sluice.gateway.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** A connection told to wait that does not: answered at once, unread, paused, and closed if it persists. */
class RetryAfterGateTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Counter early = registry.counter("early");
    private final Counter closed = registry.counter("closed");
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    /** The statuses the route answers with, in order; a 429 carries Retry-After: 2. */
    private final Deque<Integer> answers = new ArrayDeque<>();
    private final List<String> routed = new ArrayList<>();
    private final EmbeddedChannel channel = new EmbeddedChannel(new HttpServerCodec(),
            new RetryAfterGate(2, nanos::get, early, closed), new HttpObjectAggregator(1 << 20),
            new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    routed.add(((HttpRequest) msg).uri());
                    ReferenceCountUtil.release(msg);
                    int status = answers.isEmpty() ? 200 : answers.poll();
                    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                            HttpResponseStatus.valueOf(status));
                    response.headers().set("content-length", 0);
                    if (status == 429) {
                        response.headers().set("retry-after", 2);
                        // what a route says of a refusal every request of that kind would get until then
                        RetryAfterGate.toldToWait(ctx.channel(), 2,
                                request -> !"Bearer other".equals(request.headers().get("Authorization")));
                    }
                    ctx.writeAndFlush(response);
                }
            });

    @AfterEach
    void close() {
        channel.finishAndReleaseAll();
    }

    @Test
    void aRequestSentBeforeTheRetryAfterRanOutIsAnsweredUnreadAndPausesReadsUntilThen() {
        answers.add(429);
        send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("429");

        nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(500));
        // a body in two reads: neither reaches the route
        send("POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello");
        send("world");
        String refusal = written();
        assertThat(refusal).startsWith("HTTP/1.1 429")
                .containsIgnoringCase("retry-after: 2\r\n") // 1.5 s left, rounded up
                .contains("\"code\":\"rate_limited\"");
        assertThat(routed).containsExactly("/1");
        assertThat(channel.config().isAutoRead()).isFalse();
        assertThat(channel.isOpen()).isTrue();

        nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(1_500));
        channel.advanceTimeBy(1_500, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(channel.config().isAutoRead()).isTrue();
        send("GET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("200");
        assertThat(routed).containsExactly("/1", "/3");
        assertThat(early.count()).isEqualTo(1);
        assertThat(closed.count()).isZero();
    }

    @Test
    void earlyRequestsBeyondTheLimitInARowCloseTheConnectionAndAServedAnswerEndsTheRow() {
        answers.add(429);
        send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("429");
        send("GET /early-1 HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("429");

        // on time, refused again by the route: the row goes on
        nanos.addAndGet(TimeUnit.SECONDS.toNanos(2));
        answers.add(429);
        send("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("429");
        send("GET /early-2 HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("429");
        assertThat(channel.isOpen()).isTrue();

        // served: the row ends, so two more early ones are allowed again after the next refusal
        nanos.addAndGet(TimeUnit.SECONDS.toNanos(2));
        send("GET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("200");
        answers.add(429);
        send("GET /4 HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("429");
        send("GET /early-3 HTTP/1.1\r\nHost: a\r\n\r\nGET /early-4 HTTP/1.1\r\nHost: a\r\n\r\n"); // pipelined
        assertThat(written().split("HTTP/1.1 429", -1)).hasSize(3);
        assertThat(channel.isOpen()).isTrue();
        assertThat(closed.count()).isZero();

        send("GET /early-5 HTTP/1.1\r\nHost: a\r\n\r\n");
        assertThat(written()).startsWith("HTTP/1.1 429").containsIgnoringCase("connection: close\r\n");
        channel.runPendingTasks();
        assertThat(channel.isOpen()).isFalse();
        assertThat(routed).containsExactly("/1", "/2", "/3", "/4");
        assertThat(early.count()).isEqualTo(5);
        assertThat(closed.count()).isEqualTo(1);
    }

    @Test
    void aConnectionThatCarriesSeveralCredentialsIsAnsweredButNeverPausedOrClosed() {
        // as a proxy's connection does: requests of two keys
        send("GET /a HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer other\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("200");
        answers.add(429);
        send("GET /1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer flood\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("429");
        for (int i = 0; i < 5; i++) {
            send("GET /early HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer flood\r\n\r\n");
            assertThat(statusOfNextAnswer()).isEqualTo("429");
            assertThat(channel.config().isAutoRead()).isTrue();
        }
        assertThat(channel.isOpen()).isTrue();
        send("GET /b HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer other\r\n\r\n");
        assertThat(statusOfNextAnswer()).isEqualTo("200");
        assertThat(routed).containsExactly("/a", "/1", "/b");
        assertThat(early.count()).isEqualTo(5);
        assertThat(closed.count()).isZero();
    }

    private void send(String text) {
        channel.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII));
    }

    /** The status code of what was written since the last look (one answer). */
    private String statusOfNextAnswer() {
        String text = written();
        assertThat(text).as("one answer was written").startsWith("HTTP/1.1 ");
        return text.substring("HTTP/1.1 ".length(), "HTTP/1.1 ".length() + 3);
    }

    /** Everything written to the connection since the last look, as text. */
    private String written() {
        StringBuilder text = new StringBuilder();
        for (Object out; (out = channel.readOutbound()) != null; ) {
            ByteBuf bytes = (ByteBuf) out;
            text.append(bytes.toString(StandardCharsets.US_ASCII));
            bytes.release();
        }
        return text.toString();
    }
}
