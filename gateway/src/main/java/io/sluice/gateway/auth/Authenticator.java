package io.sluice.gateway.auth;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import io.sluice.config.AuthConfig;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.postgres.LastConfirmed;

import io.netty.handler.codec.http.QueryStringDecoder;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BooleanSupplier;

/**
 * Turns an API key into a {@link Principal}. Keys are looked up by their SHA-256 in PostgreSQL (within
 * {@code postgres.call-timeout}) and the verdicts cached in Caffeine: a valid key for {@code auth.cache-ttl}, an
 * unknown or revoked one for {@code auth.negative-ttl} (so a key created or revoked elsewhere takes effect within
 * that time, and guessing keys never floods the database). Concurrent lookups of one key share one query.
 *
 * <p><b>Stale if error.</b> A key's last valid verdict is also kept aside for {@code auth.stale-if-error}, counted
 * from the last lookup that confirmed it. When a lookup fails (PostgreSQL unreachable, or no answer within the
 * deadline), that verdict answers instead, so ingest with known keys goes on into Kafka through a PostgreSQL
 * outage. While PostgreSQL is known to be unreachable (its last call failed), a key with such a verdict is
 * answered at once and looked up again in the background, instead of waiting for a deadline per request. A lookup
 * that finds the key gone (revoked) drops its verdict: revocations apply as soon as PostgreSQL answers again.
 * A key with no verdict (never seen, or seen only as invalid) cannot be checked during an outage: the lookup fails
 * and the caller answers 503 / RETRY_LATER.
 *
 * <p><b>Looked up again in the background.</b> A key in steady use (its valid verdict expired less than
 * {@code auth.cache-ttl} ago) is answered from that verdict at once while it is looked up again, and the lookup's
 * answer applies from the next request ({@link LastConfirmed#recent}): without this, when PostgreSQL had just
 * frozen, such a key's requests waited for the lookup's whole {@code postgres.call-timeout}, and its ingest stood
 * still for 5 s. A revoked key in steady use is refused within {@code auth.cache-ttl} plus one lookup.
 */
public final class Authenticator {

    public static final long MAX_CACHED_KEYS = 100_000;

    private final ApiKeyStore store;
    private final BooleanSupplier postgresUnreachable;
    private final AsyncCache<String, Optional<Principal>> cache;
    /** A key's last valid verdict, for {@code auth.stale-if-error}. */
    private final LastConfirmed<Principal> lastValid;
    private final Counter missing;
    private final Counter invalid;
    private final Counter unavailable;
    private final Counter stale;
    private final Counter revalidated;

    /**
     * @param postgresUnreachable whether PostgreSQL's last call failed to reach it (see
     *                            {@link io.sluice.storage.postgres.PostgresCalls#unreachable()})
     * @param ticker              the time of both caches (tests move it past the TTLs)
     */
    public Authenticator(ApiKeyStore store, AuthConfig config, BooleanSupplier postgresUnreachable,
                         MeterRegistry registry, Ticker ticker) {
        this.store = store;
        this.postgresUnreachable = postgresUnreachable;
        long validTtl = config.cacheTtl().toNanos();
        long invalidTtl = config.negativeTtl().toNanos();
        this.cache = Caffeine.newBuilder()
                .maximumSize(MAX_CACHED_KEYS)
                .ticker(ticker)
                .recordStats()
                .expireAfter(new Expiry<String, Optional<Principal>>() {
                    @Override
                    public long expireAfterCreate(String key, Optional<Principal> value, long currentTime) {
                        return value.isPresent() ? validTtl : invalidTtl;
                    }

                    @Override
                    public long expireAfterUpdate(String key, Optional<Principal> value, long currentTime,
                                                  long currentDuration) {
                        return expireAfterCreate(key, value, currentTime);
                    }

                    @Override
                    public long expireAfterRead(String key, Optional<Principal> value, long currentTime,
                                                long currentDuration) {
                        return currentDuration;
                    }
                })
                .buildAsync();
        this.lastValid = new LastConfirmed<>(MAX_CACHED_KEYS, config.staleIfError(), config.cacheTtl(), ticker);
        CaffeineCacheMetrics.monitor(registry, cache, "api_keys");
        this.missing = rejections(registry, "missing_key");
        this.invalid = rejections(registry, "invalid_key");
        this.unavailable = rejections(registry, "postgres_unavailable");
        this.stale = Counter.builder("sluice_auth_stale")
                .description("Authentications answered from a key's last valid verdict because PostgreSQL could not "
                        + "be asked (auth.stale-if-error)")
                .register(registry);
        this.revalidated = Counter.builder("sluice_auth_revalidated")
                .description("Authentications answered from a key's valid verdict that had just expired "
                        + "(auth.cache-ttl) while the key was looked up again in the background")
                .register(registry);
    }

