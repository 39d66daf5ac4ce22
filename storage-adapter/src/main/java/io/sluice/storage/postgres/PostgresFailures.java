package io.sluice.storage.postgres;

import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.r2dbc.spi.R2dbcException;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.R2dbcTransientException;

import java.io.IOException;
import java.util.concurrent.TimeoutException;

/**
 * The one rule that tells a PostgreSQL failure that may pass by itself from one that will recur. Transient: the
 * server or the connection is gone, overloaded or shutting down, a serialization failure or deadlock, a lock not
 * available, a timeout, a breaker that is open (SQLSTATE classes {@code 08}, {@code 40}, {@code 53}, {@code 57},
 * {@code 58}, {@code XX} and {@code 55P03}). Permanent: PostgreSQL answered with any other SQLSTATE, such as
 * {@code 22003} numeric overflow or a constraint. Requests answer a transient failure with 503 and retry-after
 * ({@link PostgresCalls#isUnavailable}); the storage writer retries it, and sets a record aside only for a
 * permanent one.
 */
public final class PostgresFailures {

    private PostgresFailures() {
    }

    /** True when the same statement may succeed later as it is. */
    public static boolean isTransient(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof R2dbcTransientException || t instanceof R2dbcNonTransientResourceException
                    || t instanceof TimeoutException || t instanceof IOException
                    || t instanceof CallNotPermittedException || t instanceof PostgresUnavailableException) {
                return true;
            }
            if (t instanceof R2dbcException r && r.getSqlState() != null && !r.getSqlState().isEmpty()) {
                return isTransientState(r.getSqlState());
            }
        }
        return false;
    }

    /** True when PostgreSQL answered with a SQLSTATE that will be the same on every retry. */
    public static boolean isPermanent(Throwable error) {
        return sqlState(error) != null && !isTransient(error);
    }

    /** The SQLSTATE PostgreSQL answered with, or null when it gave none. */
    public static String sqlState(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof R2dbcException r && r.getSqlState() != null && !r.getSqlState().isEmpty()) {
                return r.getSqlState();
            }
        }
        return null;
    }

    static boolean isTransientState(String state) {
        if (state.length() != 5) {
            return true;
        }
        return switch (state.substring(0, 2)) {
            case "08", "40", "53", "57", "58", "XX" -> true;
            case "55" -> state.equals("55P03");
            default -> false;
        };
    }
}
