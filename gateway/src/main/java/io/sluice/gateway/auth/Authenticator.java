package io.sluice.gateway.auth;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.auth.Principal;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Turns an API key into a {@link Principal}. Keys are looked up by their SHA-256 in PostgreSQL and cached
 * in Caffeine: valid keys for {@link #VALID_TTL}, unknown ones for {@link #INVALID_TTL} (so a key created
 * or revoked elsewhere takes effect within that time, and guessing keys never floods the database).
 * Concurrent lookups of one key share one query.
 */
public final class Authenticator {

    public static final Duration VALID_TTL = Duration.ofSeconds(60);
    public static final Duration INVALID_TTL = Duration.ofSeconds(5);
    public static final long MAX_CACHED_KEYS = 100_000;

    private final AsyncLoadingCache<String, Optional<Principal>> cache;
    private final Counter missing;
    private final Counter invalid;

    public Authenticator(ApiKeyStore store, MeterRegistry registry, Ticker ticker) {
        this.cache = Caffeine.newBuilder()
                .maximumSize(MAX_CACHED_KEYS)
                .ticker(ticker)
                .recordStats()
                .expireAfter(new Expiry<String, Optional<Principal>>() {
                    @Override
                    public long expireAfterCreate(String key, Optional<Principal> value, long currentTime) {
                        return (value.isPresent() ? VALID_TTL : INVALID_TTL).toNanos();
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
                .buildAsync((hash, executor) -> store.find(hash).map(Optional::of)
                        .defaultIfEmpty(Optional.empty()).toFuture());
        CaffeineCacheMetrics.monitor(registry, cache, "api_keys");
        this.missing = rejections(registry, "missing_key");
        this.invalid = rejections(registry, "invalid_key");
    }

    private static Counter rejections(MeterRegistry registry, String reason) {
        return Counter.builder("sluice_auth_rejected").description("Requests refused by authentication, by reason")
                .tag("reason", reason).register(registry);
    }

    /**
     * Authenticates a raw key. Completes with the principal, or empty for a missing or unknown key (each
     * counted); completes exceptionally only when the key store is unreachable.
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
        return cache.get(ApiKeys.sha256(key)).thenApply(found -> {
            if (found.isEmpty()) {
                invalid.increment();
            }
            return found;
        });
    }

    /** The key in an {@code Authorization: Bearer KEY} header value, or null. */
    public static String bearer(String authorization) {
        if (authorization == null || authorization.length() < 8
                || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        return authorization.substring(7).strip();
    }
}
