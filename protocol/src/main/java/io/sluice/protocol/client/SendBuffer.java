package io.sluice.protocol.client;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The client's bound on buffered data: batches and bytes accepted by {@code send} and not yet acknowledged
 * or failed. Callers take room before a batch is queued; the event loop gives it back when the batch
 * completes. Semaphores, because giving back never blocks (the event loop must not) while taking may wait.
 */
final class SendBuffer {

    private final Semaphore batches;
    private final Semaphore bytes;
    private final int maxBatches;
    private final int maxBytes;

    SendBuffer(int maxBatches, int maxBytes) {
        this.maxBatches = maxBatches;
        this.maxBytes = maxBytes;
        this.batches = new Semaphore(maxBatches, true);
        this.bytes = new Semaphore(maxBytes, true);
    }

    /**
     * Takes room for one batch of {@code size} bytes.
     *
     * @param timeoutNanos 0 to try once (fail fast), otherwise how long to wait
     * @throws BufferFullException if there was no room in time
     */
    void acquire(int size, long timeoutNanos) throws InterruptedException {
        if (size > maxBytes) {
            throw new BufferFullException("batch of " + size + " bytes can never fit the send buffer (maxBufferedBytes: "
                    + maxBytes + "; raise maxBufferedBytes or send smaller batches)");
        }
        long deadline = System.nanoTime() + timeoutNanos;
        if (!(timeoutNanos == 0 ? batches.tryAcquire() : batches.tryAcquire(timeoutNanos, TimeUnit.NANOSECONDS))) {
            throw new BufferFullException("send buffer full: " + maxBatches
                    + " batches unacknowledged (maxBufferedBatches; raise it, or slow down)");
        }
        long left = Math.max(0, deadline - System.nanoTime());
        boolean ok;
        try {
            ok = timeoutNanos == 0 ? bytes.tryAcquire(size) : bytes.tryAcquire(size, left, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            batches.release();
            throw e;
        }
        if (!ok) {
            batches.release();
            throw new BufferFullException("send buffer full: " + (maxBytes - bytes.availablePermits())
                    + " bytes unacknowledged, " + size + " more requested (maxBufferedBytes: " + maxBytes
                    + "; raise it, or slow down)");
        }
    }

    /** Gives back the room of one batch of {@code size} bytes. */
    void release(int size) {
        bytes.release(size);
        batches.release();
    }
}
