package io.sluice.gateway.auth;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.DependencyErrors;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.http.Route;
import io.sluice.gateway.http.RetryAfterGate;
import io.sluice.gateway.ratelimit.RateLimitDecision;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import io.sluice.storage.auth.Principal;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The decorator every API route wears: authenticates the request's API key ({@link Authenticator#apiKey}: {@code
 * Authorization: Bearer KEY}, {@code Token KEY}, {@code Basic}, or the {@code p} query parameter where {@link #guardAcceptingQueryKey} allows it; 401 otherwise; 503
 * with {@code Retry-After} when the key cannot be checked, see {@link DependencyErrors}),
 * takes one token from the tenant's request bucket (429 with {@code Retry-After} and {@code RateLimit-*}
 * headers otherwise), then serves the route on the connection's event loop.
 */
public final class ApiGuard {

    private final Authenticator authenticator;
    private final TenantRateLimiter limiter;

    public ApiGuard(Authenticator authenticator, TenantRateLimiter limiter) {
        this.authenticator = authenticator;
        this.limiter = limiter;
    }

    public Route guard(TenantRoute route) {
        return guard(route, false);
    }

    /**
     * As {@link #guard(TenantRoute)}, also taking the key from the {@code p} query parameter when there is no
     * {@code Authorization} header: only for routes whose clients can send it no other way (InfluxDB 1's
     * {@code /write}). Keys in URLs end up in proxies' logs, so no other route takes them.
     */
    public Route guardAcceptingQueryKey(TenantRoute route) {
        return guard(route, true);
    }

    private Route guard(TenantRoute route, boolean queryKey) {
        return exchange -> {
            String key = Authenticator.apiKey(exchange.headers().get(HttpHeaderNames.AUTHORIZATION),
                    queryKey ? exchange.uri() : null);
            CompletableFuture<Optional<Principal>> principal = authenticator.authenticate(key);
            if (principal.isDone()) {
                admit(exchange, principal, route);
            } else {
                principal.whenComplete((p, e) -> exchange.onEventLoop(() -> {
                    try {
                        admit(exchange, principal, route);
                    } catch (RuntimeException failure) {
                        exchange.internalError(failure);
                    }
                }));
            }
        };
    }

    private void admit(HttpExchange exchange, CompletableFuture<Optional<Principal>> lookup, TenantRoute route) {
        Optional<Principal> principal;
        try {
            principal = lookup.join();
        } catch (RuntimeException e) {
            DependencyErrors.respond(exchange, "the API key cannot be checked", e);
            return;
        }
        if (principal.isEmpty()) {
            exchange.responseHeaders().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
            exchange.error(HttpResponseStatus.UNAUTHORIZED, "unauthorized",
                    "missing or invalid API key; send Authorization: Bearer <key> (or Token <key>)");
            return;
        }
        exchange.tenant(principal.get().tenant());
        RateLimitDecision decision = limiter.tryConsume(principal.get(), TenantRateLimiter.Kind.REQUESTS, 1);
        decision.addHeaders(exchange.responseHeaders());
        if (!decision.allowed()) {
            // every request with this key is refused until then: a connection that sends one sooner is answered
            // by the gate, unread (a key from the query string is not matched there, so not gated)
            String authorization = exchange.headers().get(HttpHeaderNames.AUTHORIZATION);
            if (authorization != null) {
                RetryAfterGate.toldToWait(exchange.context().channel(), decision.retryAfterSeconds(),
                        request -> authorization.equals(request.headers().get(HttpHeaderNames.AUTHORIZATION)));
            }
            exchange.error(HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limited",
                    "tenant " + principal.get().tenant() + " is over its request quota of " + decision.limit()
                            + " per minute; retry after " + decision.retryAfterSeconds() + " s");
            return;
        }
        route.serve(exchange, principal.get());
    }
}
