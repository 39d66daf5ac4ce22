package io.sluice.storage.query;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * The query result cache: a Caffeine {@link AsyncCache} keyed by the normalised query, so identical
 * concurrent queries share one database call, with a time to live that depends on how old the data is:
 *
 * <table>
 *   <tr><th>range ends</th><th>TTL</th></tr>
 *   <tr><td>within the last hour (or later)</td><td>60 s, but never longer than the step</td></tr>
 *   <tr><td>within the last day</td><td>300 s</td></tr>
 *   <tr><td>earlier</td><td>3600 s</td></tr>
 *   <tr><td>before the late-data window entirely</td><td>until evicted (the data can no longer change)</td></tr>
 * </table>
 *
 * <p>Entries are weighed by result size ({@code query.cache-max-bytes}). Every answer is also kept in a
 * stale copy for {@link #STALE_FOR}; when the database fails, a stale answer is served instead of an error.
 * Time comes from the injected clock.
 */
public final class QueryCache {

    /** How long an answer may be served stale while the database is failing. */
    public static final Duration STALE_FOR = Duration.ofHours(1);

    /** Where an answer came from. */
    public enum Source {
        HIT, MISS, STALE
    }

    /** An answer and where it came from. */
    public record Answer(QueryResult result, Source source) {
    }

    private final Clock clock;
    private final Duration lateWindow;
    private final AsyncCache<SeriesQuery, QueryResult> fresh;
    private final Cache<SeriesQuery, QueryResult> stale;

    public QueryCache(long maxBytes, Duration lateWindow, Clock clock, MeterRegistry registry) {
        this.clock = clock;
        this.lateWindow = lateWindow;
        Ticker ticker = io.sluice.storage.time.ClockTicker.of(clock);
        this.fresh = Caffeine.newBuilder()
                .ticker(ticker)
                .maximumWeight(maxBytes)
                .weigher((SeriesQuery q, QueryResult r) -> (int) Math.min(Integer.MAX_VALUE, r.weight()))
                .expireAfter(new Expiry<SeriesQuery, QueryResult>() {
                    @Override
                    public long expireAfterCreate(SeriesQuery key, QueryResult value, long currentTime) {
                        return ttl(key).toNanos();
                    }

                    @Override
                    public long expireAfterUpdate(SeriesQuery key, QueryResult value, long currentTime,
                                                  long currentDuration) {
                        return ttl(key).toNanos();
                    }

                    @Override
                    public long expireAfterRead(SeriesQuery key, QueryResult value, long currentTime,
                                                long currentDuration) {
                        return currentDuration;
                    }
                })
                .recordStats()
                .buildAsync();
        this.stale = Caffeine.newBuilder()
                .ticker(ticker)
                .maximumWeight(Math.max(1, maxBytes / 2))
                .weigher((SeriesQuery q, QueryResult r) -> (int) Math.min(Integer.MAX_VALUE, r.weight()))
                .expireAfterWrite(STALE_FOR)
                .build();
        CaffeineCacheMetrics.monitor(registry, fresh, "queries");
    }

    /** The time to live of a query's answer, from the age of the range's end. */
    public Duration ttl(SeriesQuery query) {
        Instant now = clock.instant();
        if (query.to().isBefore(now.minus(lateWindow))) {
            return Duration.ofNanos(Long.MAX_VALUE); // immutable: only size evicts it
        }
        Duration age = Duration.between(query.to(), now);
        if (age.compareTo(Duration.ofHours(1)) <= 0) {
            Duration ttl = Duration.ofSeconds(60);
            return query.step().compareTo(ttl) < 0 ? query.step() : ttl;
        }
        if (age.compareTo(Duration.ofDays(1)) <= 0) {
            return Duration.ofSeconds(300);
        }
        return Duration.ofSeconds(3600);
    }

    /**
     * The cached answer, or the loader's; concurrent calls for one query share one load. If the load fails
     * and a stale answer exists, that is returned instead.
     */
    public CompletableFuture<Answer> get(SeriesQuery query, Function<SeriesQuery, CompletableFuture<QueryResult>> loader) {
        CompletableFuture<QueryResult> cached = fresh.getIfPresent(query);
        if (cached != null && cached.isDone() && !cached.isCompletedExceptionally()) {
            return CompletableFuture.completedFuture(new Answer(cached.join(), Source.HIT));
        }
        return fresh.get(query, (q, executor) -> loader.apply(q).whenComplete((result, error) -> {
                    if (result != null) {
                        stale.put(q, result);
                    }
                }))
                .thenApply(result -> new Answer(result, cached == null ? Source.MISS : Source.HIT))
                .exceptionallyCompose(error -> {
                    QueryResult old = stale.getIfPresent(query);
                    return old != null ? CompletableFuture.completedFuture(new Answer(old, Source.STALE))
                            : CompletableFuture.failedFuture(error instanceof CompletionException ce && ce.getCause() != null
                            ? ce.getCause() : error);
                });
    }
}
