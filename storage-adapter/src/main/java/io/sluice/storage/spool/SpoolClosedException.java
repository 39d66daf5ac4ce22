package io.sluice.storage.spool;

/**
 * An append or delivery mark was refused because the spool is closed, or stopped after a write or fsync
 * failed (then {@link #getCause()} says why, and the spool must be reopened to recover).
 */
public final class SpoolClosedException extends IllegalStateException {

    public SpoolClosedException(String message, Throwable cause) {
        super(message, cause);
    }
}
