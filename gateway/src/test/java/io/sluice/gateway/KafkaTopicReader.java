package io.sluice.gateway;

import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.segment.Segment;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** Reads a topic from the beginning and decodes its segments, for asserting what really reached Kafka. */
public final class KafkaTopicReader {

    /** One decoded sample or event, with the tenant of its segment and the partition it was in. */
    public record Item(String tenant, int partition, String name, Map<String, String> labels, long timestampMs,
                       double value, boolean event) {
    }

    private KafkaTopicReader() {
    }

    public static List<Item> readAll(String bootstrap, String topic) {
        List<Item> items = new ArrayList<>();
        readToEnd(bootstrap, topic, record -> {
            try (Segment segment = Segment.decode(record.value())) {
                RecordCursor cursor = segment.cursor();
                while (cursor.next()) {
                    if (cursor.isSample()) {
                        items.add(new Item(segment.tenant(), record.partition(), cursor.series().name(),
                                cursor.series().labels(), cursor.timestampMs(), cursor.value(), false));
                    } else {
                        var e = cursor.event();
                        items.add(new Item(segment.tenant(), record.partition(), e.type(),
                                Map.of("id", e.id(), "key", e.key()), e.timestampMs(), 0, true));
                    }
                }
            }
        });
        return items;
    }

    /** The segments of {@code tenant} in {@code topic}, decoded, in each partition's order; the caller closes them. */
    public static List<Segment> segments(String bootstrap, String topic, String tenant) {
        List<Segment> segments = new ArrayList<>();
        try {
            readToEnd(bootstrap, topic, record -> {
                Segment segment = Segment.decode(record.value());
                if (segment.tenant().equals(tenant)) {
                    segments.add(segment);
                } else {
                    segment.close();
                }
            });
        } catch (RuntimeException | AssertionError e) {
            segments.forEach(Segment::close);
            throw e;
        }
        return segments;
    }

    /** Hands every committed record of {@code topic}, from the beginning to the end it has now, to {@code each}. */
    private static void readToEnd(String bootstrap, String topic, Consumer<ConsumerRecord<byte[], byte[]>> each) {
        Map<String, Object> props = Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofSeconds(10))) {
                partitions.add(new TopicPartition(topic, info.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(10));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("could not read " + topic + " to its end within 30 s");
                }
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    each.accept(record);
                }
            }
        }
    }
}
