package io.sluice.storage.writer;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.WriterConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.segment.SegmentWriter;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.embedded.FrozenProcesses;
import io.sluice.storage.testing.StoredSamples;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The storage writer on real Kafka and PostgreSQL: counts are exact whatever happens. */
@RealInfrastructure
class StorageWriterTest {

    private static final Duration WAIT = Duration.ofSeconds(60);

    private TestInfrastructure infra;
    private SluiceConfig config;
    private Topics topics;
    private KafkaProducer<byte[], byte[]> producer;
    private final List<StorageWriter> writers = new ArrayList<>();
    private String tenant;

    @BeforeEach
    void setUp(TestInfrastructure infra) {
        this.infra = infra;
        TestInfrastructure.OwnTopics own = infra.ownTopics("w", 3);
        config = infra.config().withKafka(own.kafka());
        topics = own.topics();
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, infra.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class));
        tenant = "t" + UUID.randomUUID().toString().substring(0, 8);
    }

    @AfterEach
    void tearDown() {
        writers.forEach(StorageWriter::close);
        producer.close();
    }

    @Test
    void aNormalRunStoresEverySampleAndEventOnceWithExactRollups() throws Exception {
        start(infra.connectionFactory(), tp -> Mono.empty());
        long base = System.currentTimeMillis() - 30 * 60_000;
        for (int s = 0; s < 3; s++) {
            produce(0, segment(s * 1000, 1000, base));
        }
        produce(1, eventsSegment(5, base));
        awaitCounts(3000, 5);
        assertRollupsMatchRawRows();
        assertThat(seriesCount()).isEqualTo(20);
        // text with COPY and JSON specials survives the trip
        String stored = Mono.usingWhen(infra.connectionFactory().create(),
                (Connection c) -> Flux.from(c.createStatement("SELECT key || '|' || (attributes->>'v') || '|' || (attributes->>'n') FROM events "
                                + "WHERE tenant = $1 AND event_id = 'ev-1'").bind("$1", tenant).execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, String.class))).single(),
                Connection::close).block(WAIT);
        assertThat(stored).as("a NUL (which PostgreSQL text cannot hold) arrives as U+FFFD, never stalling the writer")
                .isEqualTo("svc\tA|1.\"1|a\uFFFDb");
        String labels = Mono.usingWhen(infra.connectionFactory().create(),
                (Connection c) -> Flux.from(c.createStatement("SELECT labels::text FROM series WHERE tenant = $1 "
                                + "AND labels->>'host' = 'h3'").bind("$1", tenant).execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, String.class))).single(),
                Connection::close).block(WAIT);
        assertThat(labels).isEqualTo("{\"az\": \"a\", \"env\": \"test\", \"svc\": \"api\", \"host\": \"h3\", \"region\": \"r0\"}");
    }

    /**
     * A series is upserted into {@code series} by the first batch that holds it; later batches of the same hour (on any
     * partition this writer has) leave it alone, and a new series is still upserted. The clock is fixed, so that the
     * hourly forgetting cannot fall inside the test.
     */
    @Test
    void aKnownSeriesIsNotUpsertedAgainButANewOneIs() throws Exception {
        start(infra.connectionFactory(), tp -> Mono.empty(), Clock.fixed(java.time.Instant.now(), java.time.ZoneOffset.UTC));
        long base = System.currentTimeMillis() - 30 * 60_000;
        produce(0, segment(0, 100, base)); // 20 series
        awaitCounts(100, 0);
        awaitWriterRows(100);
        produce(0, segment(100, 100, base)); // the same 20 series
        produce(1, segment(200, 100, base)); // again, through another partition
        awaitCounts(300, 0);
        awaitWriterRows(300);
        assertThat(registry.get("sluice_writer_series_upserted").counter().count()).isEqualTo(20);
        produce(1, samples(Series.of("cpu.other", "host", "x"), new long[] {base + 5_000}, new double[] {1}));
        awaitCounts(301, 0);
        awaitWriterRows(301);
        assertThat(seriesCount()).isEqualTo(21);
        assertThat(registry.get("sluice_writer_series_upserted").counter().count()).isEqualTo(21);
        assertRollupsMatchRawRows();
    }

    /** The writer's own count of stored samples: it moves once a commit's bookkeeping (known series) is done. */
    private void awaitWriterRows(long samples) {
        await().atMost(WAIT).until(() -> registry.get("sluice_writer_rows").tag("table", "samples").counter().count()
                >= samples);
    }

    @Test
    void theSameSegmentDeliveredTwiceIsStoredOnce() throws Exception {
        start(infra.connectionFactory(), tp -> Mono.empty());
        long base = System.currentTimeMillis() - 10 * 60_000;
        byte[] segment = segment(0, 500, base);
        produce(2, segment);
        produce(2, segment);
        produce(0, segment);
        produce(1, eventsSegment(3, base));
        produce(1, eventsSegment(3, base));
        await().atMost(WAIT).until(() -> appliedEverything());
        awaitCounts(500, 3);
        assertRollupsMatchRawRows();
    }

    @Test
    void anEventResentWithAnotherTimestampIsStoredOnceTheFirstCopyWinning() throws Exception {
        start(infra.connectionFactory(), tp -> Mono.empty());
        long base = System.currentTimeMillis() - 30 * 60_000;
        produce(1, events(base, "first", "ev-0", "ev-1", "ev-2"));
        awaitCounts(0, 3);
        // the same ids again, minutes later (another day partition would do the same), and twice in one segment
        produce(1, events(base + 5 * 60_000, "resent", "ev-0", "ev-1", "ev-3", "ev-3"));
        produce(1, events(base + 9 * 60_000, "again", "ev-2"));
        await().atMost(WAIT).until(() -> writers.get(0).appliedOffsets().values().stream()
                .mapToLong(Long::longValue).sum() >= 3);
        awaitCounts(0, 4);
        assertThat(strings("SELECT event_id || '=' || (attributes->>'copy') || '@' || "
                + "(extract(epoch FROM ts) * 1000)::bigint FROM events WHERE tenant = $1 ORDER BY event_id"))
                .containsExactly("ev-0=first@" + base, "ev-1=first@" + (base + 1), "ev-2=first@" + (base + 2),
                        "ev-3=resent@" + (base + 5 * 60_000 + 2));
    }

    private byte[] events(long baseMs, String copy, String... ids) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, tenant, false)) {
            for (int i = 0; i < ids.length; i++) {
                w.addEvent(ids[i], "deploy", baseMs + i, "svc", Map.of("copy", copy));
            }
            ByteBuf buf = w.finish();
            try {
                return ByteBufUtil.getBytes(buf);
            } finally {
                buf.release();
            }
        }
    }

    private List<String> strings(String sql) {
        return Mono.usingWhen(infra.connectionFactory().create(),
                (Connection c) -> Flux.from(c.createStatement(sql).bind("$1", tenant).execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, String.class))).collectList(),
                Connection::close).block(WAIT);
    }

    @Test
    void forOneSeriesAndTimestampTheFirstValueStoredWins() throws Exception {
        // SPEC.md §4: within a block the earliest SAMPLE in block order, across blocks the one stored first.
        start(infra.connectionFactory(), tp -> Mono.empty());
        long t = System.currentTimeMillis() - 5 * 60_000;
        Series series = Series.of("dup.metric", "host", "h1");
        produce(0, samples(series, new long[] {t, t, t, t + 1}, new double[] {1, 2, 3, 10}));
        awaitCounts(2, 0);
        produce(0, samples(series, new long[] {t, t + 2}, new double[] {99, 20}));
        awaitCounts(3, 0);
        assertThat(StoredSamples.of(infra.connectionFactory(), tenant)).extracting(StoredSamples.Sample::value)
                .containsExactly(1.0, 10.0, 20.0);
        assertRollupsMatchRawRows();
    }

    @Test
    void aLateSampleIsStoredOnceAndCountedInTheRollupsOnce() throws Exception {
        // the second batch reaches back before the series' head: one of its samples is new, one is stored already
        start(infra.connectionFactory(), tp -> Mono.empty());
        long t = (System.currentTimeMillis() - 30 * 60_000) / 60_000 * 60_000;
        Series series = Series.of("late.metric", "host", "h1");
        produce(0, samples(series, new long[] {t + 10, t + 30_000}, new double[] {1, 3}));
        awaitCounts(2, 0);
        produce(0, samples(series, new long[] {t, t + 30_000, t + 20}, new double[] {5, 99, 7}));
        awaitCounts(4, 0);
        assertThat(StoredSamples.of(infra.connectionFactory(), tenant))
                .extracting(StoredSamples.Sample::timestampMs, StoredSamples.Sample::value)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(t, 5.0), org.assertj.core.groups.Tuple.tuple(t + 10, 1.0),
                        org.assertj.core.groups.Tuple.tuple(t + 20, 7.0), org.assertj.core.groups.Tuple.tuple(t + 30_000, 3.0));
        assertThat(StoredSamples.rollups(infra.connectionFactory(), tenant, "rollups_1m"))
                .extracting(StoredSamples.Rollup::min, StoredSamples.Rollup::max, StoredSamples.Rollup::sum,
                        StoredSamples.Rollup::count)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(1.0, 7.0, 16.0, 4L));
        assertThat(rowsCounted("samples")).isEqualTo(4);
        assertThat(StoredSamples.runs(infra.connectionFactory(), tenant, "rollups_1m"))
                .as("the late samples land between stored ones: the drops between them cannot be told")
                .extracting(StoredSamples.Run::resets).containsExactly((Double) null);
    }

    /**
     * The writer merges a batch into the 1-hour rollups only for hours already folded (migration V14): an hour not
     * folded has 1-minute rows only, which a query folds itself; the fold writes the hour's row from them; a late
     * sample of the hour after that is merged into both.
     */
    @Test
    void hourRowsAreFoldedFromMinutesOnceTheHourEndedAndALateSampleAfterThatIsMergedIntoBoth() throws Exception {
        long hour = (System.currentTimeMillis() - 2 * 3_600_000L) / 3_600_000 * 3_600_000;
        // hours from this one on are not folded (moving folded_before back is always safe: a query then folds the
        // 1-minute rows of those hours, and a fold later writes their rows again)
        infra.execute("UPDATE rollup_folds SET folded_before = least(folded_before, '" + java.time.Instant.ofEpochMilli(hour)
                + "')");
        start(infra.connectionFactory(), tp -> Mono.empty());
        Series series = Series.of("folded.metric", "host", "h1");
        produce(0, samples(series, new long[] {hour + 1_000, hour + 2_000, hour + 61_000}, new double[] {4, 1, 2}));
        awaitCounts(3, 0);
        assertThat(StoredSamples.rawHourly(infra.connectionFactory(), tenant)).as("the hour is not folded: no hour row")
                .isEmpty();
        assertRollupsMatchRawRows();
        assertPromqlReadsTheRollupsOfTheRawSamples("folded.metric", hour + 60_000);
        assertHourlyPartialsMatchRawRows(hour);

        RollupFold.Report folded = new RollupFold(infra.connectionFactory(), config.writer(), Clock.systemUTC(),
                registry).run().block(WAIT);
        assertThat(folded.hours()).as("this hour, and the next if it ended 2 minutes ago").isPositive();
        assertThat(scalar("SELECT (extract(epoch FROM folded_before) * 1000)::bigint FROM rollup_folds WHERE $1::text IS NOT NULL"))
                .isGreaterThan(hour);
        List<StoredSamples.Rollup> expected = StoredSamples.expectedRollups(
                StoredSamples.of(infra.connectionFactory(), tenant), 3_600_000L);
        assertThat(StoredSamples.rawHourly(infra.connectionFactory(), tenant)).as("the fold wrote the hour's row")
                .containsExactlyElementsOf(expected).extracting(StoredSamples.Rollup::sum).containsExactly(7.0);
        assertPromqlReadsTheRollupsOfTheRawSamples("folded.metric", hour + 60_000);
        assertHourlyPartialsMatchRawRows(hour);

        produce(0, samples(series, new long[] {hour + 125_000}, new double[] {10}));
        awaitCounts(4, 0);
        assertThat(StoredSamples.rawHourly(infra.connectionFactory(), tenant))
                .as("the late sample was merged into the folded hour's row")
                .extracting(StoredSamples.Rollup::min, StoredSamples.Rollup::max, StoredSamples.Rollup::sum,
                        StoredSamples.Rollup::count)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(1.0, 10.0, 17.0, 4L));
        assertRollupsMatchRawRows();
        assertPromqlReadsTheRollupsOfTheRawSamples("folded.metric", hour + 60_000);
        assertHourlyPartialsMatchRawRows(hour);
    }

    /** What the query API's hourly buckets read ({@code QueryRepository.partials}) is the stored samples' hours. */
    private void assertHourlyPartialsMatchRawRows(long hour) {
        long id = StoredSamples.of(infra.connectionFactory(), tenant).get(0).seriesId();
        var partials = new io.sluice.storage.query.QueryRepository(infra.connectionFactory(), Duration.ofSeconds(10))
                .partials(List.of(id), io.sluice.storage.query.Resolution.HOUR,
                        java.time.Instant.ofEpochMilli(hour - 3_600_000), java.time.Instant.ofEpochMilli(hour + 7_200_000),
                        Duration.ofHours(1)).block(WAIT);
        assertThat(partials).extracting(p -> new StoredSamples.Rollup(p.seriesId(), p.bucketMs(), p.min(), p.max(),
                        p.sum(), p.count()))
                .containsExactlyElementsOf(StoredSamples.expectedRollups(StoredSamples.of(infra.connectionFactory(),
                        tenant), 3_600_000L));
    }

    /**
     * A bucket's counter columns (migration V12) join batches that come one after the other in time, whichever comes
     * first, with the drop between them as a counter reset; staleness markers are left out, and a batch that has only
     * a staleness marker changes nothing.
     */
    @Test
    void counterColumnsJoinBatchesInTimeOrderWithTheResetBetweenThem() throws Exception {
        start(infra.connectionFactory(), tp -> Mono.empty());
        long t = (System.currentTimeMillis() - 30 * 60_000) / 3_600_000 * 3_600_000 + 60_000;
        double stale = Double.longBitsToDouble(io.sluice.storage.promql.Series.STALE_NAN_BITS);
        Series series = Series.of("counter.metric", "host", "h1");
        produce(0, samples(series, new long[] {t + 20_000, t + 30_000}, new double[] {10, 12}));
        awaitCounts(2, 0);
        produce(0, samples(series, new long[] {t + 40_000, t + 50_000}, new double[] {3, 5})); // reset: 12 -> 3
        awaitCounts(4, 0);
        produce(0, samples(series, new long[] {t + 55_000}, new double[] {stale}));
        awaitCounts(5, 0);
        // earlier than every stored sample of the bucket: joined before them, 9 -> 10 is no reset
        produce(0, samples(series, new long[] {t + 5_000, t + 10_000}, new double[] {8, 9}));
        awaitCounts(7, 0);
        for (String table : List.of("rollups_1m", "rollups_1h")) {
            long bucket = table.equals("rollups_1m") ? t : t - 60_000;
            assertThat(StoredSamples.runs(infra.connectionFactory(), tenant, table)).extracting(
                            StoredSamples.Run::bucketMs, StoredSamples.Run::points, StoredSamples.Run::firstMs,
                            StoredSamples.Run::first, StoredSamples.Run::lastMs, StoredSamples.Run::last,
                            StoredSamples.Run::resets)
                    .as(table).containsExactly(org.assertj.core.groups.Tuple.tuple(bucket, 6L, t + 5_000, 8.0,
                            t + 50_000, 5.0, 12.0));
        }
        assertRollupsMatchRawRows();
        assertPromqlReadsTheRollupsOfTheRawSamples("counter.metric", t);
    }

    /**
     * What PromQL reads from the rollups ({@code StoredSampleSource.selectRollups}, the SQL that picks a window's
     * buckets) is what the same code makes of the stored raw samples.
     */
    private void assertPromqlReadsTheRollupsOfTheRawSamples(String metric, long t) {
        var source = new io.sluice.storage.promql.StoredSampleSource(
                new io.sluice.storage.query.QueryRepository(infra.connectionFactory(), Duration.ofSeconds(10)), 100);
        var matchers = List.of(new io.sluice.storage.query.Matcher(io.sluice.storage.query.Matcher.NAME,
                io.sluice.storage.query.Matcher.Op.EQ, metric));
        long hour = t / 3_600_000 * 3_600_000;
        for (var read : List.of(
                new io.sluice.storage.query.RollupRead(io.sluice.storage.query.Resolution.MINUTE, t - 120_000,
                        t + 120_000, 60_000, 60_000),
                // windows apart: [t - 1m, t] and [t + 1m, t + 2m], by start
                new io.sluice.storage.query.RollupRead(io.sluice.storage.query.Resolution.MINUTE, t - 60_000,
                        t + 120_000, 120_000, 60_000),
                new io.sluice.storage.query.RollupRead(io.sluice.storage.query.Resolution.HOUR, hour - 3_600_000,
                        hour + 3_600_000, 3_600_000, 3_600_000),
                // windows apart: [t - 3h, t - 2h], [t, t + 1h], [t + 3h, ...], by start
                new io.sluice.storage.query.RollupRead(io.sluice.storage.query.Resolution.HOUR, hour - 3 * 3_600_000L,
                        hour + 3 * 3_600_000L, 3 * 3_600_000L, 3_600_000))) {
            var stored = source.selectRollups(tenant, matchers, read,
                    io.sluice.storage.query.SampleBudget.unlimited()).block(WAIT);
            var raw = source.select(tenant, matchers, read.fromMs(), read.toMs() + read.resolutionMs() - 1)
                    .block(WAIT);
            var expected = io.sluice.storage.promql.RollupSeries.fromSamples(raw, read);
            assertThat(stored).as(read.toString()).hasSize(1).hasSameSizeAs(expected);
            var got = stored.get(0).rows();
            var want = expected.get(0).rows();
            assertThat(stored.get(0).buckets()).as(read.toString()).containsExactly(expected.get(0).buckets());
            for (int i = 0; i < want.size(); i++) {
                assertThat(List.of(got.min(i), got.max(i), got.sum(i), got.count(i), got.points(i), got.firstMs(i),
                        got.first(i), got.lastMs(i), got.last(i), got.resets(i)))
                        .as(read + " bucket " + i)
                        .isEqualTo(List.of(want.min(i), want.max(i), want.sum(i), want.count(i), want.points(i),
                                want.firstMs(i), want.first(i), want.lastMs(i), want.last(i), want.resets(i)));
            }
        }
    }

    @Test
    void sumsThatOverflowAcrossBatchesAreInfiniteNotAnError() throws Exception {
        // two largest finite doubles in one minute, in two batches: PostgreSQL's float8 + would raise 22003
        start(infra.connectionFactory(), tp -> Mono.empty());
        long t = (System.currentTimeMillis() - 30 * 60_000) / 60_000 * 60_000;
        Series series = Series.of("huge.metric", "host", "h1");
        produce(0, samples(series, new long[] {t}, new double[] {Double.MAX_VALUE}));
        awaitCounts(1, 0);
        produce(0, samples(series, new long[] {t + 1}, new double[] {Double.MAX_VALUE}));
        awaitCounts(2, 0);
        produce(0, samples(series, new long[] {t + 2}, new double[] {-Double.MAX_VALUE})); // +Inf stays +Inf
        awaitCounts(3, 0);
        for (String table : List.of("rollups_1m", "rollups_1h")) {
            assertThat(StoredSamples.rollups(infra.connectionFactory(), tenant, table))
                    .extracting(StoredSamples.Rollup::min, StoredSamples.Rollup::max, StoredSamples.Rollup::sum,
                            StoredSamples.Rollup::count)
                    .as(table).containsExactly(org.assertj.core.groups.Tuple.tuple(-Double.MAX_VALUE, Double.MAX_VALUE,
                            Double.POSITIVE_INFINITY, 3L));
        }
        assertThat(registry.find("sluice_writer_dead_letters").counters()).allMatch(c -> c.count() == 0);
    }

    @Test
    void aRunOfRecordsOverTheByteBudgetIsAppliedAsSeveralTransactions() throws Exception {
        WriterConfig w = config.writer();
        config = config.withWriter(new WriterConfig(w.maxBatchRecords(), 1L << 16, w.maxBatchWait(), w.retentionRaw(),
                w.retentionRollup1m(), w.retentionRollup1h(), w.partitionsAhead(), w.chunkMaxSamples(),
                w.compactionInterval(), w.compactionDelay(), w.compactionLookback(), w.compactionBatch(),
                w.compactionTransactionSamples(), w.transactionTimeout(), w.sessionTimeout(), w.knownSeries(),
                w.rollupFoldDelay()));
        long base = System.currentTimeMillis() - 20 * 60_000;
        List<byte[]> records = new ArrayList<>();
        for (int r = 0; r < 6; r++) {
            records.add(segment(r * 4000, 4000, base)); // uncompressed: each well over 10 KiB
        }
        long total = records.stream().mapToLong(b -> b.length).sum();
        assertThat(total).as("the records together are over the 64 KiB budget").isGreaterThan(2 * (1L << 16));
        for (byte[] record : records) {
            produce(0, record);
        }
        java.util.concurrent.atomic.AtomicInteger commits = new java.util.concurrent.atomic.AtomicInteger();
        start(infra.connectionFactory(), tp -> Mono.fromRunnable(commits::incrementAndGet));
        awaitCounts(24_000, 0);
        assertThat(commits.get()).as("no transaction took more than 64 KiB of records")
                .isGreaterThanOrEqualTo((int) (total / (1L << 16)));
        assertRollupsMatchRawRows();
    }

    @Test
    void aCommitFrozenPostgresqlDoesNotAnswerPassesItsDeadlineAndTheRetryDoesNotApplyItTwice() throws Exception {
        transactionTimeout(Duration.ofSeconds(2));
        CountDownLatch reachedCommit = new CountDownLatch(1);
        CountDownLatch frozen = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
        // the first attempt's COMMIT goes to a PostgreSQL frozen (SIGSTOP) while the transaction is open
        start(infra.connectionFactory(), tp -> first.getAndSet(false)
                ? Mono.fromRunnable(reachedCommit::countDown)
                        .then(Mono.fromCallable(() -> frozen.await(WAIT.toSeconds(), TimeUnit.SECONDS))
                                .subscribeOn(reactor.core.scheduler.Schedulers.boundedElastic()))
                        .then()
                : Mono.empty());
        produce(0, segment(0, 500, System.currentTimeMillis() - 5 * 60_000));
        assertThat(reachedCommit.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        try (FrozenProcesses postgres = FrozenProcesses.postgres(infra.postgres())) {
            frozen.countDown();
            await().atMost(WAIT).until(() -> registry.get("sluice_writer_deadline_exceeded").counter().count() >= 1);
        }
        // the COMMIT reached PostgreSQL before the deadline cancelled it: it commits once PostgreSQL runs again, and the
        // retry finds the run's offset stored and applies nothing
        awaitCounts(500, 0);
        assertRollupsMatchRawRows();
        await().atMost(WAIT).until(() -> writer0Applied() == 1);
    }

    @Test
    void whilePostgresqlIsFrozenRetriesAndNewRunsWaitForItToAnswerBeforeDecoding() throws Exception {
        transactionTimeout(Duration.ofSeconds(2));
        start(infra.connectionFactory(), tp -> Mono.empty());
        long base = System.currentTimeMillis() - 5 * 60_000;
        produce(0, segment(0, 500, base));
        awaitCounts(500, 0);
        double decoded = registry.get("sluice_writer_runs_decoded").counter().count();
        try (FrozenProcesses postgres = FrozenProcesses.postgres(infra.postgres())) {
            produce(0, segment(500, 500, base));
            // the run's transaction passes its deadline, then each retry's check that PostgreSQL answers does
            await().atMost(WAIT).until(() -> registry.get("sluice_writer_deadline_exceeded").counter().count() >= 1);
            // a run of other series on another partition, once PostgreSQL is known to be silent
            produce(1, segment("mem.usage", 1000, 500, base));
            await().atMost(WAIT).until(() -> registry.get("sluice_writer_deadline_exceeded").counter().count() >= 4);
            assertThat(registry.get("sluice_writer_runs_decoded").counter().count())
                    .as("the first run decoded for its first attempt only, the second not yet").isEqualTo(decoded + 1);
        }
        awaitCounts(1500, 0);
        assertRollupsMatchRawRows();
    }

    /** The writer's config with {@code writer.transaction-timeout} set to {@code timeout}. */
    private void transactionTimeout(Duration timeout) {
        WriterConfig w = config.writer();
        config = config.withWriter(new WriterConfig(w.maxBatchRecords(), w.maxBatchBytes(), w.maxBatchWait(),
                w.retentionRaw(), w.retentionRollup1m(), w.retentionRollup1h(), w.partitionsAhead(), w.chunkMaxSamples(),
                w.compactionInterval(), w.compactionDelay(), w.compactionLookback(), w.compactionBatch(),
                w.compactionTransactionSamples(), timeout, w.sessionTimeout(), w.knownSeries(), w.rollupFoldDelay()));
    }

    private long writer0Applied() {
        return writers.get(writers.size() - 1).appliedOffsets()
                .getOrDefault(new org.apache.kafka.common.TopicPartition(topics.metrics(), 0), 0L);
    }

    @Test
    void aWriterClosedWhileABatchIsUnderWayLetsItCommit() throws Exception {
        CountDownLatch reachedCommit = new CountDownLatch(1);
        StorageWriter writer = start(infra.connectionFactory(), tp -> Mono.fromRunnable(reachedCommit::countDown)
                .then(Mono.delay(Duration.ofMillis(300))).then());
        produce(0, segment(0, 500, System.currentTimeMillis() - 5 * 60_000));
        assertThat(reachedCommit.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        writer.close();
        assertThat(sampleCount()).as("the batch under way committed before the writer stopped").isEqualTo(500);
        assertRollupsMatchRawRows();
    }

    @Test
    void aWriterKilledMidBatchLosesAndDoublesNothing() throws Exception {
        // The first writer stops just before COMMIT; then it is killed: consumer gone, its connections closed.
        ConnectionPool ownPool = PostgresConnections.pool(config.postgres());
        CountDownLatch reachedCommit = new CountDownLatch(1);
        StorageWriter doomed = start(ownPool, tp -> Mono.fromRunnable(reachedCommit::countDown).then(Mono.never()));
        long base = System.currentTimeMillis() - 20 * 60_000;
        produce(0, segment(0, 1000, base));
        assertThat(reachedCommit.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        doomed.close();
        ownPool.disposeLater().block(WAIT);
        assertThat(sampleCount()).as("nothing of the uncommitted batch is visible").isZero();

        produce(0, segment(1000, 1000, base));
        start(infra.connectionFactory(), tp -> Mono.empty());
        awaitCounts(2000, 0);
        assertRollupsMatchRawRows();
        assertThat(rowsCounted("samples")).as("the batch rolled back is counted once, when it committed")
                .isEqualTo(2000);
    }

    @Test
    void clickCountersAreCountedUnderTheirOwnTableNotAsEvents() throws Exception {
        start(infra.connectionFactory(), tp -> Mono.empty());
        long minute = (System.currentTimeMillis() - 5 * 60_000) / 60_000 * 60_000;
        String code = "c" + UUID.randomUUID().toString().substring(0, 8);
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, "links", false)) {
            // two click groups in one minute and one in the next: two link_clicks rows
            w.addEvent("k1", "click", minute + 1, code, Map.of("bot", "false", "count", "3"));
            w.addEvent("k2", "click", minute + 2, code, Map.of("bot", "true", "count", "2"));
            w.addEvent("k3", "click", minute + 60_001, code, Map.of("bot", "false", "count", "1"));
            ByteBuf buf = w.finish();
            try {
                producer.send(new ProducerRecord<>(topics.clicks(), 0, null, ByteBufUtil.getBytes(buf)))
                        .get(30, TimeUnit.SECONDS);
            } finally {
                buf.release();
            }
        }
        produce(1, eventsSegment(4, minute));
        awaitCounts(0, 4);
        await().atMost(WAIT).untilAsserted(() -> assertThat(rowsCounted("link_clicks")).isEqualTo(2));
        assertThat(rowsCounted("events")).as("click upserts are not events").isEqualTo(4);
        assertThat(Mono.usingWhen(infra.connectionFactory().create(),
                (Connection c) -> Flux.from(c.createStatement("SELECT sum(clicks) FROM link_clicks WHERE code = $1")
                                .bind("$1", code).execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(),
                Connection::close).block(WAIT)).isEqualTo(6);
    }

    private double rowsCounted(String table) {
        return registry.get("sluice_writer_rows").tag("table", table).counter().count();
    }

    @Test
    void postgresStoppedAndRestartedDuringARunLosesAndDoublesNothing() throws Exception {
        StorageWriter writer = start(infra.connectionFactory(), tp -> Mono.empty());
        long base = System.currentTimeMillis() - 5 * 60_000;
        produce(0, segment(0, 1000, base));
        awaitCounts(1000, 0);

        infra.postgres().stop();
        try {
            produce(1, segment(1000, 1000, base));
            produce(2, eventsSegment(4, base));
            await().atMost(WAIT).until(() -> registry.find("sluice_writer_breaker_state").gauge().value() > 0);
            assertThat(writer.appliedOffsets().getOrDefault(new org.apache.kafka.common.TopicPartition(topics.metrics(), 1), 0L))
                    .as("no offset moves while PostgreSQL is down").isZero();
        } finally {
            infra.postgres().start();
        }
        awaitCounts(2000, 4);
        assertRollupsMatchRawRows();
    }

    // ---- helpers -------------------------------------------------------------------------------------

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    private StorageWriter start(io.r2dbc.spi.ConnectionFactory connections,
                                java.util.function.Function<org.apache.kafka.common.TopicPartition, Mono<Void>> beforeCommit) {
        return start(connections, beforeCommit, Clock.systemUTC());
    }

    private StorageWriter start(io.r2dbc.spi.ConnectionFactory connections,
                                java.util.function.Function<org.apache.kafka.common.TopicPartition, Mono<Void>> beforeCommit,
                                Clock clock) {
        PartitionMaintenance maintenance = new PartitionMaintenance(connections, config.writer(), clock);
        StorageWriter writer = new StorageWriter(config.kafka(), config.writer(), topics, connections, maintenance,
                StorageWriter.COPY_BUFFERS, registry, beforeCommit);
        writers.add(writer);
        return writer.start();
    }

    /** {@code count} samples over 20 series with 5 labels each, values start..start+count-1, distinct timestamps. */
    private byte[] segment(int start, int count, long baseMs) {
        return segment("cpu.usage", start, count, baseMs);
    }

    /** {@link #segment(int, int, long)} of the metric {@code name}. */
    private byte[] segment(String name, int start, int count, long baseMs) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, tenant, true)) {
            for (int i = start; i < start + count; i++) {
                int s = i % 20;
                w.addSample(Series.of(name, "host", "h" + s, "region", "r" + (s % 3), "az", "a", "svc", "api",
                        "env", "test"), baseMs + i * 7L, i);
            }
            ByteBuf buf = w.finish();
            try {
                return ByteBufUtil.getBytes(buf);
            } finally {
                buf.release();
            }
        }
    }

    /** One uncompressed segment of {@code series} with these timestamps and values, in this order. */
    private byte[] samples(Series series, long[] timestamps, double[] values) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, tenant, false)) {
            for (int i = 0; i < timestamps.length; i++) {
                w.addSample(series, timestamps[i], values[i]);
            }
            ByteBuf buf = w.finish();
            try {
                return ByteBufUtil.getBytes(buf);
            } finally {
                buf.release();
            }
        }
    }

    private byte[] eventsSegment(int count, long baseMs) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, tenant, false)) {
            for (int i = 0; i < count; i++) {
                w.addEvent("ev-" + i, "deploy", baseMs + i, "svc\tA", Map.of("v", "1.\"" + i, "n", "a\0b"));
            }
            ByteBuf buf = w.finish();
            try {
                return ByteBufUtil.getBytes(buf);
            } finally {
                buf.release();
            }
        }
    }

    private void produce(int partition, byte[] value) throws Exception {
        String topic = value.length > 0 && isEvents(value) ? topics.events() : topics.metrics();
        producer.send(new ProducerRecord<>(topic, partition, null, value)).get(30, TimeUnit.SECONDS);
    }

    private static boolean isEvents(byte[] value) {
        try (io.sluice.protocol.segment.Segment s = io.sluice.protocol.segment.Segment.decode(value)) {
            return s.eventCount() > 0;
        }
    }

    private boolean appliedEverything() {
        for (StorageWriter w : writers) {
            long total = w.appliedOffsets().values().stream().mapToLong(Long::longValue).sum();
            if (total >= 5) {
                return true;
            }
        }
        return false;
    }

    private void awaitCounts(long samples, long events) {
        await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            assertThat(sampleCount()).isEqualTo(samples);
            assertThat(eventCount()).isEqualTo(events);
        });
        // and it stays exact (nothing arrives late as a duplicate)
        assertThat(sampleCount()).isEqualTo(samples);
    }

    private long sampleCount() {
        return scalar("SELECT coalesce(sum(c.samples), 0)::bigint FROM sample_chunks c JOIN series r ON r.id = c.series_id "
                + "WHERE r.tenant = $1");
    }

    private long eventCount() {
        return scalar("SELECT count(*) FROM events WHERE tenant = $1");
    }

    private long seriesCount() {
        return scalar("SELECT count(*) FROM series WHERE tenant = $1");
    }

    private void assertRollupsMatchRawRows() {
        List<StoredSamples.Sample> stored = StoredSamples.of(infra.connectionFactory(), tenant);
        for (Map.Entry<String, Long> table : Map.of("rollups_1m", 60_000L, "rollups_1h", 3_600_000L).entrySet()) {
            assertThat(StoredSamples.rollups(infra.connectionFactory(), tenant, table.getKey()))
                    .as(table.getKey() + " equals the aggregates of the stored samples")
                    .containsExactlyElementsOf(StoredSamples.expectedRollups(stored, table.getValue()));
            assertThat(StoredSamples.runs(infra.connectionFactory(), tenant, table.getKey()))
                    .as(table.getKey() + "'s counter columns are the stored samples' runs")
                    .containsExactlyElementsOf(StoredSamples.expectedRuns(stored, table.getValue()));
        }
    }

    private long scalar(String sql) {
        return Mono.usingWhen(infra.connectionFactory().create(),
                (Connection c) -> Flux.from(c.createStatement(sql).bind("$1", tenant).execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(),
                Connection::close).block(WAIT);
    }
}
