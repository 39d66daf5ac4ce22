package io.sluice.storage.postgres;

import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * How a background component (the storage writer, the alert evaluator, the notification service) stops without
 * cancelling its database work mid-statement: once {@link #stop} is called no tracked work starts, and the work
 * under way gets a grace period to finish before the component disposes of what is left.
 *
 * <p>Why not simply dispose: a statement cancelled after the driver encoded its bound parameters but before it
 * wrote them keeps those buffers forever (r2dbc-postgresql 1.1.3, pgjdbc/r2dbc-postgresql#734), and a transaction
 * cut off at an arbitrary point is work thrown away. Work still running after the grace period (PostgreSQL down or
 * frozen) is cancelled by its owner; a transaction then rolls back, never half-applied.
 */
public final class GracefulStop {

    private final Set<CompletableFuture<Void>> inFlight = ConcurrentHashMap.newKeySet();
    private volatile boolean stopping;

    /**
     * {@code work}, tracked so that {@link #stop} waits for it; empty (and {@code work} never subscribed) once
     * stopping.
     */
    public <T> Mono<T> track(Mono<T> work) {
        return Mono.defer(() -> {
            CompletableFuture<Void> done = new CompletableFuture<>();
            inFlight.add(done); // before the check, so stop() either sees this work or this work sees stop()
            if (stopping) {
                inFlight.remove(done);
                done.complete(null);
                return Mono.empty();
            }
            return work.doFinally(signal -> {
                inFlight.remove(done);
                done.complete(null);
            });
        });
    }

    /** Whether {@link #stop} has been called. */
    public boolean stopping() {
        return stopping;
    }

    /**
     * Lets no tracked work start from now on and waits up to {@code grace} for the work under way. Blocking: call
     * it from a component's {@code close()}, never from an event loop.
     *
     * @return whether everything under way finished within {@code grace} (if not, the caller cancels the rest)
     */
    public boolean stop(Duration grace) {
        stopping = true;
        try {
            CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new))
                    .get(grace.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            return true; // never: the futures only complete normally
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
