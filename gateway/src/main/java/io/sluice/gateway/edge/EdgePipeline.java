package io.sluice.gateway.edge;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.sluice.gateway.binary.BinarySessions;
import io.sluice.gateway.http.BodilessRequests;
import io.sluice.gateway.http.BodyAggregator;
import io.sluice.gateway.http.HttpRouter;
import io.sluice.gateway.http.HttpTracing;
import io.sluice.gateway.http.ShutdownGate;
import io.sluice.gateway.http.RequestDecompressor;
import io.sluice.gateway.http.RetryAfterGate;
import io.sluice.gateway.server.ConnectionLimit;
import io.sluice.protocol.server.ServerPipeline;

import java.util.concurrent.TimeUnit;

/**
 * Builds each connection's pipeline. One port serves HTTP/1.1 and the binary protocol, told apart by their
 * first bytes, each optionally inside TLS; a binary-only port skips the HTTP branch. Handler names, in
 * pipeline order:
 *
 * <ol>
 *   <li>{@value #CONNECTION_LIMIT}: {@link ConnectionLimit} ({@code server.max-connections})</li>
 *   <li>{@value #IDLE}: {@link IdleTimeout}, closes a connection idle for {@code server.idle-timeout}</li>
 *   <li>{@value #TLS}: the {@code SslHandler}, only when the first bytes were a TLS handshake</li>
 *   <li>{@value #DETECT} (or {@value #DETECT_TLS} inside TLS): {@link ProtocolDetector}, removed once it
 *       decided; then either
 *     <ul>
 *       <li>HTTP: {@value #HTTP_CODEC} → {@value #HTTP_BODILESS} ({@link BodilessRequests}: a request without a
 *           body as one message) → {@value #HTTP_TRACE} ({@link HttpTracing}: trace ids, the request log)
 *           → {@value #HTTP_RETRY_AFTER} ({@link RetryAfterGate}: {@code server.early-retries})
 *           → {@value #HTTP_DECOMPRESS} → {@value #HTTP_BODY} → {@value #HTTP_SHUTDOWN}
 *           ({@link ShutdownGate}) → {@value #HTTP_ROUTER} ({@code server.max-header-bytes}, supported
 *           {@code Content-Encoding}s, {@code server.max-body-bytes}; each refusal answered in the API's error
 *           shape)</li>
 *       <li>binary: {@link ServerPipeline}'s handlers ({@code binary.max-frame-bytes}) with
 *           {@value #BINARY_ERRORS} before {@value ServerPipeline#INVALID_FRAME} and a
 *           {@link io.sluice.gateway.binary.BinarySession} as {@value ServerPipeline#SESSION}</li>
 *     </ul>
 *   </li>
 * </ol>
 */
public final class EdgePipeline {

    public static final String CONNECTION_LIMIT = "connection-limit";
    public static final String IDLE = "idle";
    public static final String TLS = "tls";
    public static final String DETECT = "edge-detect";
    public static final String DETECT_TLS = "edge-detect-tls";
    public static final String HTTP_CODEC = "http-codec";
    public static final String HTTP_BODILESS = "http-bodiless";
    public static final String HTTP_TRACE = "http-trace";
    public static final String HTTP_RETRY_AFTER = "http-retry-after";
    public static final String HTTP_DECOMPRESS = "http-decompress";
    public static final String HTTP_BODY = "http-body";
    public static final String HTTP_SHUTDOWN = "http-shutdown";
    public static final String HTTP_ROUTER = "http-router";
    public static final String BINARY_ERRORS = "binary-errors";

    private final ConnectionLimit connectionLimit;
    private final long idleSeconds;
    private final SslContext tls;
    private final HttpDecoderConfig httpDecoder;
    private final int maxBodyBytes;
    private final int earlyRetries;
    private final HttpRouter router;
    private final ShutdownGate shutdownGate;
    private final BinarySessions binary;
    private final boolean requestLog;

    /**
     * @param tls a server context, or null when TLS is off (a TLS handshake then reaches the HTTP codec and
     *            gets 400)
     * @param requestLog {@code server.request-log}: one log line per answered HTTP request
     */
    public EdgePipeline(ConnectionLimit connectionLimit, long idleSeconds, SslContext tls,
                        HttpDecoderConfig httpDecoder, int maxBodyBytes, int earlyRetries, HttpRouter router,
                        ShutdownGate shutdownGate, BinarySessions binary, boolean requestLog) {
        this.connectionLimit = connectionLimit;
        this.idleSeconds = idleSeconds;
        this.tls = tls;
        this.httpDecoder = httpDecoder;
        this.maxBodyBytes = maxBodyBytes;
        this.earlyRetries = earlyRetries;
        this.router = router;
        this.shutdownGate = shutdownGate;
        this.binary = binary;
        this.requestLog = requestLog;
    }

    /** A connection to {@code server.port}: TLS or not, then HTTP or binary. */
    public void initUnified(SocketChannel ch) {
        init(ch, true);
    }

    /** A connection to {@code server.binary-port}: TLS or not, then binary only. */
    public void initBinaryOnly(SocketChannel ch) {
        init(ch, false);
    }

    /** A connection to {@code admin.port}: plain HTTP only (health and metrics of a process without the gateway). */
    public void initHttpOnly(SocketChannel ch) {
        addLimits(ch.pipeline());
        addHttp(ch.pipeline());
    }

    private void init(SocketChannel ch, boolean httpAllowed) {
        addLimits(ch.pipeline())
                .addLast(DETECT, new ProtocolDetector(this, tls != null, httpAllowed));
    }

    private ChannelPipeline addLimits(ChannelPipeline p) {
        return p.addLast(CONNECTION_LIMIT, connectionLimit)
                .addLast(IDLE, new IdleTimeout(idleSeconds, TimeUnit.SECONDS));
    }

    void addTls(ChannelHandlerContext ctx, boolean httpAllowed) {
        ctx.pipeline().addLast(TLS, tls.newHandler(ctx.alloc()))
                .addLast(DETECT_TLS, new ProtocolDetector(this, false, httpAllowed));
    }

    void addHttp(ChannelPipeline p) {
        p.addLast(HTTP_CODEC, new HttpServerCodec(httpDecoder))
                .addLast(HTTP_BODILESS, new BodilessRequests())
                .addLast(HTTP_TRACE, new HttpTracing(requestLog))
                .addLast(HTTP_RETRY_AFTER, new RetryAfterGate(earlyRetries, System::nanoTime,
                        router.rejected("early_retry"), router.rejected("early_retry_closed")))
                .addLast(HTTP_DECOMPRESS, new RequestDecompressor(router.rejected("unsupported_encoding"),
                        router.rejected("invalid_encoding")))
                .addLast(HTTP_BODY, new BodyAggregator(maxBodyBytes, router.rejected("body_too_large"),
                        router.rejected("expectation_failed")))
                .addLast(HTTP_SHUTDOWN, shutdownGate)
                .addLast(HTTP_ROUTER, router);
    }

    void addBinary(ChannelPipeline p) {
        ServerPipeline.install(p, binary.frameLimits(), binary.newSession());
        p.addBefore(ServerPipeline.INVALID_FRAME, BINARY_ERRORS, binary.invalidFrameCounter());
    }
}
