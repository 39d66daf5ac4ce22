package io.sluice.gateway.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.Attribute;
import io.netty.util.AttributeKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/**
 * Traces every HTTP request of one connection, right after the HTTP codec so that nothing answered on
 * the connection escapes it: gives each request a {@link RequestTrace} when its head is read, keeps the
 * trace id in the logging MDC while the pipeline handles what was read, puts {@code X-Trace-Id} and
 * {@code traceresponse} on every response written (the routes' answers and the pipeline's own refusals,
 * 413, 415, 400 …), and, when {@code server.request-log} is on, logs one line per answered request to the
 * {@value #REQUEST_LOGGER} logger.
 *
 * <p>The request log line's message is {@code METHOD PATH STATUS DURATION ms}; its key-value pairs are
 * {@code method}, {@code path} (without the query string), {@code route} (the route's template, or
 * {@code unmatched}), {@code status}, {@code duration_ms}, {@code bytes_in} (body as sent),
 * {@code bytes_out} (body), {@code tenant} (when authenticated) and {@code remote}; the trace id is in the
 * MDC ({@code trace_id}). Headers are never logged, so neither are API keys.
 */
public final class HttpTracing extends ChannelDuplexHandler {

    /** The request log's logger name. */
    public static final String REQUEST_LOGGER = "sluice.request";

    private static final Logger requestLog = LoggerFactory.getLogger(REQUEST_LOGGER);
    /** The trace of the request whose head was read last on a connection. */
    private static final AttributeKey<RequestTrace> CURRENT = AttributeKey.valueOf("sluice-http-trace");

    /** Requests read and not answered yet, oldest first; touched on the connection's event loop only. */
    private final ArrayDeque<RequestTrace> unanswered = new ArrayDeque<>(2);
    private final boolean logRequests;
    /** This connection's {@link #CURRENT}, looked up once. */
    private Attribute<RequestTrace> current;

    /** @param logRequests {@code server.request-log} */
    public HttpTracing(boolean logRequests) {
        this.logRequests = logRequests;
    }

    /**
     * The trace of the request being read on {@code channel}: what a route's exchange is made with. A
     * channel without this handler gets a new trace.
     */
    static RequestTrace current(Channel channel) {
        RequestTrace trace = channel.attr(CURRENT).get();
        return trace != null ? trace : RequestTrace.unknown(channel.remoteAddress());
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        current = ctx.channel().attr(CURRENT);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        RequestTrace trace;
        if (msg instanceof HttpRequest request) {
            trace = RequestTrace.of(request, ctx.channel().remoteAddress());
            unanswered.add(trace);
            current.set(trace);
        } else {
            trace = current.get();
        }
        if (trace == null) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (msg instanceof HttpContent content) {
            trace.addBytesIn(content.content().readableBytes());
        }
        String outer = trace.enter();
        try {
            ctx.fireChannelRead(msg);
        } finally {
            RequestTrace.leave(outer);
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse response && response.status().codeClass() != HttpStatusClass.INFORMATIONAL) {
            RequestTrace oldest = unanswered.peek();
            RequestTrace trace;
            if (oldest != null && oldest.stampedOn(response.headers())) { // HTTP/1.1: nearly always the oldest
                trace = unanswered.poll();
            } else {
                String stamped = response.headers().get(RequestTrace.TRACE_RESPONSE_HEADER);
                trace = answered(ctx, stamped);
                if (!trace.answers(stamped)) { // an exchange's answer comes stamped already
                    trace.stamp(response.headers());
                }
            }
            if (logRequests) {
                trace.run(() -> log(trace, response));
            }
        }
        ctx.write(msg, promise);
    }

    /**
     * The request {@code response} answers: the one it was stamped for (an exchange stamps its answer, which
     * may be written after later requests were read), else the oldest unanswered one (HTTP/1.1 answers in
     * order).
     */
    private RequestTrace answered(ChannelHandlerContext ctx, String stamped) {
        if (stamped != null) {
            for (Iterator<RequestTrace> it = unanswered.iterator(); it.hasNext(); ) {
                RequestTrace trace = it.next();
                if (trace.answers(stamped)) {
                    it.remove();
                    return trace;
                }
            }
        }
        RequestTrace oldest = unanswered.poll();
        return oldest != null ? oldest : RequestTrace.unknown(ctx.channel().remoteAddress());
    }

    private static void log(RequestTrace trace, HttpResponse response) {
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - trace.startNanos());
        int status = response.status().code();
        var line = requestLog.atInfo()
                .addKeyValue("method", trace.method())
                .addKeyValue("path", trace.path())
                .addKeyValue("route", trace.route() != null ? trace.route() : "-")
                .addKeyValue("status", status)
                .addKeyValue("duration_ms", millis)
                .addKeyValue("bytes_in", trace.bytesIn())
                .addKeyValue("bytes_out", HttpUtil.getContentLength(response, 0L));
        if (trace.tenant() != null) {
            line = line.addKeyValue("tenant", trace.tenant());
        }
        line.addKeyValue("remote", trace.remote())
                .log("{} {} {} {} ms", trace.method(), trace.path(), status, millis);
    }
}
