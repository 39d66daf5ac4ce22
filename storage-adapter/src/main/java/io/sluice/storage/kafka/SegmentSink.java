package io.sluice.storage.kafka;

import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletableFuture;

/**
 * Where encoded segments go: Kafka, behind Sluice's own interface so that the client library can change
 * and a circuit breaker or spool can wrap it.
 */
public interface SegmentSink extends AutoCloseable {

    /**
     * Sends one segment to one partition. Takes ownership of {@code value}. The future completes only
     * once the broker has acknowledged the record with {@code acks=all}; it fails with the broker's or
     * client's error otherwise. Never blocks the caller.
     */
    CompletableFuture<Void> send(String topic, int partition, ByteBuf value);

    /**
     * As {@link #send(String, int, ByteBuf)} for a segment whose items were placed in {@code partition} among
     * {@code partitions} (what {@link Topics#partitions} answered when they were placed), so that a sink that
     * keeps the segment for later can place it again if the topic turns out to have another count.
     */
    default CompletableFuture<Void> send(String topic, int partition, int partitions, ByteBuf value) {
        return send(topic, partition, value);
    }

    @Override
    void close();
}
