package io.sluice.storage.alerting.notify;

import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.AlertingConfig;
import io.sluice.storage.postgres.GracefulStop;
import io.sluice.storage.postgres.PostgresCalls;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.Disposables;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The notification side of the {@code alerter} role: every {@code alerting.poll-interval} it dispatches (turns the
 * alerts the evaluator keeps in {@code alert_instances} into notifications in {@code alert_outbox}, see
 * {@link Dispatcher}) and delivers (sends what the outbox holds to its receivers, see {@link Delivery}). Any number
 * of alerters may run it over the same tables: groups and outbox rows are claimed, never shared. Non-blocking
 * (Reactor's parallel scheduler, R2DBC, the JDK's asynchronous HTTP client); every PostgreSQL call has a deadline;
 * every time it writes or compares comes from its {@link Clock}.
 */
public final class NotificationService implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NotificationService.class);

    private final AlertingConfig config;
    private final Clock clock;
    private final Dispatcher dispatcher;
    private final Delivery delivery;
    private final NotificationMetrics metrics;
    private final Disposable.Composite running = Disposables.composite();
    private final AtomicInteger inFlight = new AtomicInteger();
    /** Stopped by {@link #close()}: rounds and deliveries under way finish; none starts. */
    private final GracefulStop stop = new GracefulStop();
    /** How long {@link #close()} lets them: a webhook's timeout plus the deadline of the call that records it. */
    private final Duration stopGrace;

    public NotificationService(PostgresCalls calls, AlertingConfig config, String nodeId, Clock clock,
                               MeterRegistry registry) {
        this(calls, config, nodeId, clock, registry, new Random());
    }

    /** With the connection factory's calls bounded by the default {@code postgres.call-timeout}. */
    public NotificationService(ConnectionFactory connections, AlertingConfig config, String nodeId, Clock clock,
                               MeterRegistry registry) {
        this(PostgresCalls.withDefaultDeadline(connections), config, nodeId, clock, registry, new Random());
    }

    /**
     * @param random the retry backoffs' jitter; it is drawn on non-blocking threads, so not a {@code SecureRandom}
     *               (which may read the entropy device)
     */
    public NotificationService(PostgresCalls calls, AlertingConfig config, String nodeId, Clock clock,
                               MeterRegistry registry, Random random) {
        this.config = config;
        this.clock = clock;
        this.stopGrace = config.webhookTimeout().plus(calls.deadline());
        this.metrics = new NotificationMetrics(registry);
        MessageDigest sha256;
        try {
            sha256 = MessageDigest.getInstance("SHA-256"); // here, not on a non-blocking thread: it may read files
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        MessageDigest prototype = sha256;
        this.dispatcher = new Dispatcher(calls, config, metrics, () -> {
            try {
                return (MessageDigest) prototype.clone();
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException(e);
            }
        });
        this.delivery = new Delivery(calls, config, nodeId, clock, random, metrics);
    }

    /** Starts both loops; returns at once. */
    public NotificationService start() {
        running.add(Flux.interval(config.pollInterval(), config.pollInterval(), Schedulers.parallel())
                .onBackpressureDrop()
                .concatMap(tick -> stop.track(Mono.defer(() -> dispatcher.round(now()))).onErrorResume(e -> {
                    log.warn("Dispatching notifications failed this round: {}", e.toString());
                    return Mono.empty();
                }), 0)
                .subscribe());
        running.add(Flux.interval(config.pollInterval(), config.pollInterval(), Schedulers.parallel())
                .onBackpressureDrop()
                .concatMap(tick -> stop.track(Mono.defer(this::deliverDue)).onErrorResume(e -> {
                    log.warn("Claiming notifications to deliver failed this round: {}", e.toString());
                    return Mono.empty();
                }), 0)
                .subscribe());
        return this;
    }

    /**
     * Claims due outbox rows (no more than {@code alerting.claim-batch} in flight) and starts their deliveries, which
     * go on in the background: a slow receiver does not hold up the next round.
     */
    private Mono<Void> deliverDue() {
        int room = config.claimBatch() - inFlight.get();
        if (room <= 0) {
            return Mono.empty();
        }
        return delivery.claim(room).doOnNext(rows -> {
            for (Delivery.Claimed row : rows) {
                inFlight.incrementAndGet();
                Disposable[] self = new Disposable[1];
                self[0] = stop.track(delivery.deliver(row)).doFinally(s -> {
                    inFlight.decrementAndGet();
                    if (self[0] != null) {
                        running.remove(self[0]);
                    }
                }).subscribe();
                running.add(self[0]);
                if (self[0].isDisposed()) {
                    running.remove(self[0]); // finished before it was added
                }
            }
        }).then();
    }

    /** One dispatch round now (tests, and the alerter when it wants notifications sent without waiting). */
    public Mono<Void> dispatchOnce() {
        return stop.track(Mono.defer(() -> dispatcher.round(now())));
    }

    private Instant now() {
        return clock.instant().truncatedTo(ChronoUnit.MICROS);
    }

    /**
     * Stops both loops, letting the rounds and deliveries under way finish (up to {@code alerting.webhook-timeout}
     * plus {@code postgres.call-timeout}, see {@link GracefulStop}), then abandons what is left: an abandoned
     * delivery's row stays leased until the lease ends, then any alerter sends it again (the receiver sees the same
     * {@code Idempotency-Key}). Blocking: not for event loops.
     */
    @Override
    public void close() {
        if (!stop.stop(stopGrace)) {
            log.warn("Notification rounds or deliveries still running after {}; abandoning them", stopGrace);
        }
        running.dispose();
    }
}