    private static Counter rejections(MeterRegistry registry, String reason) {
        return Counter.builder("sluice_auth_rejected").description("Requests refused by authentication, by reason")
                .tag("reason", reason).register(registry);
    }

    /**
     * Authenticates a raw key. Completes with the principal, or empty for a missing or unknown key (each
     * counted); completes exceptionally only when the key could not be checked (PostgreSQL unreachable or too slow
     * and no last valid verdict): the caller answers 503 / RETRY_LATER.
     */
    public CompletableFuture<Optional<Principal>> authenticate(String key) {
        if (key == null || key.isEmpty()) {
            missing.increment();
            return CompletableFuture.completedFuture(Optional.empty());
        }
        if (key.length() > ApiKeys.MAX_KEY_LENGTH || !key.startsWith(ApiKeys.PREFIX)) {
            invalid.increment();
            return CompletableFuture.completedFuture(Optional.empty());
        }
        String hash = ApiKeys.sha256(key);
        CompletableFuture<Optional<Principal>> cached = cache.getIfPresent(hash);
        if (cached != null && cached.isDone() && !cached.isCompletedExceptionally()) {
            counted(cached.join());
            return cached; // the hot path
        }
        CompletableFuture<Optional<Principal>> lookup = cache.get(hash, (h, executor) -> load(h));
        if (!lookup.isDone()) {
            // the lookup goes on in the background and replaces the verdict when it answers
            Principal known = lastValid.get(hash);
            if (known != null && postgresUnreachable.getAsBoolean()) {
                stale.increment();
                return CompletableFuture.completedFuture(Optional.of(known));
            }
            Principal recent = lastValid.recent(hash);
            if (recent != null) {
                revalidated.increment();
                return CompletableFuture.completedFuture(Optional.of(recent));
            }
        }
        return lookup.handle((found, error) -> {
            if (error == null) {
                return counted(found);
            }
            Principal last = lastValid.get(hash);
            if (last != null) {
                stale.increment();
                return Optional.of(last);
            }
            unavailable.increment();
            throw error instanceof CompletionException ce ? ce : new CompletionException(error);
        });
    }

    private CompletableFuture<Optional<Principal>> load(String hash) {
        return store.find(hash)
                .map(Optional::of)
                .defaultIfEmpty(Optional.empty())
                .doOnNext(found -> {
                    if (found.isPresent()) {
                        lastValid.confirmed(hash, found.get());
                    } else {
                        lastValid.forget(hash); // revoked (or never valid): no stale verdict from now on
                    }
                })
                .toFuture();
    }

    private Optional<Principal> counted(Optional<Principal> found) {
        if (found.isEmpty()) {
            invalid.increment();
        }
        return found;
    }

    /**
     * The API key a request presents, or null: from its {@code Authorization} header ({@code Bearer KEY},
     * {@code Token KEY} as InfluxDB 2 clients send it, or {@code Basic} with the key as the password, as InfluxDB 1
     * clients send a user name and password); without that header, and only when {@code uri} is given (the routes
     * whose clients can send a key no other way: InfluxDB 1's {@code /write}), from the {@code p} query parameter
     * ({@code u} is not used). Every route reads its key here.
     *
     * @param uri the request's URI when the route accepts a key in its query, else null
     */
    public static String apiKey(String authorization, String uri) {
        if (authorization != null) {
            String key = scheme(authorization, "Bearer ");
            if (key == null) {
                key = scheme(authorization, "Token ");
            }
            if (key == null) {
                String basic = scheme(authorization, "Basic ");
                key = basic == null ? null : basicPassword(basic);
            }
            return key;
        }
        int query = uri == null ? -1 : uri.indexOf('?');
        if (query < 0) {
            return null;
        }
        List<String> p = new QueryStringDecoder(uri).parameters().get("p");
        return p == null || p.isEmpty() ? null : p.get(0);
    }

    private static String scheme(String authorization, String scheme) {
        if (authorization.length() <= scheme.length()
                || !authorization.regionMatches(true, 0, scheme, 0, scheme.length())) {
            return null;
        }
        return authorization.substring(scheme.length()).strip();
    }

    /** The password of {@code user:password} in Base64, or null when it is not that. */
    private static String basicPassword(String credentials) {
        try {
            String decoded = new String(Base64.getDecoder().decode(credentials), StandardCharsets.UTF_8);
            int colon = decoded.indexOf(':');
            return colon < 0 ? null : decoded.substring(colon + 1);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
