package io.sluice.gateway.query;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.storage.testing.MutableClock;
import io.sluice.storage.invalidation.DataChange;
import io.sluice.storage.invalidation.Invalidations;
import io.sluice.storage.query.Aggregation;
import io.sluice.storage.query.QueryCache;
import io.sluice.storage.query.QueryResult;
import io.sluice.storage.query.Resolution;
import io.sluice.storage.query.SeriesQuery;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

class QueryCacheTest {

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-23T12:00:00Z"));
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Invalidations invalidations = new Invalidations(registry);
    private final QueryCache<SeriesQuery, QueryResult> cache = QueryCache.ranges(1 << 20, invalidations, clock, registry);
    private final AtomicInteger loads = new AtomicInteger();

    private SeriesQuery endingAgo(Duration age, Duration step) {
        return endingAgo("m", age, step);
    }

    private SeriesQuery endingAgo(String metric, Duration age, Duration step) {
        Instant to = clock.instant().minus(age);
        return new SeriesQuery("t", metric, List.of(), to.minus(Duration.ofHours(1)), to, step, Aggregation.AVG,
                List.of(), Resolution.forStep(step));
    }

    private CompletableFuture<QueryResult> load(SeriesQuery q) {
        loads.incrementAndGet();
        return CompletableFuture.completedFuture(new QueryResult(q, List.of()));
    }

    private static QueryResult withPoint(SeriesQuery q, double value) {
        return new QueryResult(q, List.of(new QueryResult.ResultSeries(Map.of("k", "v"),
                new long[] {q.from().toEpochMilli()}, new double[] {value})));
    }

    private static DataChange write(String metric, Instant at) {
        return new DataChange("t", metric, at.toEpochMilli(), at.toEpochMilli());
    }

    @Test
    void theTtlIsALongBackstopByTheAgeOfTheRangesEnd() {
        assertThat(cache.ttl(endingAgo(Duration.ZERO, Duration.ofMinutes(5)))).isEqualTo(Duration.ofMinutes(10));
        assertThat(cache.ttl(endingAgo(Duration.ZERO, Duration.ofSeconds(15)))).as("no longer capped by the step")
                .isEqualTo(Duration.ofMinutes(10));
        assertThat(cache.ttl(endingAgo(Duration.ofMinutes(-5), Duration.ofMinutes(1)))).as("ends in the future")
                .isEqualTo(Duration.ofMinutes(10));
        assertThat(cache.ttl(endingAgo(Duration.ofMinutes(59), Duration.ofMinutes(5)))).isEqualTo(Duration.ofMinutes(10));
        assertThat(cache.ttl(endingAgo(Duration.ofHours(2), Duration.ofMinutes(5)))).isEqualTo(Duration.ofHours(1));
        assertThat(cache.ttl(endingAgo(Duration.ofDays(2), Duration.ofMinutes(5)))).as("nothing is immutable")
                .isEqualTo(Duration.ofHours(6));
    }

