package io.sluice.gateway.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;

/**
 * Sends each complete HTTP request to the route registered for its method and exact path, and answers
 * what no route takes (404, 405) and what could not be decoded (400, 414, 431) in the API's error shape.
 * What the pipeline refuses before a request is complete (413, 415, 400 for a body that does not decompress)
 * is answered by {@link BodyAggregator} and {@link RequestDecompressor}; all of these are counted in
 * {@link #rejected(String) sluice_http_rejected_total{reason}}.
 */
@ChannelHandler.Sharable
public final class HttpRouter extends SimpleChannelInboundHandler<FullHttpRequest> {

    private static final Logger log = LoggerFactory.getLogger(HttpRouter.class);

    private final Map<String, Map<HttpMethod, Entry>> routes;
    private final java.util.List<Prefixed> prefixes;
    private final Entry fallbackGet;
    /** Whether every prefix has a second segment, so that no one-segment path ({@code /{code}}) can match one. */
    private final boolean prefixesNeedTwoSegments;
    private final RequestMetrics unmatched;
    private final MeterRegistry registry;
    private final Map<String, Counter> rejections = new java.util.concurrent.ConcurrentHashMap<>();

    private record Entry(Route route, RequestMetrics metrics) {
    }

    private record Prefixed(String prefix, HttpMethod method, Entry entry) {
    }

    private HttpRouter(Map<String, Map<HttpMethod, Entry>> routes, java.util.List<Prefixed> prefixes,
                       Entry fallbackGet, MeterRegistry registry) {
        super(false); // each HttpExchange releases its request when it answers
        this.routes = routes;
        this.prefixes = prefixes;
        this.fallbackGet = fallbackGet;
        this.prefixesNeedTwoSegments = prefixes.stream().allMatch(p -> p.prefix().indexOf('/', 1) >= 0);
        this.registry = registry;
        this.unmatched = new RequestMetrics(registry, "unmatched");
    }

    public static Builder builder(MeterRegistry registry) {
        return new Builder(registry);
    }

    /** Collects routes; paths are exact. */
    public static final class Builder {
        private final MeterRegistry registry;
        private final Map<String, Map<HttpMethod, Entry>> routes = new HashMap<>();
        private final java.util.List<Prefixed> prefixes = new java.util.ArrayList<>();
        private Entry fallbackGet;

        private Builder(MeterRegistry registry) {
            this.registry = registry;
        }

        public Builder route(HttpMethod method, String path, Route route) {
            Entry previous = routes.computeIfAbsent(path, p -> new HashMap<>())
                    .put(method, new Entry(route, new RequestMetrics(registry, path)));
            if (previous != null) {
                throw new IllegalArgumentException("route " + method + " " + path + " registered twice");
            }
            return this;
        }

        /** A route for every path under {@code prefix} (tried after the exact paths, longest prefix first). */
        public Builder prefix(HttpMethod method, String prefix, String routeName, Route route) {
            prefixes.add(new Prefixed(prefix, method, new Entry(route, new RequestMetrics(registry, routeName))));
            prefixes.sort((a, b) -> Integer.compare(b.prefix().length(), a.prefix().length()));
            return this;
        }

        /** The route for a GET of a single-segment path no other route takes ({@code GET /{code}}). */
        public Builder fallbackGet(String routeName, Route route) {
            fallbackGet = new Entry(route, new RequestMetrics(registry, routeName));
            return this;
        }

        public HttpRouter build() {
            return new HttpRouter(Map.copyOf(routes), java.util.List.copyOf(prefixes), fallbackGet, registry);
        }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        DecoderResult decoded = request.decoderResult();
        if (decoded.isFailure()) {
            rejectUndecodable(ctx, request, decoded.cause());
            return;
        }
        String path = request.uri();
        try {
            if (!isPlainPath(path)) {
                path = new QueryStringDecoder(path).path();
            }
        } catch (IllegalArgumentException e) {
            rejected("invalid_path").increment();
            new HttpExchange(ctx, request, request.uri(), unmatched).error(HttpResponseStatus.BAD_REQUEST,
                    "invalid_path", "the request path is not valid percent-encoding: " + e.getMessage());
            return;
        }
        Map<HttpMethod, Entry> byMethod = routes.get(path);
        boolean oneSegment = path.indexOf('/', 1) < 0;
        if (byMethod == null && !(oneSegment && prefixesNeedTwoSegments)) {
            byMethod = prefixed(path);
        }
        Entry entry;
        if (byMethod != null) {
            entry = byMethod.get(request.method());
        } else if (fallbackGet != null && path.length() > 1 && oneSegment
                && (request.method().equals(HttpMethod.GET) || request.method().equals(HttpMethod.HEAD))) {
            entry = fallbackGet;
        } else {
            new HttpExchange(ctx, request, path, unmatched)
                    .error(HttpResponseStatus.NOT_FOUND, "not_found", "no route for " + path);
            return;
        }
        if (entry == null) {
            new HttpExchange(ctx, request, path, unmatched).error(HttpResponseStatus.METHOD_NOT_ALLOWED,
                    "method_not_allowed", request.method() + " is not allowed on " + path + "; allowed: "
                            + String.join(", ", byMethod.keySet().stream().map(HttpMethod::name).sorted().toList()));
            return;
        }
        HttpExchange exchange = new HttpExchange(ctx, request, path, entry.metrics());
        try {
            entry.route().serve(exchange);
        } catch (RuntimeException e) {
            exchange.internalError(e);
        }
    }

    /** Whether a URI is its own path: no query, fragment or percent-encoding for {@link QueryStringDecoder} to take. */
    static boolean isPlainPath(String uri) {
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c == '?' || c == '#' || c == '%') {
                return false;
            }
        }
        return true;
    }

    private Map<HttpMethod, Entry> prefixed(String path) {
        Map<HttpMethod, Entry> found = null;
        for (Prefixed p : prefixes) {
            if (path.startsWith(p.prefix())) {
                if (found == null) {
                    found = new HashMap<>();
                }
                found.putIfAbsent(p.method(), p.entry());
            }
        }
        return found;
    }

    private void rejectUndecodable(ChannelHandlerContext ctx, FullHttpRequest request, Throwable cause) {
        HttpResponseStatus status;
        String code;
        String message;
        if (cause instanceof TooLongHttpHeaderException) {
            status = HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE;
            code = "headers_too_large";
            message = "request headers exceed server.max-header-bytes";
        } else if (cause instanceof TooLongHttpLineException) {
            status = HttpResponseStatus.REQUEST_URI_TOO_LONG;
            code = "uri_too_long";
            message = "request line exceeds server.max-header-bytes";
        } else if (cause instanceof TooLongFrameException) {
            status = HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
            code = "body_too_large";
            message = "request body exceeds server.max-body-bytes";
        } else {
            status = HttpResponseStatus.BAD_REQUEST;
            code = "bad_request";
            message = "malformed HTTP request: " + cause.getMessage();
        }
        rejected(code).increment();
        // A request that could not be decoded leaves the connection in an unknown state: answer, then close.
        request.headers().set(io.netty.handler.codec.http.HttpHeaderNames.CONNECTION, "close");
        new HttpExchange(ctx, request, "", unmatched).error(status, code, message);
    }

    /** {@code sluice_http_rejected_total{reason}}: requests refused before reaching a route. */
    public Counter rejected(String reason) {
        return rejections.computeIfAbsent(reason, r -> Counter.builder("sluice_http_rejected")
                .description("HTTP requests refused before routing, by reason").tag("reason", r).register(registry));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("Closing connection {} after {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
