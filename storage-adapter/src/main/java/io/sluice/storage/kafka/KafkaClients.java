package io.sluice.storage.kafka;

import io.sluice.config.KafkaConfig;
import io.sluice.config.WriterConfig;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import reactor.kafka.receiver.KafkaReceiver;
import reactor.kafka.receiver.ReceiverOptions;
import reactor.kafka.sender.KafkaSender;
import reactor.kafka.sender.SenderOptions;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.UnaryOperator;

/**
 * Builds every Kafka client Sluice's production code uses, from {@link KafkaConfig}: the settings of each client
 * (bootstrap servers, client id, group, timeouts, serialisation) are decided here and nowhere else. Client ids are
 * {@code kafka.client-id} with a suffix naming the client: {@code -ingest}, {@code -writer}, {@code -control-<uuid>},
 * {@code -health}.
 */
public final class KafkaClients {

    private final KafkaConfig config;

    public KafkaClients(KafkaConfig config) {
        this.config = config;
    }

    public KafkaConfig config() {
        return config;
    }

    /** {@code kafka.admin-timeout} in milliseconds, as Kafka's admin options take it. */
    public int adminTimeoutMs() {
        return (int) Math.min(Integer.MAX_VALUE, config.adminTimeout().toMillis());
    }

    /**
     * The ingest producer: idempotent, {@code acks=all}, no compression (segments come LZ4-compressed), every wait
     * bounded by {@code kafka.request-timeout}. Does not stop on a failed send.
     */
    public KafkaSender<byte[], byte[]> ingestSender() {
        int requestTimeoutMs = (int) config.requestTimeout().toMillis();
        Map<String, Object> props = new HashMap<>();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapString());
        props.put(ProducerConfig.CLIENT_ID_CONFIG, config.clientId() + "-ingest");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        props.put(ProducerConfig.LINGER_MS_CONFIG, 2);
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, requestTimeoutMs);
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, requestTimeoutMs + 5_000);
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, requestTimeoutMs);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        return KafkaSender.create(SenderOptions.<byte[], byte[]>create(props).stopOnError(false));
    }

    /**
     * The storage writer's consumer: group {@code <client-id>-writer}, no auto commit (offsets live in PostgreSQL),
     * membership bounded by {@code writer.session-timeout}, polls bounded by {@code writer.max-batch-records} and
     * {@code writer.max-batch-bytes}.
     *
     * @param placement which partitions it reads and where it starts (assignment or subscription, seeks)
     */
    public KafkaReceiver<byte[], byte[]> writerReceiver(WriterConfig writer,
                                                        UnaryOperator<ReceiverOptions<byte[], byte[]>> placement) {
        Map<String, Object> props = writerConsumerProps(writer);
        // No delay of a rebalance for records still in the pipeline: reactor-kafka would wait (60 s by default) for them
        // to be acknowledged, and the writer acknowledges nothing to Kafka (its offsets are in PostgreSQL, where a run
        // the partition's new owner applies first is skipped by the old one, and the other way round).
        return KafkaReceiver.create(placement.apply(ReceiverOptions.<byte[], byte[]>create(props)
                .maxDelayRebalance(Duration.ZERO)));
    }

    /**
     * The writer consumer's settings. Its fetches wait for {@code writer.max-batch-bytes / 8} of records, or at most
     * half of {@code writer.max-batch-wait} (and never past Kafka's default 500 ms): a batch waits that long for its
     * records anyway, and a fetch answered at the first byte costs the consumer and the broker a round trip per few
     * records (at 400,000 samples/s the consumer thread used a third less CPU and the broker a sixth less).
     */
    Map<String, Object> writerConsumerProps(WriterConfig writer) {
        Map<String, Object> props = consumerProps(config.clientId() + "-writer", config.clientId() + "-writer");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        int sessionMs = (int) Math.min(Integer.MAX_VALUE, writer.sessionTimeout().toMillis());
        props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, sessionMs);
        props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, Math.max(1_000, sessionMs / 3));
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, writer.maxBatchRecords());
        int fetchMaxBytes = (int) Math.min(Integer.MAX_VALUE, writer.maxBatchBytes());
        props.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, fetchMaxBytes);
        props.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, Math.max(1, fetchMaxBytes / 8));
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, (int) Math.min(500, writer.maxBatchWait().toMillis() / 2));
        return props;
    }

    /**
     * A reader of the given partitions of the control topic from their end: assigned, not subscribed, so it joins
     * no consumer group (each node reads every partition) and commits nothing. {@code positioned} runs (on the
     * consumer's thread) once every partition's position is fixed at its end: every message published from then
     * on is delivered.
     */
    public KafkaReceiver<byte[], byte[]> controlReceiver(Collection<TopicPartition> partitions, Runnable positioned) {
        String id = config.clientId() + "-control-" + UUID.randomUUID();
        ReceiverOptions<byte[], byte[]> options = ReceiverOptions.<byte[], byte[]>create(consumerProps(id, id))
                .assignment(List.copyOf(partitions))
                .addAssignListener(ps -> {
                    ps.forEach(p -> p.seekToEnd());
                    ps.forEach(p -> p.position()); // seekToEnd is lazy: resolve the ends now
                    positioned.run();
                });
        return KafkaReceiver.create(options);
    }

    /**
     * The admin client (cluster health, describing and creating the topics): every call bounded by
     * {@code kafka.admin-timeout}, reconnecting at least once a second.
     */
    public Admin admin() {
        int timeoutMs = adminTimeoutMs();
        return Admin.create(Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapString(),
                AdminClientConfig.CLIENT_ID_CONFIG, config.clientId() + "-health",
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, timeoutMs,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, timeoutMs,
                AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1_000));
    }

    private Map<String, Object> consumerProps(String clientId, String groupId) {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapString());
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        return props;
    }
}
