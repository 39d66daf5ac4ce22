package io.sluice.gateway.links;

import io.sluice.storage.postgres.PostgresCalls;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.TimeMeter;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import io.netty.util.Attribute;
import io.netty.util.AttributeKey;
import io.sluice.config.LinksConfig;
import io.sluice.gateway.http.DependencyErrors;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.http.RetryAfterGate;
import io.sluice.storage.links.Link;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code GET /{code}}: the hottest path. A cached code is answered on the event loop from the cache; a miss
 * waits for one shared load. Each client address has a token bucket
 * ({@code links.redirects-per-minute-per-client}). 302 and 307 carry {@code Cache-Control: private,
 * max-age=0} so every click reaches Sluice; 301 and 308 a short public max-age. Unknown codes get 404,
 * expired links 410 (HTML or JSON by {@code Accept}); while PostgreSQL is failing, uncached codes get 503.
 * The {@code Location} is always the stored, validated target: nothing in the request changes it.
 */
public final class Redirects {

    /** Most client addresses whose buckets are kept. */
    public static final long MAX_CLIENTS = 100_000;
    /** How long a client address's bucket is kept unused before it is dropped (a full one is made again). */
    private static final Duration CLIENT_IDLE = Duration.ofMinutes(10);
    /** How often a connection looks its client's bucket up again (well inside {@link #CLIENT_IDLE}). */
    private static final long RELOOK_NANOS = TimeUnit.MINUTES.toNanos(1);
    private static final AttributeKey<HeldBucket> HELD_BUCKET = AttributeKey.valueOf("sluice-redirect-bucket");

    private final RedirectCache cache;
    private final ClickTracker clicks;
    private final LinksConfig config;
    private final TimeMeter clock;
    private final Cache<InetAddress, Bucket> clients;
    /** Response headers whose values were checked before (see {@link RedirectCache.Entry#location}). */
    private static final HttpHeadersFactory UNCHECKED_HEADERS =
            DefaultHttpHeadersFactory.headersFactory().withValidation(false);
    private static final AsciiString PRIVATE_CACHE_CONTROL = AsciiString.cached("private, max-age=0");

    private final AsciiString permanentCacheControl;
    private final Counter throttled;
    private final Counter unavailable;

    public Redirects(RedirectCache cache, ClickTracker clicks, LinksConfig config, TimeMeter clock, MeterRegistry registry) {
        this.cache = cache;
        this.clicks = clicks;
        this.config = config;
        this.clock = clock;
        this.clients = Caffeine.newBuilder().maximumSize(MAX_CLIENTS).expireAfterAccess(CLIENT_IDLE)
                .executor(Runnable::run) // upkeep on the event loop, amortised (as RedirectCache's)
                .build();
        this.permanentCacheControl = AsciiString.of("public, max-age=" + config.permanentMaxAge().toSeconds());
        this.throttled = Counter.builder("sluice_redirects_rejected").tag("reason", "client_rate_limited")
                .description("Redirects refused").register(registry);
        this.unavailable = Counter.builder("sluice_redirects_rejected").tag("reason", "postgres_unavailable")
                .description("Redirects refused").register(registry);
    }

    public void redirect(HttpExchange exchange) {
        String code = exchange.path().substring(1);
        if (!LinkRules.isCode(code)) {
            notFound(exchange, "no link " + code);
            return;
        }
        InetAddress client = client(exchange);
        Bucket bucket = client == null ? null : bucket(exchange.context().channel(), client);
        if (bucket != null && !bucket.tryConsume(1)) { // no probe object for the redirects let through
            long waitNanos = bucket.estimateAbilityToConsume(1).getNanosToWaitForRefill();
            long seconds = Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
            throttled.increment();
            exchange.responseHeaders().set(HttpHeaderNames.RETRY_AFTER, seconds);
            // every redirect from this address is refused until then (the bucket is the address's)
            RetryAfterGate.toldToWait(exchange.context().channel(), seconds, Redirects::isRedirect);
            exchange.error(HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limited",
                    "too many redirects from this address; slow down");
            return;
        }
        CompletableFuture<RedirectCache.Entry> entry = cache.get(code);
        if (entry.isDone()) {
            answer(exchange, code, client, entry);
        } else {
            entry.whenComplete((e, err) -> exchange.onEventLoop(() -> answer(exchange, code, client, entry)));
        }
    }

