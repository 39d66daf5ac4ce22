package io.sluice.storage.postgres;

import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.r2dbc.spi.R2dbcException;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.R2dbcTransientException;

import java.io.IOException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;

/**
 * Tells a PostgreSQL failure that may pass by itself (the server or the connection is gone, overloaded, shutting
 * down, a serialization failure or deadlock, a timeout) from one that will fail the same way every time it is
 * retried (a data exception such as {@code 22003} numeric overflow, a constraint, anything else with a SQLSTATE
 * outside the transient classes). An error PostgreSQL did not give a SQLSTATE for counts as transient: retrying
 * is always safe, setting data aside is not.
 */
public final class PostgresFailures {

    private PostgresFailures() {
    }

    /** True when retrying the same statement cannot succeed until something is fixed. */
    public static boolean isPermanent(Throwable error) {
        Throwable e = unwrap(error);
        if (e instanceof R2dbcTransientException || e instanceof R2dbcNonTransientResourceException
                || e instanceof TimeoutException || e instanceof IOException || e instanceof CallNotPermittedException) {
            return false;
        }
        String state = sqlState(e);
        if (state == null || state.length() != 5) {
            return false;
        }
        String cls = state.substring(0, 2);
        return switch (cls) {
            // connection, insufficient resources, operator intervention (shutdown, query cancel), system error, internal
            case "08", "53", "57", "58", "XX" -> false;
            // serialization failure, deadlock
            case "40" -> false;
            // lock not available
            case "55" -> !state.equals("55P03");
            default -> true;
        };
    }

    /** The SQLSTATE of a PostgreSQL error, or null when it has none. */
    public static String sqlState(Throwable error) {
        return unwrap(error) instanceof R2dbcException r ? r.getSqlState() : null;
    }

    private static Throwable unwrap(Throwable error) {
        Throwable e = error;
        while (e instanceof CompletionException && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }
}
