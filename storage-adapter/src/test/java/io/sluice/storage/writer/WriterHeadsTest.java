package io.sluice.storage.writer;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.SluiceConfig;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.segment.SegmentWriter;
import io.sluice.storage.SeriesIds;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.postgres.PostgresFailures;
import io.sluice.storage.testing.CommitCuttingProxy;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.StoredSamples;
import io.sluice.storage.testing.TestInfrastructure;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.kafka.receiver.ReceiverRecord;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.UUID;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.groups.Tuple.tuple;

/**
 * What a writer remembers of its partitions' heads (migration V15) on real PostgreSQL: a batch after its series'
 * heads asks nothing about them, and whatever else stored samples of the partition meanwhile (another writer, records
 * placed by another partition count, a writer placing by another count) makes it look them up again, so a sample sent
 * twice is stored once either way. Batches are applied directly, in the order a test gives, as a partition's records.
 */
@RealInfrastructure
class WriterHeadsTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int PARTITIONS = 3;

    private TestInfrastructure infra;
    private SluiceConfig config;
    private Topics topics;
    private String tenant;
    private Series series;
    private long t;

    @BeforeEach
    void setUp(TestInfrastructure infra) {
        this.infra = infra;
        TestInfrastructure.OwnTopics own = infra.ownTopics("h", PARTITIONS);
        config = infra.config().withKafka(own.kafka());
        topics = own.topics();
        tenant = "t" + UUID.randomUUID().toString().substring(0, 8);
        // a series the gateways place in partition 0
        series = IntStream.range(0, 100).mapToObj(i -> Series.of("heads.metric", "host", "h" + i))
                .filter(s -> SeriesIds.partition(SeriesIds.of(tenant, s), PARTITIONS) == 0)
                .findFirst().orElseThrow();
        t = (System.currentTimeMillis() - 30 * 60_000) / 60_000 * 60_000; // a minute's start, well within retention
    }

    @Test
    void batchesAfterTheirSeriesHeadsLookNothingUpAndASampleSentAgainIsStoredOnce() {
        Writer w = writer();
        w.apply(0, 0, samples(0, 10));
        w.apply(0, 1, samples(10, 20));
        assertThat(w.lookedUp()).as("only the first batch looked the series up").isEqualTo(1);
        w.apply(0, 2, sample(5, 99), sample(20, 20));
        assertThat(w.lookedUp()).isEqualTo(1);
        assertStoredOnce(21);
    }

    @Test
    void aWriterLooksHeadsUpAgainAfterAnotherWriterAppliedThePartition() {
        Writer first = writer();
        Writer second = writer();
        first.apply(0, 0, samples(0, 10));
        second.apply(0, 1, samples(10, 20));
        // first remembers the head at t+9: without looking it up again, t+15 would be stored twice
        first.apply(0, 2, sample(15, 99), sample(20, 20));
        assertThat(first.lookedUp()).isEqualTo(2);
        assertStoredOnce(21);
    }

    @Test
    void aWriterStartingWithTheCountTheTopicIsPlacedByLeavesWhatOthersRememberAlone() {
        Writer first = writer();
        first.apply(0, 0, samples(0, 10));
        long epoch = epoch();
        writer(); // another writer starts (or this one restarts elsewhere) with the same partition count
        assertThat(epoch()).isEqualTo(epoch);
        first.apply(0, 1, samples(10, 20));
        assertThat(first.lookedUp()).as("only the first batch looked the series up").isEqualTo(1);
        assertStoredOnce(20);

        infra.execute("UPDATE writer_placement SET partitions = " + (PARTITIONS + 1) + " WHERE topic = '"
                + topics.metrics() + "'"); // as a writer of another count starting in between
        writer(); // and one of this count after it: the count changes back, so the epoch moves
        assertThat(epoch()).isGreaterThan(epoch);
        first.apply(0, 2, sample(15, 99), sample(20, 20));
        assertThat(first.lookedUp()).isEqualTo(2);
        assertStoredOnce(21);
    }

    @Test
    void aCommitWhoseAnswerIsLostMakesTheWriterLookItsHeadsUpAgain() throws Exception {
        try (CommitCuttingProxy proxy = new CommitCuttingProxy(config.postgres().host(), config.postgres().port())) {
            ConnectionPool viaProxy = PostgresConnections.pool(config.postgres().withServer("127.0.0.1", proxy.port(),
                    config.postgres().database(), config.postgres().user(), config.postgres().password()));
            try {
                Writer w = writer(Clock.systemUTC(), viaProxy);
                w.apply(0, 0, samples(0, 10));
                proxy.cutNextCommit();
                // committed, but the writer never hears so: it retries, finds the offset moved on, and applies nothing
                w.apply(0, 1, samples(10, 20));
                assertThat(proxy.cut()).isEqualTo(1);
                assertStoredOnce(20);
                // w remembers the head at t+9 from its last commit it saw: without looking it up again, t+15 would be
                // stored twice
                w.apply(0, 2, sample(15, 99), sample(20, 20));
                assertThat(w.lookedUp()).isEqualTo(2);
                assertStoredOnce(21);
            } finally {
                viaProxy.dispose();
            }
        }
    }

    @Test
    void aSeriesStoredInTheMinuteTheRawHorizonFallsInIsLookedUpInThatMinutesRollup() {
        // the raw horizon 30 s into a minute, the samples 5 s after it: their rollup's minute starts before the horizon
        Instant now = Instant.ofEpochMilli(System.currentTimeMillis() / 60_000 * 60_000 + 30_000);
        Clock clock = Clock.fixed(now, ZoneOffset.UTC);
        t = now.minus(config.writer().retentionRaw()).toEpochMilli() + 5_000;
        writer(clock).apply(0, 0, samples(0, 10));
        Writer second = writer(clock);
        second.apply(0, 1, sample(5, 99), sample(10, 10));
        assertThat(second.lookedUp()).isEqualTo(1);
        assertStoredOnce(11);
    }

    @Test
    void recordsPlacedByAnotherCountMakeEveryWriterLookItsHeadsUpAgain() {
        Writer w = writer();
        w.apply(0, 0, samples(0, 10));
        // the series in partition 1, as a gateway placing by another partition count would send it
        w.apply(1, 0, samples(10, 20));
        // partition 0's offset is the one w left, but the placement's epoch moved: w forgets what it remembered
        w.apply(0, 1, sample(15, 99), sample(20, 20));
        assertThat(w.lookedUp()).isEqualTo(3);
        assertStoredOnce(21);
    }

    @Test
    void aReplayedDeadLetterMakesEveryWriterLookItsHeadsUpAgain() {
        Writer w = writer();
        w.apply(0, 0, samples(0, 10));
        TopicPartition tp = new TopicPartition(topics.metrics(), 0);
        Mono.usingWhen(infra.connectionFactory().create(),
                (Connection c) -> DeadLetters.insert(c, tp, 99, DeadLetters.REASON_ERROR, "22000", "refused once",
                        samples(10, 20)),
                Connection::close).block(WAIT);
        long id = scalar("SELECT id FROM dead_letters WHERE topic = '" + topics.metrics() + "' AND kafka_offset = 99");
        assertThat(w.writer.replayDeadLetter(id).block(WAIT)).isTrue();
        // w remembers the head at t+9: without looking it up again, t+15 would be stored twice
        w.apply(0, 1, sample(15, 99), sample(20, 20));
        assertThat(w.lookedUp()).as("the first batch, the replay and the batch after it").isEqualTo(3);
        assertStoredOnce(21);
    }

    @Test
    void aWriterPlacingByAnotherCountHoldsThePlacementExclusivelyAndRemembersNothing() {
        Writer w = writer();
        infra.execute("UPDATE writer_placement SET partitions = " + (PARTITIONS + 1) + " WHERE topic = '" + topics.metrics()
                + "'");
        w.apply(0, 0, samples(0, 10));
        w.apply(0, 1, sample(5, 99), sample(10, 10));
        assertThat(w.lookedUp()).as("each batch looked its series up").isEqualTo(2);
        assertThat(w.registry.get("sluice_writer_placement_stale").gauge().value()).isEqualTo(1.0);
        assertStoredOnce(11);
        assertThat(scalar("SELECT partitions::bigint FROM writer_placement WHERE topic = '" + topics.metrics() + "'"))
                .as("the placement is the last starting writer's, not changed by a batch").isEqualTo(PARTITIONS + 1);
    }

    @Test
    void aSeriesWhoseRollupsAreGoneIsLookedUpInTheHeadAWriterBeforeV15Kept() {
        writer().apply(0, 0, samples(0, 10));
        long id = SeriesIds.of(tenant, series);
        // as when retention.rollup-1m was shorter than retention.raw, before V15: the rollups are dropped, the chunks
        // stay, and series_heads holds the head the writer of then moved (written past V15's trigger, as V7 wrote it)
        infra.execute("DELETE FROM rollups_1m WHERE series_id = " + id);
        infra.execute("DO $$ BEGIN PERFORM set_config('session_replication_role', 'replica', true); "
                + "INSERT INTO series_heads (series_id, max_ms) VALUES (" + id + ", " + (t + 9) + "); END $$");
        writer().apply(0, 1, sample(5, 99), sample(10, 10));
        assertThat(StoredSamples.of(infra.connectionFactory(), tenant))
                .extracting(StoredSamples.Sample::timestampMs, StoredSamples.Sample::value)
                .containsExactlyElementsOf(IntStream.range(0, 11).mapToObj(i -> tuple(t + i, (double) i)).toList());
    }

    @Test
    void aWriterBeforeV15MovingAHeadGetsATransientErrorAndStoresNothing() {
        assertThatThrownBy(() -> infra.execute("INSERT INTO series_heads (series_id, max_ms) VALUES (42, 1) "
                + "ON CONFLICT (series_id) DO UPDATE SET max_ms = EXCLUDED.max_ms"))
                .satisfies(e -> {
                    assertThat(PostgresFailures.sqlState(e)).isEqualTo("55P03");
                    assertThat(PostgresFailures.isTransient(e)).as("retried, never set aside as a dead letter").isTrue();
                })
                .hasMessageContaining("stop this storage writer");
    }

    @Test
    void aMinuteWhoseLastSampleIsAStalenessMarkerIsCheckedToItsEnd() {
        double stale = Double.longBitsToDouble(io.sluice.storage.promql.Series.STALE_NAN_BITS);
        writer().apply(0, 0, sample(0, 1), sample(1, stale));
        // the minute's rollup knows its last value's time (t), not the marker's: a new writer checks the whole minute
        writer().apply(0, 1, sample(1, stale), sample(2, 5));
        assertThat(StoredSamples.of(infra.connectionFactory(), tenant))
                .extracting(StoredSamples.Sample::timestampMs)
                .containsExactly(t, t + 1, t + 2);
    }

    /** Samples at t+from .. t+to-1, each valued its offset from t. */
    private byte[] samples(int from, int to) {
        double[][] pairs = IntStream.range(from, to).mapToObj(i -> new double[] {i, i}).toArray(double[][]::new);
        return segment(pairs);
    }

    private static double[] sample(int offsetMs, double value) {
        return new double[] {offsetMs, value};
    }

    private byte[] segment(double[]... samples) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, tenant, false)) {
            for (double[] s : samples) {
                w.addSample(series, t + (long) s[0], s[1]);
            }
            ByteBuf buf = w.finish();
            try {
                return ByteBufUtil.getBytes(buf);
            } finally {
                buf.release();
            }
        }
    }

    /** Every timestamp once, with the value it was first stored with; the 1-minute rollups count each once. */
    private void assertStoredOnce(int count) {
        List<StoredSamples.Sample> stored = StoredSamples.of(infra.connectionFactory(), tenant);
        assertThat(stored).extracting(StoredSamples.Sample::timestampMs, StoredSamples.Sample::value)
                .containsExactlyElementsOf(IntStream.range(0, count).mapToObj(i -> tuple(t + i, (double) i)).toList());
        assertThat(StoredSamples.rollups(infra.connectionFactory(), tenant, "rollups_1m"))
                .containsExactlyElementsOf(StoredSamples.expectedRollups(stored, 60_000));
    }

    private Writer writer() {
        return writer(Clock.systemUTC());
    }

    /** A writer whose raw horizon is {@code retention.raw} before {@code clock}'s now, with a partition for t's day. */
    private Writer writer(Clock clock) {
        return writer(clock, infra.connectionFactory());
    }

    /** A writer that stores through {@code connections}. */
    private Writer writer(Clock clock, ConnectionFactory connections) {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        PartitionMaintenance maintenance = new PartitionMaintenance(infra.connectionFactory(), config.writer(), clock);
        maintenance.run().block(WAIT);
        maintenance.ensureDays(List.of(LocalDate.ofInstant(Instant.ofEpochMilli(t), ZoneOffset.UTC))).block(WAIT);
        StorageWriter writer = new StorageWriter(config.kafka(), config.writer(), topics, connections,
                maintenance, StorageWriter.COPY_BUFFERS, registry, tp -> Mono.empty());
        writer.place().block(WAIT);
        return new Writer(writer, registry);
    }

    private final class Writer {
        private final StorageWriter writer;
        private final SimpleMeterRegistry registry;

        Writer(StorageWriter writer, SimpleMeterRegistry registry) {
            this.writer = writer;
            this.registry = registry;
        }

        /** Applies one record, at {@code offset} of metrics partition {@code partition}, holding these samples. */
        void apply(int partition, long offset, double[]... samples) {
            apply(partition, offset, segment(samples));
        }

        void apply(int partition, long offset, byte[] value) {
            ConsumerRecord<byte[], byte[]> record = new ConsumerRecord<>(topics.metrics(), partition, offset, null, value);
            // as the writer's consumer applies a run: a transient failure is rolled back and tried again
            writer.applyWithRetry(new TopicPartition(topics.metrics(), partition),
                    List.of(new ReceiverRecord<>(record, null))).block(WAIT);
        }

        long lookedUp() {
            return (long) registry.counter("sluice_writer_heads_looked_up").count();
        }
    }

    private long epoch() {
        return scalar("SELECT epoch FROM writer_placement WHERE topic = '" + topics.metrics() + "'");
    }

    private long scalar(String sql) {
        return Mono.usingWhen(infra.connectionFactory().create(),
                (Connection c) -> Flux.from(c.createStatement(sql).execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(),
                Connection::close).block(WAIT);
    }
}
