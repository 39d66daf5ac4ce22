package io.sluice.gateway.http;

import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.PostgresUnavailableException;
import reactor.core.Exceptions;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The one answer a route gives when a PostgreSQL call it needed failed: 503 {@code unavailable} with
 * {@code Retry-After} ({@link PostgresCalls#RETRY_AFTER}) when PostgreSQL was unreachable, passed the call's
 * deadline or refused for a transient reason (the request was not served; the same request may succeed later),
 * and 500 {@code internal} (logged) for anything else, which is a fault in Sluice. Routes call this for every
 * failed call instead of choosing a status themselves; the deadline itself is {@link PostgresCalls}'.
 */
public final class DependencyErrors {

    private DependencyErrors() {
    }

    /**
     * @param what what failed, the start of the message: "the API key cannot be checked", "links cannot be served"
     */
    public static void respond(HttpExchange exchange, String what, Throwable error) {
        Throwable e = unwrap(error);
        if (PostgresCalls.isUnavailable(e)) {
            exchange.unavailable("unavailable", what + " right now (" + reason(e) + "); retry later",
                    PostgresCalls.RETRY_AFTER);
        } else {
            exchange.internalError(e);
        }
    }

    /**
     * The failure inside a future's wrapper, or the first of the failures Reactor joined into one (calls made at once
     * that passed one deadline together, say: each is the request's answer).
     */
    public static Throwable unwrap(Throwable error) {
        Throwable e = error;
        while (true) {
            if ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
                e = e.getCause();
            } else if (Exceptions.isMultiple(e) && !Exceptions.unwrapMultiple(e).isEmpty()) {
                e = Exceptions.unwrapMultiple(e).get(0);
            } else {
                return e;
            }
        }
    }

    private static String reason(Throwable e) {
        if (e instanceof PostgresUnavailableException u) {
            String message = u.getMessage();
            return message.substring(u.operation().length() + 2);
        }
        return PostgresCalls.isUnreachable(e) ? "PostgreSQL cannot be reached" : "PostgreSQL refused it for now";
    }
}
