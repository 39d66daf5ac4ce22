package io.sluice.gateway.links;

import io.sluice.storage.health.BreakerGauge;
import io.sluice.storage.time.ClockTicker;
import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import com.github.benmanes.caffeine.cache.stats.ConcurrentStatsCounter;
import com.github.benmanes.caffeine.cache.stats.StatsCounter;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.reactor.circuitbreaker.operator.CircuitBreakerOperator;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.sluice.config.LinksConfig;
import io.sluice.storage.links.Link;
import io.sluice.storage.links.LinkStore;
import io.sluice.storage.postgres.LastConfirmed;
import io.sluice.storage.postgres.PostgresUnavailableException;
import reactor.core.scheduler.Schedulers;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The redirect path's view of links: a bounded Caffeine cache in which concurrent misses for one code
 * share one R2DBC load. A link is kept for min({@code links.cache-ttl}, time until it expires); an unknown
 * or expired code for {@code links.negative-ttl}. Loads go through a circuit breaker: while PostgreSQL is
 * failing, cached links keep redirecting and uncached codes fail fast. The last link loaded for each code is
 * also kept aside for {@link #STALE_FOR} (stale-if-error): when a reload fails, that answer is served
 * instead, so a long PostgreSQL outage does not break links that were in use. A code in steady use (its link expired
 * from the cache less than {@code links.cache-ttl} ago) is answered from that link at once while it is loaded again
 * ({@link LastConfirmed#recent}): its redirects never wait for PostgreSQL, where they waited for the load's whole
 * deadline when PostgreSQL had just frozen.
 *
 * <p>In front of the cache, each event loop keeps the codes it answered lately (at most {@value #FRONT_MAX}), each
 * for at most {@value #FRONT_MILLIS} ms (and never longer than {@code links.negative-ttl} for an unknown code): a
 * plain map read instead of Caffeine's read bookkeeping on the hottest path. Any change of a link on this node
 * ({@link #created}, {@link #invalidate}, which every node runs for an update or delete anywhere) makes all of
 * them stale at once. Their hits count as the cache's.
 */
public final class RedirectCache {

    /**
     * A code's state: the link, or null when there is no such link; with the status and {@code Location} its
     * redirects answer with, made once rather than for every redirect.
     */
    public static final class Entry {
        static final Entry MISSING = new Entry(null);

        private final Link link;
        private final HttpResponseStatus status;
        private final AsciiString location;

        Entry(Link link) {
            this.link = link;
            this.status = link == null ? null : HttpResponseStatus.valueOf(link.redirect());
            this.location = link == null || !LinkRules.isLocationValue(link.target()) ? null
                    : new AsciiString(link.target());
        }

        public Link link() {
            return link;
        }

        HttpResponseStatus status() {
            return status;
        }

        /**
         * The target as a {@code Location} value, checked once here ({@link LinkRules#isLocationValue}). Null for a
         * stored target that is not one (none should be).
         */
        AsciiString location() {
            return location;
        }
    }

    /** How long the last known link of a code may be served while PostgreSQL fails. */
    public static final Duration STALE_FOR = Duration.ofHours(24);

    /** Most codes one event loop keeps in front of the cache. */
    static final int FRONT_MAX = 4096;
    /** Longest an event loop answers a code from what it kept. */
    static final long FRONT_MILLIS = 1000;
    private static final long FRONT_NANOS = TimeUnit.MILLISECONDS.toNanos(FRONT_MILLIS);

    private final AsyncLoadingCache<String, Entry> cache;
    private final StatsCounter stats = new ConcurrentStatsCounter();
    /** Changes of links on this node so far; what an event loop kept is void once this moved. */
    private final AtomicLong generation = new AtomicLong();
    private final FastThreadLocal<Map<String, Front>> front = new FastThreadLocal<>() {
        @Override
        protected Map<String, Front> initialValue() {
            return new HashMap<>();
        }
    };
    private final long negativeTtlNanos;
    private final LastConfirmed<Link> lastKnown;
    private final CircuitBreaker breaker;
    private final Clock clock;

    public RedirectCache(LinkStore store, LinksConfig config, Clock clock, MeterRegistry registry) {
        this.clock = clock;
        this.breaker = CircuitBreaker.of("postgres-links", CircuitBreakerConfig.custom()
                .slidingWindowSize(20).minimumNumberOfCalls(5).failureRateThreshold(50)
                .waitDurationInOpenState(Duration.ofSeconds(5)).build());
        BreakerGauge.register(registry, "sluice_links_breaker_state",
                "Redirect path's PostgreSQL", breaker);
        Ticker ticker = ClockTicker.of(clock);
        this.lastKnown = new LastConfirmed<>(config.cacheMaxEntries(), STALE_FOR, config.cacheTtl(), ticker);
        long maxTtl = config.cacheTtl().toNanos();
        long negativeTtl = config.negativeTtl().toNanos();
        this.negativeTtlNanos = negativeTtl;
        this.cache = Caffeine.newBuilder()
                .maximumSize(config.cacheMaxEntries())
                .ticker(ticker)
                // the cache's upkeep (read order, eviction) runs on the thread that triggers it, amortised over
                // reads, rather than as a task that wakes a ForkJoinPool thread thousands of times a second
                .executor(Runnable::run)
                .recordStats(() -> stats)
                .expireAfter(new Expiry<String, Entry>() {
                    @Override
                    public long expireAfterCreate(String code, Entry entry, long currentTime) {
                        Link link = entry.link();
                        Instant now = clock.instant();
                        if (link == null || link.expiredAt(now)) {
                            return negativeTtl;
                        }
                        if (link.expiresAt() == null) {
                            return maxTtl;
                        }
                        Duration left = Duration.between(now, link.expiresAt());
                        return left.compareTo(Duration.ofNanos(maxTtl)) >= 0 ? maxTtl : left.toNanos();
                    }

                    @Override
                    public long expireAfterUpdate(String code, Entry entry, long currentTime, long currentDuration) {
                        return expireAfterCreate(code, entry, currentTime);
                    }

                    @Override
                    public long expireAfterRead(String code, Entry entry, long currentTime, long currentDuration) {
                        return currentDuration;
                    }
                })
                .buildAsync((code, executor) -> store.find(code)
                        .doOnNext(link -> lastKnown.confirmed(code, link))
                        .map(Entry::new)
                        .defaultIfEmpty(Entry.MISSING) // the store's call has the postgres.call-timeout deadline
                        .doOnNext(entry -> {
                            if (entry == Entry.MISSING) {
                                lastKnown.forget(code); // gone: never served from what was known before
                            }
                        })
                        // off the database connection's event loop before the breaker counts the outcome: its
                        // sliding window takes a lock, which concurrent misses on several connections contend for
                        .publishOn(Schedulers.boundedElastic())
                        .transformDeferred(CircuitBreakerOperator.of(breaker))
                        .onErrorMap(CallNotPermittedException.class, e -> new PostgresUnavailableException("links.find",
                                "not tried: PostgreSQL has been failing (circuit breaker open)", e))
                        .toFuture());
        CaffeineCacheMetrics.monitor(registry, cache, "links");
    }

    /** The cache's hits and misses, answers kept by the event loops included (for tests). */
    com.github.benmanes.caffeine.cache.stats.CacheStats stats() {
        return cache.synchronous().stats();
    }

    /**
     * Whether the cache itself (not an event loop's front) holds an unexpired answer for {@code code} (for tests:
     * Caffeine times an entry once its load's future completed, which may be just after a caller saw it complete).
     */
    boolean caches(String code) {
        return cache.getIfPresent(code) != null;
    }

    /** The breaker of the redirect path's loads (for tests). */
    CircuitBreaker breaker() {
        return breaker;
    }

    /** The state of a code; completes at once when cached. Fails when it had to be loaded and could not be. */
    public CompletableFuture<Entry> get(String code) {
        boolean eventLoop = Thread.currentThread() instanceof FastThreadLocalThread;
        long generation = this.generation.get(); // read before the cache: a change after it voids what is kept
        Map<String, Front> kept = null;
        if (eventLoop) {
            kept = front.get();
            Front f = kept.get(code);
            if (f != null && f.generation == generation && System.nanoTime() - f.until < 0) {
                stats.recordHits(1);
                return f.entry;
            }
        }
        CompletableFuture<Entry> entry = cache.get(code);
        if (entry.isDone() && !entry.isCompletedExceptionally()) {
            if (eventLoop) {
                keep(kept, code, entry, generation);
            }
            return entry; // the hot path: no extra work
        }
        if (!entry.isDone()) {
            Link recent = lastKnown.recent(code); // the load goes on and replaces it when it answers
            if (recent != null) {
                return CompletableFuture.completedFuture(new Entry(recent));
            }
        }
        return entry.exceptionallyCompose(error -> {
            Link stale = lastKnown.get(code);
            return stale != null ? CompletableFuture.completedFuture(new Entry(stale))
                    : CompletableFuture.failedFuture(error);
        });
    }

    private void keep(Map<String, Front> kept, String code, CompletableFuture<Entry> entry, long generation) {
        long forNanos = entry.join().link() == null ? Math.min(FRONT_NANOS, negativeTtlNanos) : FRONT_NANOS;
        if (forNanos <= 0) {
            return;
        }
        if (kept.size() >= FRONT_MAX) {
            kept.clear();
        }
        kept.put(code, new Front(entry, generation, System.nanoTime() + forNanos));
    }

    /**
     * A link this node has just created: cached at once, so that its first clicks (they usually follow
     * right away) need no lookup.
     */
    public void created(Link link) {
        cache.put(link.code(), CompletableFuture.completedFuture(new Entry(link)));
        lastKnown.confirmed(link.code(), link);
        generation.incrementAndGet(); // after the cache changed: see get
    }

    /** Forgets a code on this node (after an update or delete here or on another node). */
    public void invalidate(String code) {
        cache.synchronous().invalidate(code);
        lastKnown.forget(code);
        generation.incrementAndGet(); // after the cache changed: see get
    }

    /** A code an event loop answered lately: valid while no link changed and until {@code until} (nanoTime). */
    private record Front(CompletableFuture<Entry> entry, long generation, long until) {
    }

    public Instant now() {
        return clock.instant();
    }
}
