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

    @Override
    void close();
}
