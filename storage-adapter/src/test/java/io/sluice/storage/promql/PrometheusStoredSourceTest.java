package io.sluice.storage.promql;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.SluiceConfig;
import io.sluice.storage.chunks.ChunkMerge;
import io.sluice.storage.chunks.SampleChunks;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.query.Matcher;
import io.sluice.storage.query.QueryLimitException;
import io.sluice.storage.query.QueryRepository;
import io.sluice.storage.query.SampleBudget;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.sluice.storage.writer.PartitionMaintenance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link StoredSampleSource} on a real PostgreSQL: the stored chunks read back as PromQL series, bit-exact
 * (staleness markers survive), each timestamp once by the storage's duplicate rule, {@code __name__} matchers on the
 * metric name, scoped to the tenant, within {@code query.max-series}.
 */
@RealInfrastructure
class PrometheusStoredSourceTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Instant H10 = Instant.parse("2031-05-01T10:00:00Z");
    private static final long T0 = H10.toEpochMilli();
    private static final double STALE = Double.longBitsToDouble(Series.STALE_NAN_BITS);

    private static ConnectionPool pool;
    private static SluiceConfig config;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        config = infra.config();
        pool = PostgresConnections.pool(infra.newDatabase("promql_source", 4));
        new PartitionMaintenance(pool, config.writer(), Clock.systemUTC())
                .ensureDays(List.of(LocalDate.of(2031, 5, 1))).block(WAIT);
        sql("""
                INSERT INTO series (id, tenant, name, labels, first_seen, last_seen) VALUES
                  (1, 'a', 'up', '{"job": "api", "instance": "i1"}', now(), now()),
                  (2, 'a', 'up', '{"job": "db", "instance": "i2"}', now(), now()),
                  (3, 'a', 'down', '{"job": "api"}', now(), now()),
                  (4, 'b', 'up', '{"job": "api"}', now(), now()),
                  (5, 'c', 'many', '{}', now(), now())""");
        // series 1: a staleness marker at T0+30s; a later chunk (larger min_ms) repeats T0+15s with another value,
        // and a chunk inserted last but with the smallest min_ms repeats T0+45s: by (min_ms, ctid) it comes first
        chunk(1, new long[] {T0 + 15_000, T0 + 30_000, T0 + 45_000}, new double[] {1.5, STALE, 3});
        chunk(1, new long[] {T0 + 15_000, T0 + 60_000}, new double[] {99, 4});
        chunk(1, new long[] {T0 + 10_000, T0 + 45_000}, new double[] {0.5, 7});
        chunk(2, new long[] {T0, T0 + 60_000}, new double[] {10, Double.NaN});
        chunk(3, new long[] {T0 + 30_000}, new double[] {-1});
        chunk(4, new long[] {T0 + 30_000}, new double[] {42});
        // series 5: 50 chunks of 10 samples, one a second
        for (int k = 0; k < 50; k++) {
            long[] ts = new long[10];
            for (int j = 0; j < 10; j++) {
                ts[j] = T0 + (k * 10L + j) * 1000;
            }
            chunk(5, ts, new double[10]);
        }
        bigSeries();
    }

    /** Tenant p's 20 series of 6 chunks of 1,000 samples: 120,000 samples, a read decoded in parallel parts. */
    private static final int BIG_SERIES = 20;
    private static final int BIG_CHUNK = 1_000;

    private static void bigSeries() {
        StringBuilder series = new StringBuilder(
                "INSERT INTO series (id, tenant, name, labels, first_seen, last_seen) VALUES ");
        for (int i = 0; i < BIG_SERIES; i++) {
            series.append(i == 0 ? "" : ", ").append("(").append(100 + i).append(", 'p', 'big', '{\"i\": \"")
                    .append(i).append("\"}', now(), now())");
        }
        sql(series.toString());
        for (int i = 0; i < BIG_SERIES; i++) {
            for (int k = 0; k < 6; k++) {
                long[] ts = new long[BIG_CHUNK];
                double[] vs = new double[BIG_CHUNK];
                for (int j = 0; j < BIG_CHUNK; j++) {
                    ts[j] = T0 + (k * BIG_CHUNK + j) * 100L;
                    vs[j] = i * 1e6 + k * BIG_CHUNK + j;
                }
                if (k == 5) {
                    ts[0] = T0; // repeats the first chunk's first timestamp: that chunk (smaller min_ms) wins
                    vs[0] = -1;
                    java.util.Arrays.sort(ts);
                }
                chunk(100 + i, ts, vs);
            }
        }
    }

    @AfterAll
    static void stop() {
        if (pool != null) {
            pool.disposeLater().block(WAIT);
        }
    }

    private static StoredSampleSource source(int maxSeries) {
        return new StoredSampleSource(new QueryRepository(pool, Duration.ofSeconds(10)), maxSeries);
    }

    private static List<Series> select(String tenant, long from, long to, Matcher... matchers) {
        return source(10).select(tenant, List.of(matchers), from, to).block(WAIT);
    }

    private static Matcher m(String label, Matcher.Op op, String value) {
        return new Matcher(label, op, value);
    }

    @Test
    void samplesComeBackBitExactInTimeOrderEachTimestampOnceByTheStorageRule() {
        List<Series> up = select("a", T0, T0 + 3_600_000 - 1, m("__name__", Matcher.Op.EQ, "up"),
                m("job", Matcher.Op.EQ, "api"));
        assertThat(up).hasSize(1);
        Series s = up.get(0);
        assertThat(s.labels()).isEqualTo(Map.of("__name__", "up", "job", "api", "instance", "i1"));
        assertThat(s.timestamps()).containsExactly(T0 + 10_000, T0 + 15_000, T0 + 30_000, T0 + 45_000, T0 + 60_000);
        // T0+15s: the chunk with the smaller min_ms (1.5) wins over 99; T0+45s: the chunk with min_ms T0+10s (7)
        // wins over the one with min_ms T0+15s (3), although it was inserted after it
        assertThat(s.values()[0]).isEqualTo(0.5);
        assertThat(s.values()[1]).isEqualTo(1.5);
        assertThat(Double.doubleToRawLongBits(s.values()[2])).as("the staleness marker's bits")
                .isEqualTo(Series.STALE_NAN_BITS);
        assertThat(Series.isStale(s.values()[2])).isTrue();
        assertThat(s.values()[3]).isEqualTo(7);
        assertThat(s.values()[4]).isEqualTo(4);

        List<Series> db = select("a", T0, T0 + 60_000, m("job", Matcher.Op.EQ, "db"));
        assertThat(db).hasSize(1);
        assertThat(Double.doubleToRawLongBits(db.get(0).values()[1])).as("an ordinary NaN is no staleness marker")
                .isEqualTo(Double.doubleToRawLongBits(Double.NaN));
        assertThat(Series.isStale(db.get(0).values()[1])).isFalse();
    }

    @Test
    void aLargeReadDecodedInPartsGivesEverySeriesItsOwnSamplesInOrder() {
        List<Series> big = source(BIG_SERIES).select("p", List.of(m("__name__", Matcher.Op.EQ, "big")), T0,
                T0 + 3_600_000 - 1).block(WAIT);
        assertThat(big).hasSize(BIG_SERIES);
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Series s : big) {
            int i = Integer.parseInt(s.labels().get("i"));
            assertThat(seen.add(s.labels().get("i"))).isTrue();
            // chunk 5's first sample (T0 + 500 s) moved to T0, where chunk 0's sample wins: 5,999 timestamps
            assertThat(s.timestamps()).hasSize(6 * BIG_CHUNK - 1).isSorted().doesNotHaveDuplicates();
            assertThat(s.timestamps()[0]).isEqualTo(T0);
            for (int n = 0; n < s.timestamps().length; n++) {
                long step = (s.timestamps()[n] - T0) / 100;
                assertThat(s.values()[n]).as("series %d at %d", i, step).isEqualTo(i * 1e6 + step);
            }
        }
    }

    @Test
    void bothEndsOfTheRangeAreIncludedAndSeriesWithoutSamplesInItAreLeftOut() {
        List<Series> within = select("a", T0 + 15_000, T0 + 45_000, m("__name__", Matcher.Op.EQ, "up"));
        assertThat(within).hasSize(1);
        assertThat(within.get(0).timestamps()).containsExactly(T0 + 15_000, T0 + 30_000, T0 + 45_000);
        assertThat(select("a", T0 - 3_600_000, T0 - 1, m("__name__", Matcher.Op.EQ, "up"))).isEmpty();
    }

    @Test
    void rangesBeyondWhatPostgresqlTimestampsHoldReadWhatLiesWithinThem() {
        // what a PromQL offset or range of 292 million years asks for: no error, the samples that are there
        long far = 292_000_000L * 365 * 86_400_000L;
        assertThat(select("a", T0 - far, T0 + 3_600_000 - 1, m("__name__", Matcher.Op.EQ, "up"),
                m("job", Matcher.Op.EQ, "api"))).singleElement().satisfies(s -> assertThat(s.timestamps()).hasSize(5));
        assertThat(select("a", T0, T0 + far, m("__name__", Matcher.Op.EQ, "up"))).hasSize(2);
        assertThat(select("a", -far - 1000, -far, m("__name__", Matcher.Op.EQ, "up"))).isEmpty();
        assertThat(select("a", far, far + 1000, m("__name__", Matcher.Op.EQ, "up"))).isEmpty();
    }

    @Test
    void nameMatchersMatchTheMetricNameWithEveryOperator() {
        long to = T0 + 3_600_000 - 1;
        assertThat(names(select("a", T0, to, m("__name__", Matcher.Op.REGEX, "up|down"),
                m("job", Matcher.Op.EQ, "api")))).containsExactly("up/i1", "down/");
        assertThat(names(select("a", T0, to, m("__name__", Matcher.Op.NOT_REGEX, "u.*"),
                m("job", Matcher.Op.REGEX, ".+")))).containsExactly("down/");
        assertThat(names(select("a", T0, to, m("__name__", Matcher.Op.NEQ, "down"),
                m("job", Matcher.Op.NEQ, "")))).containsExactly("up/i1", "up/i2");
        assertThat(names(select("a", T0, to, m("job", Matcher.Op.NOT_REGEX, "db"),
                m("__name__", Matcher.Op.REGEX, ".+")))).containsExactly("up/i1", "down/");
        assertThat(names(select("b", T0, to, m("__name__", Matcher.Op.EQ, "up"))))
                .as("another tenant's series of the same name").containsExactly("up/");
        assertThat(select("b", T0, to, m("__name__", Matcher.Op.EQ, "up")).get(0).values()).containsExactly(42);
    }

    @Test
    void moreSeriesThanTheLimitIsTooManySeries() {
        assertThatThrownBy(() -> source(1).select("a", List.of(m("__name__", Matcher.Op.EQ, "up")), T0, T0 + 60_000)
                .block(WAIT))
                .isInstanceOfSatisfying(QueryLimitException.class, e -> assertThat(e.code()).isEqualTo("too_many_series"));
        assertThat(source(2).select("a", List.of(m("__name__", Matcher.Op.EQ, "up")), T0, T0 + 60_000).block(WAIT))
                .hasSize(2);
    }

    @Test
    void theSamplesReadInTheRangeAreTakenFromTheQuerysBudget() {
        List<Matcher> up = List.of(m("__name__", Matcher.Op.EQ, "up"));
        // in [T0, T0+60s] series 1 decodes 7 samples (its merge then drops 2 repeated timestamps), series 2 decodes 2
        SampleBudget exact = new SampleBudget(9);
        assertThat(source(10).select("a", up, T0, T0 + 60_000, exact).block(WAIT)).hasSize(2);
        assertThat(exact.taken()).isEqualTo(9);
        // samples of a chunk read that lie outside the range are not taken: 3 + 1 + 1 of series 1, none of series 2
        SampleBudget narrow = new SampleBudget(9);
        assertThat(source(10).select("a", up, T0 + 15_000, T0 + 45_000, narrow).block(WAIT)).hasSize(1);
        assertThat(narrow.taken()).isEqualTo(5);
        assertThatThrownBy(() -> source(10).select("a", up, T0, T0 + 60_000, new SampleBudget(8)).block(WAIT))
                .isInstanceOfSatisfying(QueryLimitException.class, e -> {
                    assertThat(e.code()).isEqualTo("too_many_samples");
                    assertThat(e.getMessage()).contains("more than 8 samples", "query.max-samples");
                });
        // the regular expression PostgreSQL refuses takes the Java path, with the same budget
        assertThatThrownBy(() -> source(10).select("a", List.of(m("__name__", Matcher.Op.EQ, "up"),
                        m("job", Matcher.Op.REGEX, "(?i:API|DB)")), T0, T0 + 60_000, new SampleBudget(8)).block(WAIT))
                .isInstanceOfSatisfying(QueryLimitException.class,
                        e -> assertThat(e.code()).isEqualTo("too_many_samples"));
    }

    @Test
    void aReadThatPassesTheBudgetStopsAtTheChunkThatPassedIt() {
        SampleBudget budget = new SampleBudget(95);
        assertThatThrownBy(() -> source(10).select("c", List.of(m("__name__", Matcher.Op.EQ, "many")), T0,
                T0 + 3_600_000 - 1, budget).block(WAIT))
                .isInstanceOfSatisfying(QueryLimitException.class,
                        e -> assertThat(e.code()).isEqualTo("too_many_samples"));
        assertThat(budget.taken()).as("10 of the 50 chunks decoded").isEqualTo(100);
        SampleBudget all = new SampleBudget(500);
        assertThat(source(10).select("c", List.of(m("__name__", Matcher.Op.EQ, "many")), T0, T0 + 3_600_000 - 1,
                all).block(WAIT)).singleElement().satisfies(s -> assertThat(s.timestamps()).hasSize(500));
    }

    @Test
    void aRegexPostgresqlRefusesIsMatchedInJavaAndItsSeriesSamplesAreRead() {
        // "(?i:...)" is RE2 (PromQL) but not PostgreSQL: the selection falls back to Java's matching, then still
        // reads the samples of what matched, and still refuses more series than the limit
        List<Series> api = select("a", T0, T0 + 60_000, m("__name__", Matcher.Op.EQ, "up"),
                m("job", Matcher.Op.REGEX, "(?i:API)"));
        assertThat(api).singleElement().satisfies(s -> {
            assertThat(s.labels()).containsEntry("instance", "i1");
            assertThat(s.values()).startsWith(0.5, 1.5);
        });
        assertThatThrownBy(() -> source(1).select("a", List.of(m("__name__", Matcher.Op.EQ, "up"),
                        m("job", Matcher.Op.REGEX, "(?i:API|DB)")), T0, T0 + 60_000).block(WAIT))
                .isInstanceOfSatisfying(QueryLimitException.class, e -> assertThat(e.code()).isEqualTo("too_many_series"));
    }

    @Test
    void chunkMergeKeepsTheFirstOfEachTimestampInTheOrderChunksAreAdded() {
        ChunkMerge merge = new ChunkMerge();
        merge.add(SampleChunks.pack(new long[] {5, 7}, new double[] {50, 70}, 0, 2));
        merge.add(SampleChunks.pack(new long[] {1, 5, 9}, new double[] {10, 55, 90}, 0, 3));
        merge.merge();
        assertThat(merge.timestamps()).containsExactly(1, 5, 7, 9);
        assertThat(merge.values()).containsExactly(10, 50, 70, 90);
        assertThat(merge.duplicates()).isEqualTo(1);
    }

    private static List<String> names(List<Series> series) {
        return series.stream().map(s -> s.name() + "/" + s.labels().getOrDefault("instance", "")).toList();
    }

    private static void chunk(long series, long[] ts, double[] vs) {
        byte[] data = SampleChunks.pack(ts, vs, 0, ts.length);
        Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(
                                "INSERT INTO sample_chunks (series_id, hour, min_ms, max_ms, samples, data) "
                                        + "VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind("$1", series).bind("$2", H10.atOffset(ZoneOffset.UTC)).bind("$3", ts[0])
                        .bind("$4", ts[ts.length - 1]).bind("$5", ts.length).bind("$6", data).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(WAIT);
    }

    private static void sql(String statement) {
        Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(statement).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(WAIT);
    }
}
