package io.sluice.gateway.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One HTTP request and the means to answer it exactly once, from any thread.
 *
 * <p>The exchange owns the request: its body stays readable until the answer is given, and is released
 * then. Every path through a route must answer exactly once (errors included).
 */
public final class HttpExchange {

    private static final Logger log = LoggerFactory.getLogger(HttpExchange.class);

    private final ChannelHandlerContext ctx;
    private final HttpMethod method;
    private final String path;
    private final String uri;
    private final HttpHeaders headers;
    private final boolean keepAlive;
    private final FullHttpRequest request;
    private final RequestMetrics metrics;
    private final long startNanos;
    private final AtomicBoolean answered = new AtomicBoolean();
    private final RequestTrace trace;
    private HttpHeaders extraHeaders;

    HttpExchange(ChannelHandlerContext ctx, FullHttpRequest request, String path, RequestMetrics metrics) {
        this.ctx = ctx;
        this.request = request;
        this.method = request.method();
        this.uri = request.uri();
        this.path = path;
        this.headers = request.headers();
        this.keepAlive = HttpUtil.isKeepAlive(request);
        this.metrics = metrics;
        this.startNanos = System.nanoTime();
        this.trace = HttpTracing.current(ctx.channel());
        trace.route(metrics.route());
    }

    public HttpMethod method() {
        return method;
    }

    /** The decoded path without the query string. */
    public String path() {
        return path;
    }

    public String uri() {
        return uri;
    }

    public HttpHeaders headers() {
        return headers;
    }

    /** Headers added to whatever answer is given (e.g. rate-limit headers). Not thread-safe: set before answering. */
    public HttpHeaders responseHeaders() {
        if (extraHeaders == null) {
            extraHeaders = new io.netty.handler.codec.http.DefaultHttpHeaders();
        }
        return extraHeaders;
    }

    /** The request body; valid until the answer is given. */
    public ByteBuf body() {
        return request.content();
    }

    public ChannelHandlerContext context() {
        return ctx;
    }

    /** Names the authenticated tenant in the request log. */
    public void tenant(String tenant) {
        trace.tenant(tenant);
    }

    /**
     * Runs a continuation of this request on its connection's event loop, with the request's trace id in
     * the logging MDC (as the route's first part had it).
     */
    public void onEventLoop(Runnable task) {
        ctx.executor().execute(() -> trace.run(task));
    }

    /** Answers with the given body, which this takes ownership of. */
    public void respond(HttpResponseStatus status, CharSequence contentType, ByteBuf body) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        respond(response);
    }

    /** The connection's buffer allocator, for a body rendered outside {@link #respondJson}. */
    public io.netty.buffer.ByteBufAllocator alloc() {
        return ctx.alloc();
    }

    public void respondJson(HttpResponseStatus status, Json.Writer writer) {
        respond(status, HttpHeaderValues.APPLICATION_JSON, Json.write(ctx.alloc(), writer));
    }

    /**
     * Answers with the API's one error shape:
     * {@code {"error": {"status": 404, "code": "not_found", "message": "…"}}}.
     */
    public void error(HttpResponseStatus status, String code, String message) {
        error(status, code, message, null);
    }

    /** The error shape with more fields inside {@code error} (e.g. the rejected items of a batch). */
    public void error(HttpResponseStatus status, String code, String message, Json.Writer details) {
        respondJson(status, ApiErrors.body(status, code, message, details));
    }

    /**
     * Answers 503 in the error shape with {@code Retry-After} (whole seconds, at least 1): the request was not
     * served, and the same request may succeed later.
     */
    public void unavailable(String code, String message, java.time.Duration retryAfter) {
        responseHeaders().set(HttpHeaderNames.RETRY_AFTER, Math.max(1, (retryAfter.toMillis() + 999) / 1000));
        error(HttpResponseStatus.SERVICE_UNAVAILABLE, code, message);
    }

    /**
     * Answers 500 {@code internal} for a failure nobody expected (logged with the route), unless an answer
     * was already sent. Continuations that run later on the event loop call this so that a bug never leaves
     * a request unanswered.
     */
    public void internalError(Throwable cause) {
        trace.run(() -> log.error("{} {} failed", method, path, cause));
        error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal", "internal error");
    }

    public void respondText(HttpResponseStatus status, String text) {
        respond(status, HttpHeaderValues.TEXT_PLAIN + "; charset=utf-8",
                Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
    }

    /** Answers with a complete response, which this takes ownership of; a second answer is dropped. */
    public void respond(FullHttpResponse response) {
        if (!answered.compareAndSet(false, true)) {
            response.release();
            return;
        }
        request.release();
        if (extraHeaders != null) {
            response.headers().add(extraHeaders);
        }
        trace.stamp(response.headers()); // here, not only in HttpTracing: names which request this answers
        int length = response.content().readableBytes();
        if (length == 0) { // a redirect: no number to print
            response.headers().set(HttpHeaderNames.CONTENT_LENGTH, HttpHeaderValues.ZERO);
        } else {
            HttpUtil.setContentLength(response, length);
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        metrics.record(method, response.status(), System.nanoTime() - startNanos);
        if (keepAlive) {
            ctx.writeAndFlush(response, ctx.voidPromise());
        } else {
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
