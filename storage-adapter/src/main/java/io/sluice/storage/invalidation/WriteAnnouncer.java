package io.sluice.storage.invalidation;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.sluice.storage.kafka.ControlMessage;
import io.sluice.storage.kafka.ControlPublisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The writer's announcements of what it committed, on the control topic ({@link ControlMessage.DataWritten}), for
 * every gateway node to drop the cached answers they change ({@link Invalidations}).
 *
 * <p>Called after a commit, never in its way: {@link #announce} only merges the ranges into what is pending and
 * returns; one message is in flight at a time, and the ranges committed meanwhile go out merged in the next one (so
 * a commit is one message when commits are further apart than a send, fewer otherwise; each bounded as
 * {@link WrittenRanges} describes). A send has a deadline ({@code kafka.request-timeout}); one that fails or passes
 * it is counted, and its ranges stay pending and are sent again, merged with later ones, after {@link #RETRY}
 * (the data is committed already: the announcement is late, never lost while this process runs). Counted in
 * {@code sluice_writer_announcements_total{result="published|failed"}}.
 */
public final class WriteAnnouncer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(WriteAnnouncer.class);
    /** Pause before pending ranges are sent again after a failed send. */
    static final Duration RETRY = Duration.ofSeconds(1);

    private final ControlPublisher publisher;
    private final Duration deadline;
    private final Counter published;
    private final Counter failed;
    private final AtomicInteger routing = new AtomicInteger();
    private WrittenRanges pending = new WrittenRanges();
    private boolean sending;
    /** The send under way (completed when none is). */
    private CompletableFuture<Void> inFlight = CompletableFuture.completedFuture(null);
    private boolean closed;

    public WriteAnnouncer(ControlPublisher publisher, Duration deadline, MeterRegistry registry) {
        this.publisher = publisher;
        this.deadline = deadline;
        this.published = Counter.builder("sluice_writer_announcements").tag("result", "published")
                .description("Announcements of committed writes on the control topic (failed: sent again later)")
                .register(registry);
        this.failed = Counter.builder("sluice_writer_announcements").tag("result", "failed")
                .description("Announcements of committed writes on the control topic (failed: sent again later)")
                .register(registry);
    }

    /** Announces what a commit wrote (soon, merged with other commits if a send is under way). Never throws. */
    public void announce(WrittenRanges written) {
        List<DataChange> changes;
        try {
            changes = written.changes();
        } catch (RuntimeException e) {
            log.error("Could not list a commit's ranges; cached answers on the gateways rely on their TTL", e);
            return;
        }
        if (changes.isEmpty()) {
            return;
        }
        synchronized (this) {
            changes.forEach(pending::add);
        }
        flush();
    }

    private void flush() {
        List<DataChange> changes;
        synchronized (this) {
            if (sending || closed || pending.isEmpty()) {
                return;
            }
            changes = pending.changes();
            pending = new WrittenRanges();
            sending = true;
        }
        CompletableFuture<Void> sent;
        try {
            sent = publisher.publish(new ControlMessage.DataWritten(changes), routing.getAndIncrement());
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Void> bounded = sent.orTimeout(deadline.toMillis(), TimeUnit.MILLISECONDS);
        synchronized (this) {
            inFlight = bounded;
        }
        bounded.whenComplete((ok, error) -> {
            synchronized (this) {
                sending = false;
                if (error != null) {
                    changes.forEach(pending::add);
                }
            }
            if (error == null) {
                published.increment();
                flush();
            } else {
                failed.increment();
                log.warn("Announcing {} committed range(s) on the control topic failed ({}); trying again in {}",
                        changes.size(), error.toString(), RETRY);
                CompletableFuture.delayedExecutor(RETRY.toMillis(), TimeUnit.MILLISECONDS).execute(this::flush);
            }
        });
    }

    /** Whether ranges wait to be announced (for tests and shutdown logs). */
    public synchronized boolean pending() {
        return sending || !pending.isEmpty();
    }

    /**
     * Sends what is pending (waiting for the send under way first, each within the deadline), then stops; what still
     * could not be sent is not announced (the gateways' TTL backstop covers it). Blocking: not for event loops.
     */
    @Override
    public void close() {
        for (int round = 0; round < 2; round++) {
            CompletableFuture<Void> waiting;
            synchronized (this) {
                waiting = inFlight;
            }
            try {
                waiting.get(deadline.toMillis() + 1_000, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                // counted and logged where it completed
            }
            flush();
        }
        synchronized (this) {
            closed = true;
            if (sending || !pending.isEmpty()) {
                log.warn("The storage writer stops with committed ranges not yet announced; gateways drop their "
                        + "cached answers by TTL");
            }
        }
    }
}
