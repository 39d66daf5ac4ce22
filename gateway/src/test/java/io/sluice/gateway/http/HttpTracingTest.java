package io.sluice.gateway.http;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link HttpTracing} on an embedded channel: the trace id in the MDC while the pipeline handles a request,
 * the trace headers on every response (in or out of order, from an exchange or from the pipeline) and the
 * request log's lines.
 */
class HttpTracingTest {

    private static final String TRACE_A = "4bf92f3577b34da6a3ce929d0e0e4736";
    private static final String TRACE_B = "0af7651916cd43dd8448eb211c80319c";
    private static final String SECRET_KEY = "sk_secret-key-never-logged";

    private final List<HttpExchange> exchanges = new ArrayList<>();
    private final List<String> mdcSeen = new ArrayList<>();
    private final ListAppender<ILoggingEvent> requestLog = new ListAppender<>();
    private EmbeddedChannel channel;

    @BeforeEach
    void setUp() {
        requestLog.start();
        ((Logger) LoggerFactory.getLogger(HttpTracing.REQUEST_LOGGER)).addAppender(requestLog);
        channel = new EmbeddedChannel(new HttpTracing(true), new HttpObjectAggregator(1 << 16),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        FullHttpRequest request = (FullHttpRequest) msg;
                        mdcSeen.add(MDC.get(RequestTrace.MDC_TRACE_ID));
                        String path = RequestTrace.pathOf(request.uri());
                        exchanges.add(new HttpExchange(ctx, request, path,
                                new RequestMetrics(new SimpleMeterRegistry(), path + "-route")));
                    }
                });
    }

    @AfterEach
    void tearDown() {
        ((Logger) LoggerFactory.getLogger(HttpTracing.REQUEST_LOGGER)).detachAppender(requestLog);
        channel.finishAndReleaseAll();
    }

    @Test
    void theIncomingTraceIdIsInTheMdcWhileThePipelineHandlesTheRequestAndOnlyThen() {
        channel.writeInbound(request("/a", traceparent(TRACE_A)));
        assertThat(mdcSeen).containsExactly(TRACE_A);
        assertThat(MDC.get(RequestTrace.MDC_TRACE_ID)).as("cleared once the read is handled").isNull();
        exchanges.get(0).respondText(HttpResponseStatus.OK, "ok");
        FullHttpResponse response = channel.readOutbound();
        try {
            assertThat(response.headers().get(RequestTrace.TRACE_ID_HEADER)).isEqualTo(TRACE_A);
            assertThat(response.headers().get(RequestTrace.TRACE_RESPONSE_HEADER))
                    .matches("00-" + TRACE_A + "-[0-9a-f]{16}-01");
        } finally {
            response.release();
        }
    }

    @Test
    void anInvalidTraceparentGetsANewTraceId() {
        channel.writeInbound(request("/a", "00-" + TRACE_A + "-0000000000000000-01"));
        assertThat(mdcSeen.get(0)).matches("[0-9a-f]{32}").isNotEqualTo(TRACE_A);
        exchanges.get(0).respondText(HttpResponseStatus.OK, "ok");
        FullHttpResponse response = channel.readOutbound();
        try {
            assertThat(response.headers().get(RequestTrace.TRACE_ID_HEADER)).isEqualTo(mdcSeen.get(0));
            assertThat(response.headers().get(RequestTrace.TRACE_RESPONSE_HEADER))
                    .matches("00-" + mdcSeen.get(0) + "-[0-9a-f]{16}-00");
        } finally {
            response.release();
        }
    }

    @Test
    void pipelinedRequestsAnsweredOutOfOrderEachGetTheirOwnTraceAndLogLine() {
        channel.writeInbound(request("/a", traceparent(TRACE_A)), request("/b", traceparent(TRACE_B)));
        assertThat(mdcSeen).containsExactly(TRACE_A, TRACE_B);
        exchanges.get(1).tenant("acme");
        exchanges.get(1).respondText(HttpResponseStatus.CREATED, "b");
        exchanges.get(0).error(HttpResponseStatus.NOT_FOUND, "not_found", "no a");
        FullHttpResponse first = channel.readOutbound();
        FullHttpResponse second = channel.readOutbound();
        try {
            assertThat(first.status()).isEqualTo(HttpResponseStatus.CREATED);
            assertThat(first.headers().get(RequestTrace.TRACE_ID_HEADER)).isEqualTo(TRACE_B);
            assertThat(second.headers().get(RequestTrace.TRACE_ID_HEADER)).isEqualTo(TRACE_A);
        } finally {
            first.release();
            second.release();
        }
        assertThat(requestLog.list).hasSize(2);
        ILoggingEvent b = requestLog.list.get(0);
        assertThat(b.getMDCPropertyMap()).containsEntry(RequestTrace.MDC_TRACE_ID, TRACE_B);
        assertThat(fields(b)).containsEntry("path", "/b").containsEntry("route", "/b-route")
                .containsEntry("status", "201").containsEntry("tenant", "acme").containsEntry("method", "POST");
        ILoggingEvent a = requestLog.list.get(1);
        assertThat(a.getMDCPropertyMap()).containsEntry(RequestTrace.MDC_TRACE_ID, TRACE_A);
        assertThat(fields(a)).containsEntry("path", "/a").containsEntry("status", "404").doesNotContainKey("tenant");
    }

    @Test
    void aResponseThePipelineWritesItselfCarriesTheTraceOfTheRequestBeingRead() {
        channel.pipeline().addAfter(channel.pipeline().context(HttpTracing.class).name(), "refuser",
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        io.netty.util.ReferenceCountUtil.release(msg);
                        if (msg instanceof io.netty.handler.codec.http.LastHttpContent) {
                            ctx.writeAndFlush(ApiErrors.response(ctx.alloc(), HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
                                    "unsupported_encoding", "no"));
                        }
                    }
                });
        channel.writeInbound(request("/a?api_key=" + SECRET_KEY, traceparent(TRACE_A)));
        FullHttpResponse response = channel.readOutbound();
        try {
            assertThat(response.headers().get(RequestTrace.TRACE_ID_HEADER)).isEqualTo(TRACE_A);
        } finally {
            response.release();
        }
        assertThat(requestLog.list).singleElement().satisfies(line -> {
            assertThat(fields(line)).containsEntry("path", "/a").containsEntry("route", "-")
                    .containsEntry("status", "415").containsEntry("bytes_in", "4");
            assertThat(line.getMDCPropertyMap()).containsEntry(RequestTrace.MDC_TRACE_ID, TRACE_A);
        });
    }

    @Test
    void theRequestLogNamesWhatWasAskedAndNeverTheKeyOrTheQuery() {
        channel.writeInbound(request("/api/v1/query?q=x&api_key=" + SECRET_KEY, null));
        exchanges.get(0).respondText(HttpResponseStatus.OK, "12345");
        FullHttpResponse response = channel.readOutbound();
        String traceId = response.headers().get(RequestTrace.TRACE_ID_HEADER);
        response.release();
        assertThat(requestLog.list).singleElement().satisfies(line -> {
            assertThat(line.getLoggerName()).isEqualTo("sluice.request");
            assertThat(line.getFormattedMessage()).startsWith("POST /api/v1/query 200 ");
            assertThat(fields(line)).containsEntry("method", "POST").containsEntry("path", "/api/v1/query")
                    .containsEntry("route", "/api/v1/query-route").containsEntry("status", "200")
                    .containsEntry("bytes_in", "4").containsEntry("bytes_out", "5").containsEntry("remote", "embedded")
                    .containsKey("duration_ms");
            assertThat(line.getMDCPropertyMap()).containsEntry(RequestTrace.MDC_TRACE_ID, traceId);
            String everything = line.getFormattedMessage() + line.getKeyValuePairs() + line.getMDCPropertyMap();
            assertThat(everything).doesNotContain(SECRET_KEY).doesNotContain("api_key").doesNotContain("Bearer");
        });
    }

    private static FullHttpRequest request(String uri, String traceparent) {
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, uri,
                Unpooled.copiedBuffer("body", StandardCharsets.UTF_8));
        request.headers().set("Authorization", "Bearer " + SECRET_KEY).set("Content-Length", 4);
        if (traceparent != null) {
            request.headers().set(RequestTrace.TRACE_PARENT_HEADER, traceparent);
        }
        return request;
    }

    private static String traceparent(String traceId) {
        return "00-" + traceId + "-00f067aa0ba902b7-01";
    }

    private static Map<String, String> fields(ILoggingEvent event) {
        return event.getKeyValuePairs().stream().collect(Collectors.toMap(kv -> kv.key, kv -> String.valueOf(kv.value)));
    }
}
