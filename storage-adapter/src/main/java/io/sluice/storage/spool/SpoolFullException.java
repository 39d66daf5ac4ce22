package io.sluice.storage.spool;

/**
 * An append was refused because the spool holds {@code spool.max-bytes} of undelivered data; nothing was
 * written. The gateway answers HTTP 503 / binary RETRY_LATER with {@link #retryAfterMillis()}.
 *
 * <p>Thrown on the ingest path under overload, so it carries no stack trace.
 */
public final class SpoolFullException extends RuntimeException {

    private final long retryAfterMillis;

    public SpoolFullException(String message, long retryAfterMillis) {
        super(message, null, false, false);
        this.retryAfterMillis = retryAfterMillis;
    }

    /** How long the client should wait before sending this data again. */
    public long retryAfterMillis() {
        return retryAfterMillis;
    }
}
