package io.sluice.storage.testing;

import io.r2dbc.spi.Connection;
import io.sluice.storage.kafka.KafkaClusterCheck;
import io.sluice.storage.postgres.PostgresCheck;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import reactor.blockhound.BlockingOperationError;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.kafka.receiver.KafkaReceiver;
import reactor.kafka.receiver.ReceiverOptions;
import reactor.kafka.sender.KafkaSender;
import reactor.kafka.sender.SenderOptions;
import reactor.kafka.sender.SenderRecord;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The harness end to end: real Kafka through reactor-kafka, real PostgreSQL through R2DBC, under BlockHound. */
@RealInfrastructure
class RealInfrastructureTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @Test
    void blockHoundIsInstalledInThisJvm() {
        Mono<Void> blocking = Mono.<Void>fromRunnable(() -> LockSupport.parkNanos(1_000))
                .subscribeOn(Schedulers.parallel());
        assertThatThrownBy(() -> blocking.block(TIMEOUT))
                .hasCauseInstanceOf(BlockingOperationError.class)
                .hasMessageContaining("Blocking call!");
    }

    @Test
    void aRecordProducedWithReactorKafkaIsConsumedBack(TestInfrastructure infra) throws Exception {
        String topic = "harness-" + UUID.randomUUID();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, infra.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        SenderOptions<String, String> senderOptions = SenderOptions.<String, String>create(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, infra.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class));
        KafkaSender<String, String> sender = KafkaSender.create(senderOptions);
        try {
            Long offset = sender.send(Mono.just(SenderRecord.create(new ProducerRecord<>(topic, "k", "hello"), 1)))
                    .map(result -> {
                        if (result.exception() != null) {
                            throw new IllegalStateException(result.exception());
                        }
                        return result.recordMetadata().offset();
                    })
                    .single()
                    .block(TIMEOUT);
            assertThat(offset).isZero();
        } finally {
            sender.close();
        }

        ReceiverOptions<String, String> receiverOptions = ReceiverOptions.<String, String>create(Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, infra.bootstrapServers(),
                        ConsumerConfig.GROUP_ID_CONFIG, "harness-" + UUID.randomUUID(),
                        ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                        ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                        ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class))
                .subscription(List.of(topic));
        String value = KafkaReceiver.create(receiverOptions).receive()
                .map(record -> {
                    record.receiverOffset().acknowledge();
                    return record.key() + "=" + record.value();
                })
                .blockFirst(TIMEOUT);
        assertThat(value).isEqualTo("k=hello");
    }

    @Test
    void aRowWrittenThroughR2dbcIsReadBack(TestInfrastructure infra) {
        String name = "row-" + UUID.randomUUID();
        List<String> rows = Mono.usingWhen(infra.connectionFactory().create(),
                        c -> Flux.from(c.createStatement("CREATE TABLE IF NOT EXISTS harness_check (name text PRIMARY KEY)")
                                        .execute())
                                .flatMap(r -> r.getRowsUpdated())
                                .thenMany(Flux.from(c.createStatement("INSERT INTO harness_check (name) VALUES ($1)")
                                        .bind("$1", name).execute()).flatMap(r -> r.getRowsUpdated()))
                                .thenMany(Flux.from(c.createStatement("SELECT name FROM harness_check WHERE name = $1")
                                        .bind("$1", name).execute()))
                                .flatMap(r -> r.map((row, meta) -> row.get("name", String.class)))
                                .collectList(),
                        Connection::close)
                .block(TIMEOUT);
        assertThat(rows).containsExactly(name);
    }

    @Test
    void migrationsRanAndAreRecorded(TestInfrastructure infra) {
        Long applied = Mono.usingWhen(infra.connectionFactory().create(),
                        c -> Mono.from(c.createStatement(
                                        "SELECT count(*) FROM sluice_schema_history WHERE success AND version = '1'").execute())
                                .flatMap(r -> Mono.from(r.map((row, meta) -> row.get(0, Long.class)))),
                        Connection::close)
                .block(TIMEOUT);
        assertThat(applied).isEqualTo(1L);
    }

    @Test
    void healthChecksPassWithoutBlocking(TestInfrastructure infra) {
        try (KafkaClusterCheck kafka = new KafkaClusterCheck(infra.config().kafka())) {
            // subscribed on a non-blocking scheduler: BlockHound would fail the check if it blocked
            kafka.check().subscribeOn(Schedulers.parallel()).block(TIMEOUT);
        }
        new PostgresCheck(infra.connectionFactory()).check().subscribeOn(Schedulers.parallel()).block(TIMEOUT);
    }
}
