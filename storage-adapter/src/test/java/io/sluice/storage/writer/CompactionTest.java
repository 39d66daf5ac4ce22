package io.sluice.storage.writer;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.ConfigLoader;
import io.sluice.config.KafkaConfig;
import io.sluice.config.WriterConfig;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.segment.SegmentWriter;
import io.sluice.storage.chunks.SampleChunks;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Chunk compaction on real PostgreSQL (and, for the writer running beside it, real Kafka), each test in a database
 * of its own so that every chunk in it is the test's.
 */
@RealInfrastructure
class CompactionTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    /** A fixed "now" for the tests that write chunks themselves: hour 10:00 is open, 09:00 ended 20 minutes ago. */
    private static final Instant NOW = Instant.parse("2031-05-01T10:20:00Z");
    private static final Instant H09 = Instant.parse("2031-05-01T09:00:00Z");
    private static final Instant H10 = Instant.parse("2031-05-01T10:00:00Z");

    private TestInfrastructure infra;
    private ConnectionPool pool;
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void ownDatabase(TestInfrastructure infra) {
        this.infra = infra;
        pool = PostgresConnections.pool(infra.newDatabase("compact_", 8));
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        pool.dispose();
    }

    private static WriterConfig config(String... settings) {
        Map<String, String> map = new HashMap<>();
        for (int i = 0; i < settings.length; i += 2) {
            map.put(settings[i], settings[i + 1]);
        }
        return ConfigLoader.load(null, Map.of(), map).writer();
    }

    private Compaction compaction(WriterConfig config, Instant now) {
        return new Compaction(pool, config, Clock.fixed(now, ZoneOffset.UTC), registry);
    }

    private void ensureDays(LocalDate... days) {
        new PartitionMaintenance(pool, config(), Clock.systemUTC()).ensureDays(List.of(days)).block(WAIT);
    }

    // ---- (a) merging -------------------------------------------------------------------------------------------

    @Test
    void mergesTheChunksOfAnEndedHourIntoPackedChunksBitExactAndLeavesOpenHoursAlone() {
        ensureDays(LocalDate.of(2031, 5, 1));
        Random random = new Random(13);
        // series 1, hour 09:00: five chunks whose timestamps interleave (chunk i holds the samples i mod 5), with
        // every kind of float64 among the values
        long[] ts = new long[5000];
        double[] vs = new double[5000];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = H09.toEpochMilli() + i * 700L + random.nextInt(500);
            vs[i] = anyDouble(random);
        }
        for (int chunk = 0; chunk < 5; chunk++) {
            List<Integer> mine = new ArrayList<>();
            for (int i = chunk; i < ts.length; i += 5) {
                mine.add(i);
            }
            insertPacked(1, H09, pick(ts, mine), pick(vs, mine));
        }
        // series 2, hour 09:00: one packed chunk already; series 1 hour 10:00: three chunks, but the hour is open
        insertPacked(2, H09, new long[] {H09.toEpochMilli() + 5, H09.toEpochMilli() + 10}, new double[] {1, 2});
        for (int chunk = 0; chunk < 3; chunk++) {
            insertPacked(1, H10, new long[] {H10.toEpochMilli() + chunk}, new double[] {chunk});
        }
        List<String> untouched = ctids(2, H09);
        List<String> open = ctids(1, H10);

        // 30 minutes after 09:00 ended is not yet 40: nothing to do at a delay of 40 minutes
        Compaction.Report early = compaction(config("writer.compaction-delay", "40m"), NOW).run().block(WAIT);
        assertThat(early.hours()).isZero();
        assertThat(chunks(1, H09)).hasSize(5);

        Compaction.Report report = compaction(config("writer.compaction-delay", "15m",
                "writer.chunk-max-samples", "2048"), NOW).run().block(WAIT);

        assertThat(report.hours()).isEqualTo(1);
        assertThat(report.chunksRead()).isEqualTo(5);
        assertThat(report.chunksWritten()).isEqualTo(3);
        assertThat(report.samples()).isEqualTo(5000);
        assertThat(report.duplicates()).isZero();
        List<StoredRow> merged = chunks(1, H09);
        assertThat(merged).extracting(StoredRow::samples).containsExactly(1667, 1667, 1666);
        assertPackedAndOrdered(merged);
        assertThat(samplesOf(merged)).isEqualTo(expected(ts, vs));
        assertThat(ctids(2, H09)).as("a single packed chunk within the maximum is left as it is").isEqualTo(untouched);
        assertThat(ctids(1, H10)).as("an hour that has not ended is left alone").isEqualTo(open);
        assertThat(counter("sluice_compaction_chunks", "read")).isEqualTo(5);
        assertThat(counter("sluice_compaction_chunks", "written")).isEqualTo(3);
        assertThat(counter("sluice_compaction_samples", "kept")).isEqualTo(5000);
        assertThat(counter("sluice_compaction_hours", "compacted")).isEqualTo(1);
        assertThat(counter("sluice_compaction_runs", "completed")).isEqualTo(2);

        // compacted is stable: the next run finds nothing
        assertThat(compaction(config("writer.compaction-delay", "15m"), NOW).run().block(WAIT).hours()).isZero();
    }

    @Test
    void afterItsFirstRunCompactionLooksBackOnlyAsFarAsTheLookback() {
        ensureDays(LocalDate.of(2031, 4, 28), LocalDate.of(2031, 5, 1));
        Instant old = Instant.parse("2031-04-28T09:00:00Z");
        Compaction compaction = compaction(config("writer.compaction-delay", "15m", "writer.compaction-lookback", "6h"),
                NOW);
        insertPacked(7, old, new long[] {old.toEpochMilli()}, new double[] {1});
        insertPacked(7, old, new long[] {old.toEpochMilli() + 1}, new double[] {2});
        assertThat(compaction.run().block(WAIT).hours()).as("the first run looks over all of retention.raw").isEqualTo(1);
        assertThat(chunks(7, old)).hasSize(1);

        // chunks written late into that old hour, and into 09:00
        insertPacked(7, old, new long[] {old.toEpochMilli() + 2}, new double[] {3});
        insertPacked(8, H09, new long[] {H09.toEpochMilli()}, new double[] {1});
        insertPacked(8, H09, new long[] {H09.toEpochMilli() + 1}, new double[] {2});
        assertThat(compaction.run().block(WAIT).hours()).isEqualTo(1);
        assertThat(chunks(8, H09)).hasSize(1);
        assertThat(chunks(7, old)).as("three days ago is beyond the 6 h lookback").hasSize(2);

        // a writer started again sweeps everything once more
        assertThat(compaction(config("writer.compaction-delay", "15m"), NOW).run().block(WAIT).hours()).isEqualTo(1);
        assertThat(samplesOf(chunks(7, old))).isEqualTo(Map.of(old.toEpochMilli(), bits(1), old.toEpochMilli() + 1,
                bits(2), old.toEpochMilli() + 2, bits(3)));
    }

    // ---- (b) format 0, oversized chunks, duplicates --------------------------------------------------------------

    @Test
    void plainChunksOfTheMigrationAndOversizedChunksAreRewrittenPacked() {
        ensureDays(LocalDate.of(2031, 5, 1));
        Random random = new Random(7);
        long[] ts = new long[300];
        double[] vs = new double[300];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = H09.toEpochMilli() + i * 10_000L;
            vs[i] = anyDouble(random);
        }
        insertPlainAsMigrationV7Does(3, H09, ts, vs);
        assertThat(chunks(3, H09)).singleElement().satisfies(c -> assertThat(c.data()[0]).isEqualTo(SampleChunks.PLAIN));
        long[] many = new long[100];
        double[] values = new double[100];
        for (int i = 0; i < many.length; i++) {
            many[i] = H09.toEpochMilli() + i;
            values[i] = i;
        }
        insertPacked(4, H09, many, values); // one packed chunk, but above a maximum of 32
        insertPacked(5, H09, java.util.Arrays.copyOf(many, 32), java.util.Arrays.copyOf(values, 32)); // exactly 32
        List<String> atMaximum = ctids(5, H09);
        // a plain chunk within the maximum, alone in its hour: rewritten only because it is plain
        insertPlainAsMigrationV7Does(11, H09, java.util.Arrays.copyOf(ts, 20), java.util.Arrays.copyOf(vs, 20));

        Compaction.Report report = compaction(config("writer.compaction-delay", "15m",
                "writer.chunk-max-samples", "32"), NOW).run().block(WAIT);

        assertThat(report.hours()).isEqualTo(3);
        List<StoredRow> small = chunks(11, H09);
        assertThat(small).hasSize(1);
        assertPackedAndOrdered(small);
        assertThat(samplesOf(small)).isEqualTo(expected(java.util.Arrays.copyOf(ts, 20), java.util.Arrays.copyOf(vs, 20)));
        List<StoredRow> plainRewritten = chunks(3, H09);
        assertThat(plainRewritten).hasSize(10); // 300 samples, at most 32 a chunk
        assertPackedAndOrdered(plainRewritten);
        assertThat(samplesOf(plainRewritten)).isEqualTo(expected(ts, vs));
        List<StoredRow> split = chunks(4, H09);
        assertThat(split).extracting(StoredRow::samples).containsExactly(25, 25, 25, 25);
        assertPackedAndOrdered(split);
        assertThat(samplesOf(split)).isEqualTo(expected(many, values));
        assertThat(ctids(5, H09)).isEqualTo(atMaximum);
    }

    @Test
    void aTimestampFoundTwiceKeepsTheValueOfTheFirstChunkInMinMsOrderAndIsCounted() {
        ensureDays(LocalDate.of(2031, 5, 1));
        long t = H09.toEpochMilli();
        // inserted first but starting later: the chunk starting at t + 100 loses t + 200 to the one starting at t
        insertPacked(6, H09, new long[] {t + 150, t + 200}, new double[] {3, 99});
        insertPacked(6, H09, new long[] {t + 100, t + 200}, new double[] {1, 2});
        // and two chunks with the same first timestamp: the first in ctid order (the one inserted first) wins
        insertPacked(6, H09, new long[] {t + 300}, new double[] {30});
        insertPacked(6, H09, new long[] {t + 300, t + 400}, new double[] {-30, 40});

        Compaction.Report report = compaction(config("writer.compaction-delay", "15m"), NOW).run().block(WAIT);

        assertThat(report.duplicates()).isEqualTo(2);
        assertThat(samplesOf(chunks(6, H09))).isEqualTo(Map.of(t + 100, bits(1), t + 150, bits(3), t + 200, bits(2),
                t + 300, bits(30), t + 400, bits(40)));
        assertThat(counter("sluice_compaction_samples", "duplicate_dropped")).isEqualTo(2);
    }

    @Test
    void aDamagedChunkRollsItsHourBackAndTheRunGoesOn() {
        ensureDays(LocalDate.of(2031, 5, 1));
        insertPacked(9, H09, new long[] {H09.toEpochMilli()}, new double[] {1});
        insertRaw(9, H09, H09.toEpochMilli() + 1, H09.toEpochMilli() + 1, 1, new byte[] {7, 1, 2}); // unknown format
        insertPacked(10, H09, new long[] {H09.toEpochMilli()}, new double[] {1});
        insertPacked(10, H09, new long[] {H09.toEpochMilli() + 1}, new double[] {2});

        Compaction.Report report = compaction(config("writer.compaction-delay", "15m"), NOW).run().block(WAIT);

        assertThat(report.failed()).isEqualTo(1);
        assertThat(report.hours()).isEqualTo(1);
        assertThat(chunks(9, H09)).as("nothing of the damaged hour is lost").hasSize(2);
        assertThat(chunks(10, H09)).hasSize(1);
        assertThat(counter("sluice_compaction_hours", "failed")).isEqualTo(1);
    }

    // ---- (c) the writer beside compaction ----------------------------------------------------------------------

    @Test
    void theWriterKeepsCommittingWhileACompactionTransactionOfTheSameHoursIsOpen() throws Exception {
        Rig rig = new Rig("writer.compaction-interval", "1d");
        Instant hour = Instant.now().truncatedTo(ChronoUnit.HOURS).minus(Duration.ofHours(2));
        long h = hour.toEpochMilli();
        Series a = Series.of("comp.a", "host", "h1");
        Series b = Series.of("comp.b", "host", "h1");
        Expected expected = new Expected();
        // four records, each applied before the next: four chunks per series in that hour (three of them late)
        for (int r = 0; r < 4; r++) {
            List<Long> times = new ArrayList<>();
            for (int i = r; i < 2000; i += 4) {
                times.add(h + i * 1000L);
            }
            rig.produceAndAwait(expected, a, times, r);
            rig.produceAndAwait(expected, b, times, 10 + r);
        }
        assertThat(rig.chunkCount(hour)).isEqualTo(8);

        CompletableFuture<Void> held = new CompletableFuture<>();
        CompletableFuture<Void> release = new CompletableFuture<>();
        AtomicBoolean first = new AtomicBoolean(true);
        Compaction compaction = new Compaction(pool, config("writer.compaction-delay", "0s"), Clock.systemUTC(),
                registry, () -> first.getAndSet(false)
                        ? Mono.fromRunnable(() -> held.complete(null)).then(Mono.fromFuture(release))
                        : Mono.empty());
        CompletableFuture<Compaction.Report> run = compaction.run().toFuture();
        held.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        try {
            // the compaction transaction has deleted one series' four chunks and inserted the merged one, uncommitted:
            // the writer stores new samples of that hour, later ones, and drops the ones it already holds (resent
            // with other values: the first write wins) by reading the chunks compaction is replacing
            List<Long> late = new ArrayList<>();
            List<Long> resent = new ArrayList<>();
            for (int i = 0; i < 2000; i += 50) {
                late.add(h + i * 1000L + 500);
                resent.add(h + i * 1000L);
            }
            List<Long> after = new ArrayList<>();
            for (int i = 2000; i < 2400; i++) {
                after.add(h + i * 1000L);
            }
            long before = rig.applied();
            rig.produce(expected, a, late, 20);
            rig.produce(expected, b, late, 21);
            rig.produce(expected, a, resent, 22);
            rig.produce(expected, b, after, 23);
            await().atMost(WAIT).until(() -> rig.applied() == before + 4);
            assertThat(run).as("the compaction transaction is still open").isNotDone();
            assertThat(rig.storedSamples()).as("what the writer committed meanwhile is there, nothing twice")
                    .isEqualTo(expected.samples);
        } finally {
            release.complete(null);
        }
        Compaction.Report report = run.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(report.hours()).isEqualTo(2);
        assertThat(rig.storedSamples()).isEqualTo(expected.samples);
        // the writer's chunks that came in meanwhile stayed, and the next run merges them
        assertThat(rig.chunkCount(hour)).isGreaterThan(2);
        compaction(config("writer.compaction-delay", "0s"), Instant.now()).run().block(WAIT);
        assertThat(rig.chunkCount(hour)).isEqualTo(3); // 2000 + 40 samples of a, 2400 of b: one chunk and two
        assertThat(rig.storedSamples()).isEqualTo(expected.samples);
    }

    /**
     * A late batch whose samples fall between stored ones leaves its buckets' rate counters unknown (the writer
     * cannot tell the drops between two interleaved parts); compaction, which merges every sample of the hour, sets
     * them to what all the samples give, except in a bucket whose count shows samples it did not merge.
     */
    @Test
    void rateCountersALateBatchLeftUnknownAreSetFromAllTheHoursSamples() throws Exception {
        Rig rig = new Rig("writer.compaction-interval", "1d");
        Instant hour = Instant.now().truncatedTo(ChronoUnit.HOURS).minus(Duration.ofHours(2));
        long h = hour.toEpochMilli();
        Series a = Series.of("heal.a", "host", "h1");
        Expected expected = new Expected();
        List<Long> early = new ArrayList<>();
        List<Long> late = new ArrayList<>();
        for (int i = 0; i < 360; i++) {
            early.add(h + i * 10_000L);
            late.add(h + i * 10_000L + 5_000);
        }
        // values 0, 1, 2... and 1e6, 1e6 + 1...: merged in time order, a counter that drops at every other sample
        rig.produceAndAwait(expected, a, early, 0);
        rig.produceAndAwait(expected, a, late, 1);
        long id = seriesId(rig.tenant, "heal.a");
        assertThat(counters("rollups_1h", id, h)).as("interleaved: unknown").isNull();
        assertThat(counters("rollups_1m", id, h)).isNull();
        // a bucket that counts a sample compaction will not see (as when a writer adds one meanwhile) stays unknown
        long skewed = h + 30 * 60_000L;
        sql("UPDATE rollups_1m SET count = count + 1 WHERE series_id = " + id + " AND bucket = timestamptz 'epoch' + "
                + skewed + " * interval '1 millisecond'");

        // a bucket another transaction holds (a writer merging into it) is skipped, not waited for
        long held = h + 10 * 60_000L;
        Connection holder = Mono.from(pool.create()).block(WAIT);
        try {
            Mono.from(holder.beginTransaction()).then(Flux.from(holder.createStatement("SELECT 1 FROM rollups_1m WHERE "
                            + "series_id = " + id + " AND bucket = timestamptz 'epoch' + " + held
                            + " * interval '1 millisecond' FOR UPDATE").execute())
                    .flatMap(r -> r.map((row, meta) -> 1)).then()).block(WAIT);
            compaction(config("writer.compaction-delay", "0s"), Instant.now()).run().block(WAIT);
        } finally {
            Mono.from(holder.rollbackTransaction()).then(Mono.from(holder.close())).block(WAIT);
        }

        Map<Long, Long> stored = expected.samples.get("heal.a");
        for (long minute = h; minute < h + 3_600_000L; minute += 60_000L) {
            Object[] got = counters("rollups_1m", id, minute);
            if (minute == skewed || minute == held) {
                assertThat(got).as("the bucket counting another sample, and the one held").isNull();
                continue;
            }
            assertThat(got).as("minute %d", minute).isEqualTo(run(stored, minute, minute + 60_000L));
        }
        Object[] hourly = run(stored, h, h + 3_600_000L);
        assertThat(counters("rollups_1h", id, h)).isEqualTo(hourly);
        assertThat((long) hourly[0]).isEqualTo(720);
        assertThat((double) hourly[5]).as("the drops' values summed").isPositive();
        assertThat(registry.get("sluice_compaction_rollups_healed").tag("resolution", "1m").counter().count())
                .isEqualTo(58);
        assertThat(registry.get("sluice_compaction_rollups_healed").tag("resolution", "1h").counter().count())
                .isEqualTo(1);
    }

    /** points, first_ms, first_val, last_ms, last_val, resets of the stored samples in [from, to). */
    private static Object[] run(Map<Long, Long> samples, long from, long to) {
        io.sluice.storage.chunks.CounterRun run = new io.sluice.storage.chunks.CounterRun();
        for (Map.Entry<Long, Long> e : samples.entrySet()) { // a TreeMap: in time order
            if (e.getKey() >= from && e.getKey() < to) {
                run.add(e.getKey(), Double.longBitsToDouble(e.getValue()));
            }
        }
        return new Object[] {run.points(), run.firstMs(), run.first(), run.lastMs(), run.last(), run.resets()};
    }

    /** A rollup bucket's rate counters, or null while they are unknown. */
    private Object[] counters(String table, long series, long bucketMs) {
        Object[] found = Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement("SELECT points, first_ms, "
                                + "first_val, last_ms, last_val, resets FROM " + table + " WHERE series_id = $1 AND "
                                + "bucket = timestamptz 'epoch' + $2 * interval '1 millisecond'")
                        .bind("$1", series).bind("$2", bucketMs).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0) == null || row.get(5) == null ? new Object[0] : new Object[] {
                        row.get(0, Long.class), row.get(1, Long.class), row.get(2, Double.class),
                        row.get(3, Long.class), row.get(4, Double.class), row.get(5, Double.class)}))
                .single(), Connection::close)
                .block(WAIT);
        return found.length == 0 ? null : found;
    }

    private long seriesId(String tenant, String name) {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(
                                "SELECT id FROM series WHERE tenant = $1 AND name = $2")
                        .bind("$1", tenant).bind("$2", name).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(), Connection::close)
                .block(WAIT);
    }

    private void sql(String statement) {
        Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(statement).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(WAIT);
    }

    @Test
    void compactionRunningOverAndOverBesideABusyWriterLosesAndDoublesNothing() throws Exception {
        Rig rig = new Rig("writer.compaction-interval", "1d");
        Instant hour = Instant.now().truncatedTo(ChronoUnit.HOURS).minus(Duration.ofHours(3));
        long h = hour.toEpochMilli();
        Series[] series = {Series.of("busy.a"), Series.of("busy.b"), Series.of("busy.c")};
        Expected expected = new Expected();
        Compaction compaction = compaction(config("writer.compaction-delay", "0s", "writer.chunk-max-samples", "64",
                "writer.compaction-batch", "2", "writer.compaction-transaction-samples", "100"), Instant.now());
        AtomicBoolean producing = new AtomicBoolean(true);
        CompletableFuture<Long> runs = CompletableFuture.supplyAsync(() -> {
            long hours = 0;
            while (producing.get()) {
                hours += compaction.run().block(WAIT).hours();
            }
            return hours;
        });
        long before = rig.applied();
        int records = 0;
        Random random = new Random(3);
        for (int r = 0; r < 40; r++) {
            // each record: samples spread over two ended hours, new ones and some resent, in random order
            List<Long> times = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                times.add(h + random.nextInt(2 * 3_600_000));
            }
            rig.produce(expected, series[r % series.length], times, r);
            records++;
            if (r % 8 == 7) {
                int sent = records;
                await().atMost(WAIT).until(() -> rig.applied() == before + sent); // let compaction catch up
            }
        }
        int sent = records;
        await().atMost(WAIT).until(() -> rig.applied() == before + sent);
        producing.set(false);
        long compacted = runs.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(compacted).as("compaction did work while the writer wrote").isPositive();
        compaction.run().block(WAIT);
        assertThat(rig.storedSamples()).isEqualTo(expected.samples);
    }

    @Test
    void theWriterCompactsOnItsOwnSchedule() throws Exception {
        Rig rig = new Rig("writer.compaction-interval", "1s", "writer.compaction-delay", "0s");
        Instant hour = Instant.now().truncatedTo(ChronoUnit.HOURS).minus(Duration.ofHours(1));
        Series s = Series.of("scheduled");
        Expected expected = new Expected();
        rig.produceAndAwait(expected, s, List.of(hour.toEpochMilli() + 2), 0);
        rig.produceAndAwait(expected, s, List.of(hour.toEpochMilli() + 1), 1);
        await().atMost(WAIT).until(() -> rig.chunkCount(hour) == 1);
        assertThat(rig.storedSamples()).isEqualTo(expected.samples);
        assertThat(counter("sluice_compaction_hours", "compacted")).isEqualTo(1);
    }

    /** What a test expects stored: per series name, timestamp -> value bits (first write wins). */
    private static final class Expected {
        final Map<String, Map<Long, Long>> samples = new HashMap<>();

        void add(Series series, long ts, double value) {
            samples.computeIfAbsent(series.name(), k -> new TreeMap<>()).putIfAbsent(ts, bits(value));
        }
    }

    /** A storage writer on this test's database and topics of its own (one partition each). */
    private final class Rig {
        final Topics topics;
        final KafkaProducer<byte[], byte[]> producer;
        final StorageWriter writer;
        final String tenant = "c" + UUID.randomUUID().toString().substring(0, 8);

        Rig(String... settings) {
            TestInfrastructure.OwnTopics own = infra.ownTopics("cp", 1);
            KafkaConfig kafka = own.kafka();
            topics = own.topics();
            producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, infra.bootstrapServers(),
                    ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG,
                    ByteArraySerializer.class, ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class));
            closing.add(producer);
            WriterConfig writerConfig = config(settings);
            writer = StorageWriter.create(kafka, writerConfig, topics, pool,
                    new PartitionMaintenance(pool, writerConfig, Clock.systemUTC()), registry);
            closing.add(0, writer); // closed before the producer and the pool
            writer.start();
        }

        long applied() {
            return writer.appliedOffsets().getOrDefault(new TopicPartition(topics.metrics(), 0), 0L);
        }

        /** One record of these samples of one series; values are {@code tag * 1e6 + index}, so resends differ. */
        void produce(Expected expected, Series series, List<Long> times, int tag) throws Exception {
            try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, tenant, false)) {
                for (int i = 0; i < times.size(); i++) {
                    double value = tag * 1e6 + i;
                    w.addSample(series, times.get(i), value);
                    expected.add(series, times.get(i), value);
                }
                ByteBuf buf = w.finish();
                try {
                    producer.send(new ProducerRecord<>(topics.metrics(), 0, null, ByteBufUtil.getBytes(buf)))
                            .get(30, TimeUnit.SECONDS);
                } finally {
                    buf.release();
                }
            }
        }

        void produceAndAwait(Expected expected, Series series, List<Long> times, int tag) throws Exception {
            long before = applied();
            produce(expected, series, times, tag);
            await().atMost(WAIT).until(() -> applied() == before + 1);
        }

        long chunkCount(Instant hour) {
            return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(
                                    "SELECT count(*) FROM sample_chunks c JOIN series r ON r.id = c.series_id "
                                            + "WHERE r.tenant = $1 AND c.hour = $2")
                            .bind("$1", tenant).bind("$2", hour.atOffset(ZoneOffset.UTC)).execute())
                    .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(), Connection::close)
                    .block(WAIT);
        }

        /** Every stored sample of this tenant, per series name; fails on a timestamp stored twice. */
        Map<String, Map<Long, Long>> storedSamples() {
            List<Map.Entry<String, byte[]>> rows = Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(
                                    c.createStatement("SELECT r.name, c.data FROM sample_chunks c JOIN series r "
                                            + "ON r.id = c.series_id WHERE r.tenant = $1").bind("$1", tenant).execute())
                            .flatMap(r -> r.map((row, meta) -> Map.entry(row.get(0, String.class),
                                    row.get(1, byte[].class))))
                            .collectList(), Connection::close)
                    .block(WAIT);
            Map<String, Map<Long, Long>> out = new HashMap<>();
            for (Map.Entry<String, byte[]> row : rows) {
                Map<Long, Long> series = out.computeIfAbsent(row.getKey(), k -> new TreeMap<>());
                SampleChunks.decode(row.getValue(), (ts, v) -> assertThat(series.put(ts, bits(v)))
                        .as("sample %s@%d stored once", row.getKey(), ts).isNull());
            }
            return out;
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private record StoredRow(String ctid, long minMs, long maxMs, int samples, byte[] data) {
    }

    private static void assertPackedAndOrdered(List<StoredRow> rows) {
        long previousMax = Long.MIN_VALUE;
        for (StoredRow row : rows) {
            assertThat(row.data()[0]).isEqualTo(SampleChunks.PACKED);
            List<Long> times = new ArrayList<>();
            SampleChunks.decode(row.data(), (ts, v) -> times.add(ts));
            assertThat(times).hasSize(row.samples()).isSorted().doesNotHaveDuplicates();
            assertThat(times.get(0)).isEqualTo(row.minMs()).isGreaterThan(previousMax);
            assertThat(times.get(times.size() - 1)).isEqualTo(row.maxMs());
            previousMax = row.maxMs();
        }
    }

    private static Map<Long, Long> samplesOf(List<StoredRow> rows) {
        Map<Long, Long> out = new TreeMap<>();
        for (StoredRow row : rows) {
            SampleChunks.decode(row.data(), (ts, v) -> assertThat(out.put(ts, bits(v))).isNull());
        }
        return out;
    }

    private static Map<Long, Long> expected(long[] ts, double[] vs) {
        Map<Long, Long> out = new TreeMap<>();
        for (int i = 0; i < ts.length; i++) {
            out.put(ts[i], bits(vs[i]));
        }
        return out;
    }

    private static long bits(double v) {
        return Double.doubleToRawLongBits(v);
    }

    /** Random doubles with NaN payloads, ±0, ±Infinity, subnormals and extremes among them. */
    private static double anyDouble(Random random) {
        return switch (random.nextInt(10)) {
            case 0 -> Double.longBitsToDouble(0x7ff0000000000001L | random.nextInt(1 << 20)); // a NaN with a payload
            case 1 -> -0.0;
            case 2 -> random.nextBoolean() ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
            case 3 -> Double.MIN_VALUE * random.nextInt(1000);
            case 4 -> random.nextBoolean() ? Double.MAX_VALUE : -Double.MAX_VALUE;
            case 5, 6 -> Math.round(random.nextDouble() * 100);
            default -> Double.longBitsToDouble(random.nextLong());
        };
    }

    private static long[] pick(long[] values, List<Integer> at) {
        return at.stream().mapToLong(i -> values[i]).toArray();
    }

    private static double[] pick(double[] values, List<Integer> at) {
        return at.stream().mapToDouble(i -> values[i]).toArray();
    }

    private void insertPacked(long series, Instant hour, long[] ts, double[] vs) {
        insertRaw(series, hour, ts[0], ts[ts.length - 1], ts.length, SampleChunks.pack(ts, vs, 0, ts.length));
    }

    /** Format 0 exactly as migration V7 builds it: a 0 byte, then int8send(ms) || float8send(value) per sample. */
    private void insertPlainAsMigrationV7Does(long series, Instant hour, long[] ts, double[] vs) {
        ByteBuffer data = ByteBuffer.allocate(1 + 16 * ts.length);
        data.put(SampleChunks.PLAIN);
        for (int i = 0; i < ts.length; i++) {
            data.putLong(ts[i]).putLong(Double.doubleToRawLongBits(vs[i]));
        }
        insertRaw(series, hour, ts[0], ts[ts.length - 1], ts.length, data.array());
    }

    private void insertRaw(long series, Instant hour, long minMs, long maxMs, int samples, byte[] data) {
        Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(
                                "INSERT INTO sample_chunks (series_id, hour, min_ms, max_ms, samples, data) "
                                        + "VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind("$1", series).bind("$2", hour.atOffset(ZoneOffset.UTC)).bind("$3", minMs)
                        .bind("$4", maxMs).bind("$5", samples).bind("$6", data).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(WAIT);
    }

    private List<StoredRow> chunks(long series, Instant hour) {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(
                                "SELECT ctid::text, min_ms, max_ms, samples, data FROM sample_chunks "
                                        + "WHERE series_id = $1 AND hour = $2 ORDER BY min_ms")
                        .bind("$1", series).bind("$2", hour.atOffset(ZoneOffset.UTC)).execute())
                .flatMap(r -> r.map((row, meta) -> new StoredRow(row.get(0, String.class), row.get(1, Long.class),
                        row.get(2, Long.class), row.get(3, Integer.class), row.get(4, byte[].class))))
                .collectList(), Connection::close).block(WAIT);
    }

    private List<String> ctids(long series, Instant hour) {
        return chunks(series, hour).stream().map(StoredRow::ctid).toList();
    }

    private double counter(String name, String result) {
        return registry.get(name).tag("result", result).counter().count();
    }
}
