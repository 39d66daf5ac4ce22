package io.sluice.gateway.links;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.Unpooled;
import io.sluice.config.KafkaConfig;
import io.sluice.storage.kafka.SegmentSink;
import io.sluice.storage.kafka.Topics;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.kafka.receiver.KafkaReceiver;
import reactor.kafka.receiver.ReceiverOptions;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Keeps every gateway node's redirect cache honest: an update or delete publishes {@code link:<code>} to the
 * control topic, and every node (this one included) drops that code from its cache when the message arrives.
 * Each node reads every partition of the control topic from its end at start (or once Kafka's topics are known,
 * when Kafka did not answer at start), without a consumer group.
 */
public final class LinkInvalidation implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LinkInvalidation.class);
    private static final String PREFIX = "link:";

    private final KafkaConfig kafka;
    private final SegmentSink sink;
    private final Topics topics;
    private final RedirectCache cache;
    private final Counter received;
    private volatile Disposable listening;
    private volatile boolean closed;

    /** Starts listening once the topics are known (at once when Kafka answered at start, later otherwise). */
    public LinkInvalidation(KafkaConfig kafka, Topics topics, SegmentSink sink, RedirectCache cache,
                            MeterRegistry registry) {
        this.kafka = kafka;
        this.sink = sink;
        this.topics = topics;
        this.cache = cache;
        this.received = Counter.builder("sluice_links_invalidations").tag("direction", "received")
                .description("Link cache invalidations through the control topic").register(registry);
        topics.whenKnown().thenRun(this::listen);
    }

    private synchronized void listen() {
        if (closed) {
            return;
        }
        List<TopicPartition> partitions = new ArrayList<>();
        for (int p = 0; p < topics.partitions(topics.control()); p++) {
            partitions.add(new TopicPartition(topics.control(), p));
        }
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapString());
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, kafka.clientId() + "-control-" + UUID.randomUUID());
        props.put(ConsumerConfig.GROUP_ID_CONFIG, kafka.clientId() + "-control-" + UUID.randomUUID());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        ReceiverOptions<byte[], byte[]> options = ReceiverOptions.<byte[], byte[]>create(props)
                .assignment(partitions)
                .addAssignListener(ps -> ps.forEach(p -> p.seekToEnd()));
        this.listening = KafkaReceiver.create(options).receive()
                .subscribe(record -> {
                    String message = new String(record.value(), StandardCharsets.UTF_8);
                    if (message.startsWith(PREFIX)) {
                        cache.invalidate(message.substring(PREFIX.length()));
                        received.increment();
                    }
                }, e -> log.error("Link invalidation listener stopped", e));
    }

    /** Tells every node to forget the code; completes when Kafka has the message. */
    public java.util.concurrent.CompletableFuture<Void> publish(String code) {
        if (!topics.known()) {
            return java.util.concurrent.CompletableFuture.failedFuture(new IllegalStateException(
                    "Kafka's topics are not known yet; other nodes keep " + code + " until their cache entry expires"));
        }
        String topic = topics.control();
        int partition = Math.floorMod(code.hashCode(), topics.partitions(topic));
        return sink.send(topic, partition, Unpooled.copiedBuffer(PREFIX + code, StandardCharsets.UTF_8));
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (listening != null) {
            listening.dispose();
        }
    }
}