    @Test
    void theTtlCountsFromWhenTheAnswerWasComputedNotFromWhenTheCacheSawTheLoadComplete() {
        SeriesQuery q = endingAgo(Duration.ZERO, Duration.ofSeconds(30));
        CompletableFuture<QueryResult> pending = new CompletableFuture<>();
        CompletableFuture<QueryCache.Answer<QueryResult>> first = cache.get(q, k -> pending);
        // runs as the answer completes, ahead of the cache's own completion callback (dependents run last in, first
        // out): time passes between the two, as it may on a busy machine
        first.thenRun(() -> clock.advance(Duration.ofMinutes(11)));
        pending.complete(new QueryResult(q, List.of()));
        assertThat(first.join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(cache.get(q, this::load).join().source()).as("10 min after it was computed").isEqualTo(
                QueryCache.Source.MISS);
    }

    @Test
    void entriesExpireByTheInjectedClock() {
        SeriesQuery q = endingAgo(Duration.ZERO, Duration.ofSeconds(30));
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.HIT);
        clock.advance(Duration.ofMinutes(9));
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.HIT);
        clock.advance(Duration.ofMinutes(2));
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(loads).hasValue(2);
    }

    @Test
    void aWriteDropsTheAnswersItOverlapsAndNoOther() {
        SeriesQuery recent = endingAgo(Duration.ZERO, Duration.ofMinutes(1));
        SeriesQuery hourOld = endingAgo(Duration.ofHours(1), Duration.ofMinutes(1));
        SeriesQuery dayOld = endingAgo(Duration.ofDays(2), Duration.ofMinutes(1));
        SeriesQuery otherMetric = endingAgo("other", Duration.ZERO, Duration.ofMinutes(1));
        for (SeriesQuery q : List.of(recent, hourOld, dayOld, otherMetric)) {
            assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        }
        assertThat(invalidations.size()).isEqualTo(4);

        // a sample 90 minutes ago: inside hourOld's range only ([now-2h, now-1h))
        assertThat(invalidations.apply(List.of(write("m", clock.instant().minus(Duration.ofMinutes(90)))))).isEqualTo(1);
        assertThat(cache.get(hourOld, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(cache.get(recent, this::load).join().source()).isEqualTo(QueryCache.Source.HIT);
        assertThat(cache.get(dayOld, this::load).join().source()).isEqualTo(QueryCache.Source.HIT);

        // a range's end is exclusive: a sample at recent.to() is not in it, one a millisecond before is
        invalidations.apply(List.of(write("m", recent.to())));
        assertThat(cache.get(recent, this::load).join().source()).isEqualTo(QueryCache.Source.HIT);
        invalidations.apply(List.of(write("m", recent.to().minusMillis(1))));
        assertThat(cache.get(recent, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);

        // a write to any metric of the tenant, and one of another tenant
        invalidations.apply(List.of(new DataChange("other-tenant", null, Long.MIN_VALUE, Long.MAX_VALUE)));
        assertThat(cache.get(otherMetric, this::load).join().source()).isEqualTo(QueryCache.Source.HIT);
        invalidations.apply(List.of(new DataChange("t", null, dayOld.from().toEpochMilli(), dayOld.from().toEpochMilli())));
        assertThat(cache.get(dayOld, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(cache.get(otherMetric, this::load).join().source()).isEqualTo(QueryCache.Source.HIT);
        // every tenant
        invalidations.apply(List.of(DataChange.everything()));
        assertThat(cache.get(otherMetric, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
    }

    @Test
    void aLoadOverlappedByAWriteWhileItRunsAnswersItsCallersButIsNeitherKeptNorJoined() {
        SeriesQuery q = endingAgo(Duration.ZERO, Duration.ofMinutes(1));
        CompletableFuture<QueryResult> beforeTheCommit = new CompletableFuture<>();
        CompletableFuture<QueryCache.Answer<QueryResult>> first = cache.get(q, k -> {
            loads.incrementAndGet();
            return beforeTheCommit;
        });
        // the writer commits a sample in q's range and its announcement arrives while the load still runs
        invalidations.apply(List.of(write("m", q.from())));
        // a query asked after the announcement must not join the load that started before the commit
        CompletableFuture<QueryResult> afterTheCommit = new CompletableFuture<>();
        CompletableFuture<QueryCache.Answer<QueryResult>> second = cache.get(q, k -> {
            loads.incrementAndGet();
            return afterTheCommit;
        });
        assertThat(loads).hasValue(2);
        beforeTheCommit.complete(new QueryResult(q, List.of()));
        afterTheCommit.complete(withPoint(q, 1.0));
        assertThat(first.join().result().series()).as("its caller still gets an answer").isEmpty();
        assertThat(second.join().result().series()).hasSize(1);
        QueryCache.Answer<QueryResult> third = cache.get(q, this::load).join();
        assertThat(third.source()).isEqualTo(QueryCache.Source.HIT);
        assertThat(third.result().series()).as("the answer from after the commit is the one kept").hasSize(1);
    }

    @Test
    void anOverlappedLoadThatCompletesAloneIsNotKept() {
        SeriesQuery q = endingAgo(Duration.ZERO, Duration.ofMinutes(1));
        CompletableFuture<QueryResult> pending = new CompletableFuture<>();
        CompletableFuture<QueryCache.Answer<QueryResult>> first = cache.get(q, k -> pending);
        invalidations.apply(List.of(write("m", q.from())));
        pending.complete(new QueryResult(q, List.of()));
        assertThat(first.join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(loads).hasValue(1);
    }

    @Test
    void concurrentIdenticalQueriesShareOneLoad() {
        SeriesQuery q = endingAgo(Duration.ZERO, Duration.ofMinutes(1));
        CompletableFuture<QueryResult> pending = new CompletableFuture<>();
        List<CompletableFuture<QueryCache.Answer<QueryResult>>> answers = new java.util.ArrayList<>();
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
    void aFailedLoadServesTheStaleAnswerEvenAfterAWriteDroppedTheFreshOne() {
        SeriesQuery q = endingAgo(Duration.ZERO, Duration.ofSeconds(10));
        QueryResult first = cache.get(q, this::load).join().result();
        invalidations.apply(List.of(write("m", q.from())));
        QueryCache.Answer<QueryResult> answer = cache.get(q, k -> CompletableFuture.failedFuture(new IllegalStateException("db down")))
                .join();
        assertThat(answer.source()).isEqualTo(QueryCache.Source.STALE);
        assertThat(answer.result()).isSameAs(first);
        assertThat(invalidations.size()).as("the failed load left nothing in the index").isZero();
        // with nothing stale to give, the error comes through
        SeriesQuery other = endingAgo(Duration.ZERO, Duration.ofSeconds(20));
        assertThat(cache.get(other, k -> CompletableFuture.failedFuture(new IllegalStateException("db down"))))
                .failsWithin(Duration.ofSeconds(5));
    }

    @Test
    void droppingEverythingEmptiesTheCacheAndTheIndex() {
        SeriesQuery a = endingAgo(Duration.ZERO, Duration.ofMinutes(1));
        SeriesQuery b = endingAgo("other", Duration.ofDays(3), Duration.ofMinutes(1));
        cache.get(a, this::load).join();
        cache.get(b, this::load).join();
        assertThat(invalidations.dropAll()).isEqualTo(2);
        assertThat(invalidations.size()).isZero();
        assertThat(cache.get(a, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(cache.get(b, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(registry.get("sluice_query_cache_invalidated").tag("reason", "gap").counter().count()).isEqualTo(2);
    }

    @Test
    void anExpiredEntryLeavesTheIndex() {
        SeriesQuery q = endingAgo(Duration.ZERO, Duration.ofMinutes(1));
        cache.get(q, this::load).join();
        assertThat(invalidations.size()).isEqualTo(1);
        clock.advance(Duration.ofMinutes(11));
        assertThat(cache.get(q, this::load).join().source()).isEqualTo(QueryCache.Source.MISS);
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(invalidations.size()).as("the expired entry's registration is gone").isEqualTo(1));
    }

    @Test
    void freshAnswersAndStaleCopiesTogetherStayWithinTheBytesTheCacheWasGiven() {
        // 64 answers of about 160 KB each: 10 MB asked of a cache of 1 MiB
        for (int i = 0; i < 64; i++) {
            SeriesQuery q = endingAgo(Duration.ofMinutes(i), Duration.ofSeconds(1));
            QueryResult big = new QueryResult(q, List.of(new QueryResult.ResultSeries(Map.of("k", "v"),
                    new long[10_000], new double[10_000])));
            assertThat(big.weight()).isGreaterThan(150_000);
            cache.get(q, k -> CompletableFuture.completedFuture(big)).join();
        }
        long held = cache.weightedBytes();
        assertThat(held).as("fresh and stale weigh at most the 1 MiB given").isLessThanOrEqualTo(1 << 20)
                .as("and the cache is used").isGreaterThan(1 << 19);
        double fresh = registry.get("sluice_query_cache_bytes").tag("cache", "queries").tag("copy", "fresh").gauge()
                .value();
        double stale = registry.get("sluice_query_cache_bytes").tag("cache", "queries").tag("copy", "stale").gauge()
                .value();
        assertThat(fresh).isPositive().isLessThanOrEqualTo((1 << 20) * 2 / 3.0);
        assertThat(stale).isPositive().isLessThanOrEqualTo((1 << 20) / 3.0);
        assertThat(fresh + stale).isEqualTo((double) held);
    }
}