    private void answer(HttpExchange exchange, String code, InetAddress client, CompletableFuture<RedirectCache.Entry> f) {
        RedirectCache.Entry entry;
        try {
            entry = f.join();
        } catch (RuntimeException e) {
            if (PostgresCalls.isUnavailable(DependencyErrors.unwrap(e))) {
                unavailable.increment();
            }
            DependencyErrors.respond(exchange, "the link " + code + " cannot be looked up", e);
            return;
        }
        Link link = entry.link();
        if (link == null) {
            notFound(exchange, "no link " + code);
            return;
        }
        if (link.expiresAt() != null && link.expiredAt(cache.now())) {
            gone(exchange, code);
            return;
        }
        AsciiString location = entry.location();
        if (location == null) {
            exchange.internalError(new IllegalStateException("the stored target of link " + code
                    + " is not a valid Location value"));
            return;
        }
        // the values were checked once, when the entry was made: this path does not check them again
        HttpHeaders headers = UNCHECKED_HEADERS.newHeaders()
                .set(HttpHeaderNames.LOCATION, location)
                .set(HttpHeaderNames.CACHE_CONTROL, link.redirect() == 301 || link.redirect() == 308
                        ? permanentCacheControl : PRIVATE_CACHE_CONTROL);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, entry.status(),
                Unpooled.EMPTY_BUFFER, headers, EmptyHttpHeaders.INSTANCE);
        exchange.respond(response);
        clicks.record(code, System.currentTimeMillis(), exchange.headers().get(HttpHeaderNames.REFERER),
                exchange.headers().get(HttpHeaderNames.USER_AGENT), client);
    }

    /** Whether a request is one this route answers: a GET or HEAD of {@code /{code}} without credentials. */
    static boolean isRedirect(HttpRequest request) {
        if (!(request.method().equals(HttpMethod.GET) || request.method().equals(HttpMethod.HEAD))
                || request.headers().contains(HttpHeaderNames.AUTHORIZATION)) {
            return false;
        }
        String uri = request.uri();
        int end = uri.indexOf('?');
        String code = uri.substring(uri.startsWith("/") ? 1 : 0, end < 0 ? uri.length() : end);
        return LinkRules.isCode(code) && !LinkRules.RESERVED.contains(code.toLowerCase(java.util.Locale.ROOT));
    }

    /**
     * The bucket of a client address. A connection keeps the one it looked up and looks again once every
     * {@link #RELOOK_NANOS}: every connection from the address shares the bucket, and the shared entry, looked up
     * that often, never expires while any of them is in use.
     */
    private Bucket bucket(Channel channel, InetAddress client) {
        Attribute<HeldBucket> attribute = channel.attr(HELD_BUCKET);
        HeldBucket held = attribute.get();
        long now = System.nanoTime();
        if (held != null && now - held.lookedUp < RELOOK_NANOS) {
            return held.bucket;
        }
        long perMinute = config.redirectsPerMinutePerClient();
        Bucket bucket = clients.get(client, c -> Bucket.builder()
                .addLimit(limit -> limit.capacity(perMinute).refillGreedy(perMinute, Duration.ofMinutes(1)))
                .withCustomTimePrecision(clock).build());
        if (held == null) {
            attribute.set(new HeldBucket(bucket, now));
        } else {
            held.bucket = bucket;
            held.lookedUp = now;
        }
        return bucket;
    }

    /** A connection's client bucket; used on the connection's event loop only. */
    private static final class HeldBucket {
        Bucket bucket;
        long lookedUp;

        HeldBucket(Bucket bucket, long lookedUp) {
            this.bucket = bucket;
            this.lookedUp = lookedUp;
        }
    }

    private static InetAddress client(HttpExchange exchange) {
        return exchange.context().channel().remoteAddress() instanceof InetSocketAddress a ? a.getAddress() : null;
    }

    private static void notFound(HttpExchange exchange, String message) {
        page(exchange, HttpResponseStatus.NOT_FOUND, "not_found", message, "Not found",
                "There is no link here.");
    }

    private static void gone(HttpExchange exchange, String code) {
        page(exchange, HttpResponseStatus.GONE, "expired", "the link " + code + " has expired", "Link expired",
                "This link has expired.");
    }

    private static void page(HttpExchange exchange, HttpResponseStatus status, String code, String message,
                             String title, String text) {
        String accept = exchange.headers().get(HttpHeaderNames.ACCEPT);
        if (accept != null && accept.contains("text/html")) {
            String html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + title + "</title></head>"
                    + "<body><h1>" + title + "</h1><p>" + text + "</p></body></html>";
            exchange.respond(status, "text/html; charset=utf-8", Unpooled.copiedBuffer(html, StandardCharsets.UTF_8));
        } else {
            exchange.error(status, code, message);
        }
    }
}
