package io.sluice.storage.postgres;

import java.time.Duration;

/**
 * PostgreSQL gave no answer in time (the call's deadline passed) or could not be reached, so the work was not
 * done; trying again later may succeed. Raised by {@link PostgresCalls}.
 */
public final class PostgresUnavailableException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String operation;

    public PostgresUnavailableException(String operation, String message, Throwable cause) {
        super(operation + ": " + message, cause, false, false);
        this.operation = operation;
    }

    static PostgresUnavailableException deadline(String operation, Duration deadline) {
        return new PostgresUnavailableException(operation, "PostgreSQL did not answer within " + deadline.toMillis()
                + " ms", null);
    }

    /** What was asked of PostgreSQL, e.g. {@code auth.find}. */
    public String operation() {
        return operation;
    }
}
