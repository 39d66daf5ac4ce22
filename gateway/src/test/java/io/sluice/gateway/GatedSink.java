package io.sluice.gateway;

import io.netty.buffer.ByteBuf;
import io.sluice.storage.kafka.SegmentSink;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Wraps the real Kafka sink with a gate a test opens and shuts: while shut, segments wait (owned here);
 * opening hands them, and everything after, to Kafka. So a test decides when acknowledgements come.
 */
final class GatedSink implements SegmentSink {

    private record Held(String topic, int partition, ByteBuf value, CompletableFuture<Void> done) {
    }

    private final SegmentSink kafka;
    private final List<Held> held = new ArrayList<>();
    private boolean open = true;

    GatedSink(SegmentSink kafka) {
        this.kafka = kafka;
    }

    @Override
    public CompletableFuture<Void> send(String topic, int partition, ByteBuf value) {
        synchronized (this) {
            if (!open) {
                Held h = new Held(topic, partition, value, new CompletableFuture<>());
                held.add(h);
                return h.done;
            }
        }
        return kafka.send(topic, partition, value);
    }

    /** Segments waiting at the gate. */
    synchronized int waiting() {
        return held.size();
    }

    synchronized void shut() {
        open = false;
    }

    /** Opens the gate and sends what waited, in order. */
    void open() {
        List<Held> release;
        synchronized (this) {
            open = true;
            release = new ArrayList<>(held);
            held.clear();
        }
        for (Held h : release) {
            kafka.send(h.topic, h.partition, h.value).whenComplete((ok, err) -> {
                if (err != null) {
                    h.done.completeExceptionally(err);
                } else {
                    h.done.complete(null);
                }
            });
        }
    }

    @Override
    public void close() {
        open();
    }
}
