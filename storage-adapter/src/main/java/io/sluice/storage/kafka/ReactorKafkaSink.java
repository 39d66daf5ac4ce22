package io.sluice.storage.kafka;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.sluice.config.KafkaConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import reactor.core.publisher.Mono;
import reactor.kafka.sender.KafkaSender;
import reactor.kafka.sender.SenderRecord;

import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * {@link SegmentSink} on reactor-kafka: an idempotent producer with {@code acks=all}. Segments arrive
 * already LZ4-compressed by the protocol's segment encoding, so the producer does not compress again.
 *
 * <p>{@code KafkaProducer.send} can block: the first record for a topic waits for its metadata, and a full
 * producer buffer waits for room (bounded by {@code kafka.request-timeout}). reactor-kafka hands every record to
 * its own sender thread (one per producer) before it calls {@code send}, so callers (event loops included) never
 * block.
 */
public final class ReactorKafkaSink implements SegmentSink {

    private final KafkaSender<byte[], byte[]> sender;
    /** The producer's open connections, and how many it ever opened (to tell "lost them" from "not yet"). */
    private final Metric connections;
    private final Metric connectionsOpened;

    public ReactorKafkaSink(KafkaConfig config) {
        this(new KafkaClients(config));
    }

    public ReactorKafkaSink(KafkaClients clients) {
        this.sender = clients.ingestSender();
        // reactor-kafka builds the producer lazily on the first caller's thread (DNS, JMX, a thread start):
        // build it here, at start-up, so that caller is never an event loop
        Map<MetricName, ? extends Metric> metrics = sender.doOnProducer(producer -> producer.metrics())
                .block(clients.config().requestTimeout());
        this.connections = producerMetric(metrics, "connection-count");
        this.connectionsOpened = producerMetric(metrics, "connection-creation-total");
    }

    private static Metric producerMetric(Map<MetricName, ? extends Metric> metrics, String name) {
        return metrics.entrySet().stream()
                .filter(e -> e.getKey().name().equals(name) && e.getKey().group().equals("producer-metrics"))
                .map(Map.Entry::getValue).findFirst()
                .orElseThrow(() -> new IllegalStateException("the Kafka producer has no metric " + name));
    }

    /**
     * False when the producer had connections to Kafka and has none left (the broker died, the network went):
     * then nothing it holds can be acknowledged soon. True before the first connection, and while the broker
     * keeps its connections open, even frozen (then only {@code kafka.send-timeout} tells).
     */
    public boolean connected() {
        return value(connections) > 0 || value(connectionsOpened) == 0;
    }

    private static double value(Metric metric) {
        return metric.metricValue() instanceof Number n ? n.doubleValue() : 0;
    }

    @Override
    public CompletableFuture<Void> send(String topic, int partition, ByteBuf value) {
        byte[] bytes;
        try {
            bytes = ByteBufUtil.getBytes(value);
        } finally {
            value.release();
        }
        ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topic, partition, null, bytes);
        CompletableFuture<Void> acked = new CompletableFuture<>();
        sender.send(Mono.just(SenderRecord.create(record, null)))
                .subscribe(result -> {
                    if (result.exception() != null) {
                        acked.completeExceptionally(result.exception());
                    } else {
                        acked.complete(null);
                    }
                }, acked::completeExceptionally, () -> {
                    // every send completes after its result: build the exception (a stack trace) only when it is needed
                    if (!acked.isDone()) {
                        acked.completeExceptionally(new IllegalStateException("Kafka send completed without a result"));
                    }
                });
        return acked;
    }

    @Override
    public void close() {
        sender.close();
    }
}
