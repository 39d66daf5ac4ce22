package io.sluice.protocol.client;

/** What {@link SluiceClient#send} does when the client's send buffer is full. */
public enum BufferFullPolicy {
    /**
     * Block the calling thread until room frees up (batches are acknowledged), at most
     * {@code bufferFullTimeout}; then fail the send with {@link BufferFullException}. Never use from an
     * event loop thread.
     */
    BLOCK,
    /** Fail the send at once with {@link BufferFullException}. */
    FAIL_FAST
}
