package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bound on ingested data that was accepted but is not yet durable, over every connection and both
 * transports, in items and in bytes ({@code ingest.max-in-flight-items}, {@code ingest.max-in-flight-bytes}).
 *
 * <table>
 *   <caption>Marks</caption>
 *   <tr><th>mark</th><th>when</th><th>effect</th></tr>
 *   <tr><td>high</td><td>items or bytes at or above the maximum</td><td>{@link #tryAcquire} refuses (HTTP 503,
 *       binary NACK RETRY_LATER, both with a retry-after of {@link #RETRY_AFTER_MS}); {@link #readsPaused()}
 *       turns true and binary connections stop reading their sockets</td></tr>
 *   <tr><td>low</td><td>items and bytes at or below half the maximum</td><td>reads resume</td></tr>
 * </table>
 *
 * <p>A batch is admitted whole while the total is under the high mark, so the total may overshoot the mark
 * by about one batch per I/O thread; that keeps a single large batch from never fitting. Thread-safe.
 */
public final class InFlightLimit {

    /** What a refused client is told to wait before resending. */
    public static final int RETRY_AFTER_MS = 1000;

    private final long maxItems;
    private final long maxBytes;
    private final AtomicLong items = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private final Counter pauses;
    private volatile boolean paused;

    public InFlightLimit(long maxItems, long maxBytes, MeterRegistry registry) {
        if (maxItems <= 0) {
            throw new IllegalArgumentException("maxItems: " + maxItems + " (expected: > 0)");
        }
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("maxBytes: " + maxBytes + " (expected: > 0)");
        }
        this.maxItems = maxItems;
        this.maxBytes = maxBytes;
        Gauge.builder("sluice_ingest_in_flight_items", items, AtomicLong::get)
                .description("Samples and events accepted and not yet acknowledged by Kafka").register(registry);
        Gauge.builder("sluice_ingest_in_flight_bytes", bytes, AtomicLong::get)
                .description("Record bytes accepted and not yet acknowledged by Kafka").register(registry);
        Gauge.builder("sluice_ingest_reads_paused", this, l -> l.paused ? 1 : 0)
                .description("1 while binary connections stop reading because too much is in flight").register(registry);
        this.pauses = Counter.builder("sluice_ingest_read_pauses")
                .description("Times binary reads paused at ingest.max-in-flight-items or -bytes").register(registry);
    }

    /**
     * Takes room for a batch, or refuses when the total is at the high mark. Every successful call must be
     * matched by one {@link #release} with the same numbers.
     */
    public boolean tryAcquire(long itemCount, long byteCount) {
        if (saturated()) {
            return false;
        }
        items.addAndGet(itemCount);
        bytes.addAndGet(byteCount);
        update();
        return true;
    }

    /** Gives back what {@link #tryAcquire} took, once the batch is durable or failed. */
    public void release(long itemCount, long byteCount) {
        items.addAndGet(-itemCount);
        bytes.addAndGet(-byteCount);
        update();
    }

    /** Whether new batches are refused right now. */
    public boolean saturated() {
        return items.get() >= maxItems || bytes.get() >= maxBytes;
    }

    /** Whether binary connections should leave their sockets unread right now. */
    public boolean readsPaused() {
        return paused;
    }

    /**
     * Runs {@code listener} after every change of {@link #readsPaused()} (on whichever thread made it); a
     * listener reads the current state rather than assuming the direction, so late runs converge.
     */
    public void onPauseChange(Runnable listener) {
        listeners.add(listener);
    }

    /** Items accepted and not yet acknowledged. */
    public long items() {
        return items.get();
    }

    /** Bytes accepted and not yet acknowledged. */
    public long bytes() {
        return bytes.get();
    }

    private void update() {
        boolean changed = false;
        synchronized (this) {
            if (!paused && saturated()) {
                paused = true;
                pauses.increment();
                changed = true;
            } else if (paused && items.get() <= maxItems / 2 && bytes.get() <= maxBytes / 2) {
                paused = false;
                changed = true;
            }
        }
        if (changed) {
            for (Runnable listener : listeners) {
                listener.run();
            }
        }
    }
}
