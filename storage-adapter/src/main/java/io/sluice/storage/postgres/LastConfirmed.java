package io.sluice.storage.postgres;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;

import java.time.Duration;

/**
 * What a PostgreSQL lookup last confirmed for each key, and when: the one rule by which the caches in front of
 * PostgreSQL on the request path (API keys, redirects) answer without it.
 * <ul>
 *   <li>{@link #get}: confirmed within {@code keepFor} (stale-if-error). Served when a lookup fails, or while
 *       PostgreSQL is known to be unreachable.</li>
 *   <li>{@link #recent}: confirmed within twice the cache's TTL, that is, an answer that expired less than a TTL ago:
 *       the key is in steady use. Served at once while the key is looked up again, so that its requests never wait
 *       for PostgreSQL: before, they waited for that lookup once a TTL, and when PostgreSQL had just frozen (no call
 *       had yet found it unreachable), for the lookup's whole deadline. A change made elsewhere then applies within
 *       the TTL plus one lookup. A key idle for longer waits for its lookup.</li>
 * </ul>
 */
public final class LastConfirmed<V> {

    private record Confirmed<V>(V value, long at) {
    }

    private final Cache<String, Confirmed<V>> kept;
    private final Ticker ticker;
    private final long recentNanos;

    /**
     * @param maximumSize most keys kept
     * @param keepFor     how long after its confirmation an answer is kept (0: not at all)
     * @param ttl         the TTL of the cache in front of this
     * @param ticker      the time of both
     */
    public LastConfirmed(long maximumSize, Duration keepFor, Duration ttl, Ticker ticker) {
        this.kept = Caffeine.newBuilder().maximumSize(maximumSize).ticker(ticker).expireAfterWrite(keepFor).build();
        this.ticker = ticker;
        this.recentNanos = 2 * ttl.toNanos();
    }

    /** A lookup just confirmed {@code value} for {@code key}. */
    public void confirmed(String key, V value) {
        kept.put(key, new Confirmed<>(value, ticker.read()));
    }

    /** {@code key} has no answer to fall back on any more (revoked, deleted, changed). */
    public void forget(String key) {
        kept.invalidate(key);
    }

    /** The last answer confirmed within {@code keepFor}, or null. */
    public V get(String key) {
        Confirmed<V> c = kept.getIfPresent(key);
        return c == null ? null : c.value();
    }

    /** The last answer if it was confirmed within twice the TTL (the key is in steady use), or null. */
    public V recent(String key) {
        Confirmed<V> c = kept.getIfPresent(key);
        return c != null && ticker.read() - c.at() < recentNanos ? c.value() : null;
    }
}
