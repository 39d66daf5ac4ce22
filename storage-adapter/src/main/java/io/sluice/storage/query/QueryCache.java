package io.sluice.storage.query;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;
import io.sluice.storage.invalidation.CacheFootprint;
import io.sluice.storage.invalidation.Invalidations;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * A query answer cache: a Caffeine {@link AsyncCache} keyed by the normalised query ({@code K}), so identical
 * concurrent queries share one database call, kept fresh by the writers' announcements: every entry (from the moment
 * its load starts) is registered with {@link Invalidations} under its footprint ({@link Keys#footprint}: tenant,
 * metrics, time range), and a
 * commit that stored samples there drops it on every node (read-your-writes within the control topic's delivery
 * time). A load that a commit's announcement overlaps while it runs still answers its callers, but is not kept, and
 * a query asked after the announcement never joins it.
 *
 * <p>The time to live is a backstop only, for an announcement lost in a way neither the writer nor this node noticed
 * (see {@link io.sluice.storage.invalidation.WriteAnnouncer} and the control topic subscriber), and for data
 * retention dropping old samples. It still depends on how old the data is, since recent ranges are the likeliest
 * to change:
 *
 * <table>
 *   <tr><th>range ends</th><th>TTL</th></tr>
 *   <tr><td>within the last hour (or later)</td><td>10 min</td></tr>
 *   <tr><td>within the last day</td><td>1 h</td></tr>
 *   <tr><td>earlier</td><td>6 h</td></tr>
 * </table>
 * No range is "immutable" any more: spool replay after a Kafka outage, writer lag after a PostgreSQL outage and a
 * replayed dead letter all store samples older than the late-data window.
 *
 * <p>Entries are weighed by result size. Every answer is also kept in a stale copy for {@link #STALE_FOR}, which
 * invalidation leaves in place: it is served (as {@link Source#STALE}, {@code X-Sluice-Cache: stale}) only when the
 * database fails, where a known-old answer beats an error. The cache's bytes bound both together: two thirds for
 * fresh answers, a third for stale copies (mostly the same objects; an answer evicted or invalidated stays there).
 * Their weights are the gauge {@code sluice_query_cache_bytes{cache,copy="fresh|stale"}}. Time comes from the
 * injected clock.
 */
public final class QueryCache<K, V> {

    /** How long an answer may be served stale while the database is failing. */
    public static final Duration STALE_FOR = Duration.ofHours(1);
    /** Reloads of a query whose every load was overlapped by a write while it ran, before one is not cached. */
    private static final int ATTEMPTS = 3;

    /** Where an answer came from. */
    public enum Source {
        HIT, MISS, STALE
    }

    /** An answer and where it came from. */
    public record Answer<V>(V result, Source source) {
    }

    /** What the cache needs to know of its keys and answers. */
    public interface Keys<K, V> {

        /** What a query's answer is computed from. */
        CacheFootprint footprint(K query);

        /** Where the query's range ends (exclusive): the backstop TTL depends on its age. */
        Instant end(K query);

        /** About how many bytes an answer holds. */
        long weight(V answer);
    }

    /** A cached answer and its place in the invalidation index. */
    /**
     * A cached answer, its place in the invalidation index, and when (ticker time) it was computed: its time to live
     * counts from then, not from whenever the cache sees the load complete.
     */
    private record Cached<V>(V result, Invalidations.Registration registration, long computedAt) {
    }

    /** A load under way (then its answer): what the fresh cache holds, with its registration from the start. */
    private static final class Load<V> extends CompletableFuture<Cached<V>> {
        private volatile Invalidations.Registration registration;
    }

    private final Clock clock;
    private final Invalidations invalidations;
    private final Keys<K, V> keys;
    private final Ticker ticker;
    private final AsyncCache<K, Cached<V>> fresh;
    private final Cache<K, V> stale;

    /**
     * @param name     the {@code cache} tag of its Caffeine meters ({@code cache_size{cache=...}} and the others)
     * @param maxBytes what the fresh answers and the stale copies may weigh together (see the class)
     */
    public QueryCache(String name, long maxBytes, Invalidations invalidations, Clock clock, MeterRegistry registry,
                      Keys<K, V> keys) {
        this.clock = clock;
        this.invalidations = invalidations;
        this.keys = keys;
        Ticker ticker = io.sluice.storage.time.ClockTicker.of(clock);
        this.ticker = ticker;
        this.fresh = Caffeine.newBuilder()
                .ticker(ticker)
                .maximumWeight(Math.max(1, maxBytes - maxBytes / 3))
                .weigher((K q, Cached<V> c) -> (int) Math.min(Integer.MAX_VALUE, keys.weight(c.result())))
                .expireAfter(new Expiry<K, Cached<V>>() {
                    @Override
                    public long expireAfterCreate(K key, Cached<V> value, long currentTime) {
                        return remaining(key, value, currentTime);
                    }

                    @Override
                    public long expireAfterUpdate(K key, Cached<V> value, long currentTime, long currentDuration) {
                        return remaining(key, value, currentTime);
                    }

                    @Override
                    public long expireAfterRead(K key, Cached<V> value, long currentTime, long currentDuration) {
                        return currentDuration;
                    }
                })
                // evicted, expired or dropped: out of the index too (by identity: a newer entry of the key stays)
                .removalListener((K q, Cached<V> c, com.github.benmanes.caffeine.cache.RemovalCause cause) -> {
                    if (c != null) {
                        invalidations.unregister(c.registration());
                    }
                })
                .recordStats()
                .buildAsync();
        this.stale = Caffeine.newBuilder()
                .ticker(ticker)
                .maximumWeight(Math.max(1, maxBytes / 3))
                .weigher((K q, V r) -> (int) Math.min(Integer.MAX_VALUE, keys.weight(r)))
                .expireAfterWrite(STALE_FOR)
                .build();
        CaffeineCacheMetrics.monitor(registry, fresh, name);
        io.micrometer.core.instrument.Gauge.builder("sluice_query_cache_bytes", this, c -> c.weight(c.freshEviction()))
                .description("What a query answer cache holds, by its weight of its answers (bytes, approximately)")
                .tags("cache", name, "copy", "fresh").register(registry);
        io.micrometer.core.instrument.Gauge.builder("sluice_query_cache_bytes", this, c -> c.weight(c.staleEviction()))
                .tags("cache", name, "copy", "stale").register(registry);
    }

    private com.github.benmanes.caffeine.cache.Policy.Eviction<?, ?> freshEviction() {
        return fresh.synchronous().policy().eviction().orElseThrow();
    }

    private com.github.benmanes.caffeine.cache.Policy.Eviction<?, ?> staleEviction() {
        return stale.policy().eviction().orElseThrow();
    }

    private double weight(com.github.benmanes.caffeine.cache.Policy.Eviction<?, ?> eviction) {
        return eviction.weightedSize().orElse(0L);
    }

    /**
     * What the fresh answers and the stale copies weigh together, once pending evictions are done: at most the
     * {@code maxBytes} the cache was made with.
     */
    public long weightedBytes() {
        fresh.synchronous().cleanUp();
        stale.cleanUp();
        return freshEviction().weightedSize().orElse(0L) + staleEviction().weightedSize().orElse(0L);
    }

    /** The cache of Sluice's own range queries ({@code GET /api/v1/query}), its meters tagged {@code cache=queries}. */
    public static QueryCache<SeriesQuery, QueryResult> ranges(long maxBytes, Invalidations invalidations, Clock clock,
                                                             MeterRegistry registry) {
        return new QueryCache<>("queries", maxBytes, invalidations, clock, registry, new Keys<>() {
            @Override
            public CacheFootprint footprint(SeriesQuery query) {
                return QueryCache.footprint(query);
            }

            @Override
            public Instant end(SeriesQuery query) {
                return query.to();
            }

            @Override
            public long weight(QueryResult answer) {
                return answer.weight();
            }
        });
    }

    /** The backstop time to live of a query's answer, from the age of the range's end (see the class). */
    public Duration ttl(SeriesQuery query) {
        return ttl(query.to());
    }

    /** The backstop time to live of an answer whose range ends at {@code end} (see the class). */
    public Duration ttl(Instant end) {
        Duration age = Duration.between(end, clock.instant());
        if (age.compareTo(Duration.ofHours(1)) <= 0) {
            return Duration.ofMinutes(10);
        }
        if (age.compareTo(Duration.ofDays(1)) <= 0) {
            return Duration.ofHours(1);
        }
        return Duration.ofHours(6);
    }

    /** What is left of an answer's time to live at {@code now} (ticker time), counted from when it was computed. */
    private long remaining(K key, Cached<V> value, long now) {
        return Math.max(0, ttl(keys.end(key)).toNanos() - Math.max(0, now - value.computedAt()));
    }

    /** What a query's answer is computed from: its tenant's samples of its metric in {@code [from, to)}. */
    public static CacheFootprint footprint(SeriesQuery query) {
        return CacheFootprint.of(query.tenant(), query.metric(), query.from().toEpochMilli(),
                query.to().toEpochMilli() - 1);
    }

    /**
     * The cached answer, or the loader's; concurrent calls for one query share one load (unless a write overlapped
     * it meanwhile). If the load fails and a stale answer exists, that is returned instead.
     */
    public CompletableFuture<Answer<V>> get(K query, Function<K, CompletableFuture<V>> loader) {
        CompletableFuture<Cached<V>> cached = fresh.getIfPresent(query);
        if (cached != null && cached.isDone() && !cached.isCompletedExceptionally() && valid(cached)) {
            return CompletableFuture.completedFuture(new Answer<>(cached.join().result(), Source.HIT));
        }
        boolean[] started = new boolean[1];
        CompletableFuture<V> answer = null;
        for (int attempt = 0; attempt < ATTEMPTS && answer == null; attempt++) {
            started[0] = false;
            CompletableFuture<Cached<V>> load = fresh.get(query, (q, executor) -> {
                started[0] = true; // the mapping function runs on this thread, inside get
                return load(q, loader);
            });
            if (valid(load)) {
                answer = load.thenApply(Cached::result);
            } else {
                fresh.asMap().remove(query, load); // overlapped by a write: never joined by a later query
            }
        }
        if (answer == null) { // writes keep overlapping this query: answer it without caching
            started[0] = true;
            answer = loadUncached(query, loader);
        }
        Source source = started[0] ? Source.MISS : Source.HIT;
        return answer.thenApply(result -> new Answer<>(result, source))
                .exceptionallyCompose(error -> {
                    V old = stale.getIfPresent(query);
                    return old != null ? CompletableFuture.completedFuture(new Answer<>(old, Source.STALE))
                            : CompletableFuture.failedFuture(error instanceof CompletionException ce && ce.getCause() != null
                            ? ce.getCause() : error);
                });
    }

    /**
     * One caller's view of a load that concurrent identical queries share: cancelling it (a caller's deadline, a
     * client gone) neither cancels the load for the others nor, when the load later fails, reports that failure as
     * dropped (Reactor's {@code onErrorDropped}, logged as an error): the caller gets a copy of the load, and only
     * the copy is cancelled.
     */
    public static <T> reactor.core.publisher.Mono<T> joined(CompletableFuture<T> load) {
        return reactor.core.publisher.Mono.fromFuture(load.thenApply(Function.identity()));
    }

    private static boolean valid(CompletableFuture<?> future) {
        Invalidations.Registration registration = ((Load<?>) future).registration;
        return registration != null && registration.valid();
    }

    /** Registers the load (before it reads anything) and starts it. */
    private Load<V> load(K query, Function<K, CompletableFuture<V>> loader) {
        Load<V> load = new Load<>();
        Invalidations.Registration registration = invalidations.register(keys.footprint(query),
                () -> fresh.asMap().remove(query, load));
        load.registration = registration;
        CompletableFuture<V> running;
        try {
            running = loader.apply(query);
        } catch (RuntimeException e) {
            running = CompletableFuture.failedFuture(e);
        }
        running.whenComplete((result, error) -> {
            if (error != null) {
                invalidations.unregister(registration);
                load.completeExceptionally(error);
                return;
            }
            if (registration.valid()) {
                stale.put(query, result);
            } else {
                stale.asMap().putIfAbsent(query, result); // older than a write: never over a newer copy
            }
            load.complete(new Cached<>(result, registration, ticker.read()));
        });
        return load;
    }

    private CompletableFuture<V> loadUncached(K query, Function<K, CompletableFuture<V>> loader) {
        try {
            return loader.apply(query).thenApply(result -> {
                stale.asMap().putIfAbsent(query, result);
                return result;
            });
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }
}
