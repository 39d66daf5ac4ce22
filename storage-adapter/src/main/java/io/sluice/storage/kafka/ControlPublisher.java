package io.sluice.storage.kafka;

import io.netty.buffer.Unpooled;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

/**
 * Publishes {@link ControlMessage}s on the control topic through a {@link SegmentSink} (the process's Kafka producer):
 * the one way anything is published there. Never blocks the caller.
 */
public final class ControlPublisher {

    private final SegmentSink sink;
    private final Topics topics;

    public ControlPublisher(SegmentSink sink, Topics topics) {
        this.sink = sink;
        this.topics = topics;
    }

    /**
     * Sends the message to the partition {@code routingKey} picks; completes when Kafka has it, fails (at once) when
     * the topics are not known yet or with the producer's error.
     */
    public CompletableFuture<Void> publish(ControlMessage message, int routingKey) {
        if (!topics.known()) {
            return CompletableFuture.failedFuture(new IllegalStateException("Kafka's topics are not known yet"));
        }
        String topic = topics.control();
        int partition = Math.floorMod(routingKey, topics.partitions(topic));
        return sink.send(topic, partition,
                Unpooled.copiedBuffer(ControlMessage.encode(message), StandardCharsets.UTF_8));
    }
}
