package io.sluice.gateway.query;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.storage.query.Aggregation;
import io.sluice.storage.query.QueryCache;
import io.sluice.storage.query.QueryResult;
import io.sluice.storage.query.Resolution;
import io.sluice.storage.query.SeriesQuery;
import io.sluice.gateway.time.MutableClock;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

class QueryCacheTest {

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-23T12:00:00Z"));
    private final QueryCache cache = new QueryCache(1 << 20, Duration.ofHours(1), clock, new SimpleMeterRegistry());
    private final AtomicInteger loads = new AtomicInteger();

    private SeriesQuery endingAgo(Duration age, Duration step) {
        Instant to = clock.instant().minus(age);
        return new SeriesQuery("t", "m", List.of(), to.minus(Duration.ofHours(1)), to, step, Aggregation.AVG, List.of(),
                Resolution.forStep(step));
    }

    private CompletableFuture<QueryResult> load(SeriesQuery q) {
        loads.incrementAndGet();
        return CompletableFuture.completedFuture(new QueryResult(q, List.of()));
    }

    @Test
    void ttlFollowsTheAgeOfTheRangesEnd() {
        assertThat(cache.ttl(endingAgo(Duration.ZERO, Duration.ofMinutes(5)))).isEqualTo(Duration.ofSeconds(60));
        assertThat(cache.ttl(endingAgo(Duration.ZERO, Duration.ofSeconds(15)))).as("never longer than the step")
                .isEqualTo(Duration.ofSeconds(15));
        assertThat(cache.ttl(endingAgo(Duration.ofMinutes(-5), Duration.ofMinutes(1)))).as("ends in the future")
                .isEqualTo(Duration.ofSeconds(60));
        assertThat(cache.ttl(endingAgo(Duration.ofMinutes(59), Duration.ofMinutes(5)))).isEqualTo(Duration.ofSeconds(60));
        // the late-data window is 1 h here, so anything older is immutable
        assertThat(cache.ttl(endingAgo(Duration.ofHours(2), Duration.ofMinutes(5)))).isEqualTo(Duration.ofNanos(Long.MAX_VALUE));
        QueryCache wideWindow = new QueryCache(1 << 20, Duration.ofDays(30), clock, new SimpleMeterRegistry());
        assertThat(wideWindow.ttl(endingAgo(Duration.ofHours(2), Duration.ofMinutes(5)))).isEqualTo(Duration.ofSeconds(300));
        assertThat(wideWindow.ttl(endingAgo(Duration.ofDays(2), Duration.ofMinutes(5)))).isEqualTo(Duration.ofSeconds(3600));
    }

    @Test
    void entriesExpireByTheInjectedClock() {
        SeriesQuery q = endingAgo(Duration.ZERO, Duration.ofSeconds(30));
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.HIT);
        clock.advance(Duration.ofSeconds(29));
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.HIT);
        clock.advance(Duration.ofSeconds(2));
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(loads).hasValue(2);
    }

    @Test
    void immutableRangesStayUntilEvicted() {
        SeriesQuery q = endingAgo(Duration.ofHours(3), Duration.ofMinutes(1));
        cache.get(q, this::load).join();
        clock.advance(Duration.ofDays(300));
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.HIT);
        assertThat(loads).hasValue(1);
    }

    @Test
    void concurrentIdenticalQueriesShareOneLoad() {
        SeriesQuery q = endingAgo(Duration.ZERO, Duration.ofMinutes(1));
        CompletableFuture<QueryResult> pending = new CompletableFuture<>();
        List<CompletableFuture<QueryCache.Answer>> answers = new java.util.ArrayList<>();
        for (int i = 0; i < 50; i++) {
            answers.add(cache.get(q, k -> {
                loads.incrementAndGet();
                return pending;
            }));
        }
        pending.complete(new QueryResult(q, List.of()));
        answers.forEach(a -> assertThat(a.join().result().query()).isEqualTo(q));
        assertThat(loads).hasValue(1);
    }

    @Test
    void aFailedLoadServesTheStaleAnswer() {
        SeriesQuery q = endingAgo(Duration.ZERO, Duration.ofSeconds(10));
        QueryResult first = cache.get(q, this::load).join().result();
        clock.advance(Duration.ofSeconds(11));
        QueryCache.Answer answer = cache.get(q, k -> CompletableFuture.failedFuture(new IllegalStateException("db down")))
                .join();
        assertThat(answer.source()).isEqualTo(QueryCache.Source.STALE);
        assertThat(answer.result()).isSameAs(first);
        // with nothing stale to give, the error comes through
        SeriesQuery other = endingAgo(Duration.ZERO, Duration.ofSeconds(20));
        assertThat(cache.get(other, k -> CompletableFuture.failedFuture(new IllegalStateException("db down"))))
                .failsWithin(Duration.ofSeconds(5));
    }
}
