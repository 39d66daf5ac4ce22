package io.sluice.storage.writer;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.KafkaConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.segment.SegmentWriter;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.StoredSamples;
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

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Records PostgreSQL refuses for a permanent reason, and records that are not segments, go to dead_letters and
 * never block their partition; a dead letter replays once what refused it is fixed. Real Kafka, and a PostgreSQL
 * database of this test's own (it adds a constraint to refuse records on purpose).
 */
@RealInfrastructure
class DeadLettersTest {

    private static final Duration WAIT = Duration.ofSeconds(60);

    private ConnectionPool pool;
    private Topics topics;
    private KafkaProducer<byte[], byte[]> producer;
    private StorageWriter writer;
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final String tenant = "dl" + UUID.randomUUID().toString().substring(0, 8);

    @BeforeEach
    void setUp(TestInfrastructure infra) {
        pool = PostgresConnections.pool(infra.newDatabase("dead_", 4));
        SluiceConfig base = infra.config();
        TestInfrastructure.OwnTopics own = infra.ownTopics("dl", 1);
        KafkaConfig kafka = own.kafka();
        topics = own.topics();
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, infra.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class));
        writer = StorageWriter.create(kafka, base.writer(), topics, pool,
                new PartitionMaintenance(pool, base.writer(), Clock.systemUTC()), registry);
    }

    @AfterEach
    void tearDown() {
        writer.close();
        producer.close();
        pool.dispose();
    }

    @Test
    void aRecordPostgresqlRefusesIsSetAsideAndTheRecordsBehindItAreStored() throws Exception {
        // a rule PostgreSQL enforces on every try: the series of the middle record is refused (23514)
        exec("ALTER TABLE series ADD CONSTRAINT no_poison CHECK (name <> 'poison')");
        long base = System.currentTimeMillis() - 10 * 60_000;
        produce(topics.metrics(), samples("ok.before", base, 1.0, 2.0));
        produce(topics.metrics(), samples("poison", base, 5.0, 6.0));
        produce(topics.metrics(), samples("ok.after", base, 3.0, 4.0));
        writer.start();

        TopicPartition tp = new TopicPartition(topics.metrics(), 0);
        await().atMost(WAIT).until(() -> writer.appliedOffsets().getOrDefault(tp, 0L) == 3);
        assertThat(StoredSamples.of(pool, tenant)).extracting(StoredSamples.Sample::name)
                .containsExactly("ok.after", "ok.after", "ok.before", "ok.before");
        List<DeadLetters.DeadLetter> letters = new DeadLetters(pool).list(false, 0, 10).block(WAIT);
        assertThat(letters).hasSize(1);
        DeadLetters.DeadLetter letter = letters.get(0);
        assertThat(letter.topic()).isEqualTo(topics.metrics());
        assertThat(letter.offset()).isEqualTo(1);
        assertThat(letter.sqlState()).isEqualTo("23514");
        assertThat(letter.reason()).isEqualTo("sqlstate_23514");
        assertThat(letter.payload()).isEqualTo(samples("poison", base, 5.0, 6.0));
        assertThat(registry.get("sluice_writer_dead_letters").tag("reason", "sqlstate_23514").counter().count())
                .isEqualTo(1);
        assertThat(new DeadLetters(pool).pending().block(WAIT)).isEqualTo(1);
    }

    @Test
    void aRecordThatIsNotASegmentIsSetAside() throws Exception {
        long base = System.currentTimeMillis() - 10 * 60_000;
        produce(topics.metrics(), new byte[] {1, 2, 3, 4, 5});
        produce(topics.metrics(), samples("ok", base, 1.0));
        writer.start();

        await().atMost(WAIT).until(() -> writer.appliedOffsets().getOrDefault(new TopicPartition(topics.metrics(), 0), 0L) == 2);
        assertThat(StoredSamples.of(pool, tenant)).extracting(StoredSamples.Sample::name).containsExactly("ok");
        List<DeadLetters.DeadLetter> letters = new DeadLetters(pool).list(false, 0, 10).block(WAIT);
        assertThat(letters).extracting(DeadLetters.DeadLetter::reason, DeadLetters.DeadLetter::offset)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("undecodable_segment", 0L));
        assertThat(registry.get("sluice_writer_dead_letters").tag("reason", "undecodable_segment").counter().count())
                .isEqualTo(1);
    }

    @Test
    void aDeadLetterReplaysOnceWhatRefusedItIsFixed() throws Exception {
        exec("ALTER TABLE events ADD CONSTRAINT no_poison CHECK (type <> 'poison')");
        long base = System.currentTimeMillis() - 10 * 60_000;
        produce(topics.events(), events(base, "deploy", "e-1"));
        produce(topics.events(), events(base, "poison", "e-2"));
        produce(topics.events(), events(base, "deploy", "e-3"));
        writer.start();

        await().atMost(WAIT).until(() -> writer.appliedOffsets().getOrDefault(new TopicPartition(topics.events(), 0), 0L) == 3);
        assertThat(strings("SELECT event_id FROM events ORDER BY 1")).containsExactly("e-1", "e-3");
        DeadLetters.DeadLetter letter = new DeadLetters(pool).list(false, 0, 10).block(WAIT).get(0);
        assertThat(letter.sqlState()).isEqualTo("23514");
        assertThat(letter.error()).contains("no_poison");
        assertThatThrownBy(() -> writer.replayDeadLetter(letter.id()).block(WAIT))
                .as("still refused: it stays a dead letter").hasMessageContaining("no_poison");
        assertThat(new DeadLetters(pool).pending().block(WAIT)).isEqualTo(1);

        exec("ALTER TABLE events DROP CONSTRAINT no_poison");
        assertThat(writer.replayDeadLetter(letter.id()).block(WAIT)).isTrue();
        assertThat(strings("SELECT event_id FROM events ORDER BY 1")).containsExactly("e-1", "e-2", "e-3");
        assertThat(new DeadLetters(pool).pending().block(WAIT)).isZero();
        assertThat(new DeadLetters(pool).list(true, 0, 10).block(WAIT).get(0).replayedAt()).isNotNull();
        assertThat(writer.replayDeadLetter(letter.id()).block(WAIT)).as("a replayed letter is not replayed twice")
                .isFalse();
        assertThat(strings("SELECT event_id FROM events ORDER BY 1")).hasSize(3);
    }

    private byte[] samples(String name, long ts, double... values) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, tenant, false)) {
            for (int i = 0; i < values.length; i++) {
                w.addSample(Series.of(name, "host", "a"), ts + i, values[i]);
            }
            return bytes(w.finish());
        }
    }

    private byte[] events(long ts, String type, String id) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, tenant, false)) {
            w.addEvent(id, type, ts, "svc", Map.of());
            return bytes(w.finish());
        }
    }

    private static byte[] bytes(ByteBuf buf) {
        try {
            return ByteBufUtil.getBytes(buf);
        } finally {
            buf.release();
        }
    }

    private void produce(String topic, byte[] value) throws Exception {
        producer.send(new ProducerRecord<>(topic, 0, null, value)).get(30, TimeUnit.SECONDS);
    }

    private void exec(String sql) {
        Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(WAIT);
    }

    private List<String> strings(String sql) {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, String.class))).collectList(), Connection::close)
                .block(WAIT);
    }
}
