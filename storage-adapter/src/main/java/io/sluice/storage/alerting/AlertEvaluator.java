package io.sluice.storage.alerting;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.sluice.config.AlertingConfig;
import io.sluice.storage.alerting.AlertStateMachine.Element;
import io.sluice.storage.alerting.AlertStore.Claim;
import io.sluice.storage.alerting.AlertStore.Finish;
import io.sluice.storage.alerting.AlertStore.Pending;
import io.sluice.storage.alerting.AlertStore.Stored;
import io.sluice.storage.postgres.GracefulStop;
import io.sluice.storage.promql.PromqlQuery;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.query.QueryException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * Evaluates alert rules on their intervals, shared by any number of alerters through {@code alert_rules} (see
 * {@code V9__alert_rules.sql}): every {@code alerting.poll-interval} it claims up to {@code alerting.claim-batch}
 * due rules no one holds (lease + new fencing token), evaluates each at its slot, and stores the result only if the
 * claim still holds ({@link AlertStore#storeAll}). So each slot of a rule is stored at most once, and an alerter that
 * stalled or died past its lease stores nothing while another takes the rule over.
 *
 * <p><b>Batched stores.</b> Queries run per claim, up to {@code alerting.claim-batch} at once; their outcomes are
 * stored together: an evaluation whose query finished waits at most {@value #STORE_WAIT_MS} ms for others, and up to
 * {@value #STORE_BATCH} of them are stored in one transaction ({@link AlertStore#storeAll}: the same seven or so round
 * trips as a single rule), at most {@value #STORE_CONCURRENCY} transactions at once (each holds one pooled
 * connection). Rule by rule a store took about seven round trips, and PostgreSQL saturated on them (about 170
 * evaluations a second, 10,000 rules every 30 s needing 333); the wait is small against an interval of seconds, and
 * under load batches fill before it passes. A claim counts as free (for claiming again, see {@link #start}) only once
 * its batch is stored, and {@link #close()} waits for the batches under way.
 *
 * <p><b>Slots.</b> A rule's slots are the multiples of its interval since the epoch, shifted by an offset drawn from
 * a hash of its tenant and group (as Prometheus spreads its groups): the rules of one group evaluate at the same
 * instants (and identical expressions there share the query cache), while many groups of one interval spread their
 * load over it instead of all falling due at once. A claimed rule is evaluated at the
 * latest slot not after now (its due slot when on time); slots between its due time and that one were missed
 * (counted in {@code sluice_alert_missed_slots_total}) and are not caught up; its next evaluation is the next slot
 * after the store. Times come from the injected {@link Clock}: alerters need synchronised clocks (NTP), as
 * Prometheus HA pairs do; a skewed alerter claims early or late by its skew.
 *
 * <p><b>Leases.</b> A claim is leased for {@code min(interval, evaluation-timeout + postgres.call-timeout)}, so a
 * killed alerter's rules are claimed by another within one interval (and one poll).
 *
 * <p><b>Failures.</b> A query that fails or passes {@code alerting.evaluation-timeout}, or an answer that cannot be
 * alerted on, leaves the alerts as they are, marks the rule {@code health = error} with {@code last_error}, and
 * schedules its next slot: no retry before it. When PostgreSQL itself is down the rule row cannot be written either;
 * the lease then ends and the rule is claimed again at most once per lease (a batch that could not be stored is
 * logged once, its evaluations each counted as {@code error}). Each evaluation is counted in
 * {@code sluice_alert_evaluations_total{result=ok|error|timeout|fenced}}.
 *
 * <p>Nothing blocks: queries run as the query engine runs them (parallel scheduler), SQL on the driver's event loops.
 */
public final class AlertEvaluator implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AlertEvaluator.class);

    /** {@code last_error} keeps at most this much of a failure's message. */
    private static final int MAX_ERROR_CHARS = 1_000;
    /** Most evaluations stored in one transaction. */
    static final int STORE_BATCH = 64;
    /** Longest an evaluation whose query finished waits for others to be stored with, in milliseconds. */
    static final long STORE_WAIT_MS = 10;
    /** Most batches being stored at once. */
    static final int STORE_CONCURRENCY = 2;

    private final AlertStore store;
    private final AlertingConfig config;
    private final String node;
    private final Function<PromqlQuery, Mono<PromqlResult>> query;
    private final Clock clock;
    private final Duration lease;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicBoolean claimFailing = new java.util.concurrent.atomic.AtomicBoolean();
    private final AtomicReference<Disposable> loop = new AtomicReference<>();
    /** Stopped by {@link #close()}: claims and evaluations under way finish; none starts. */
    private final GracefulStop stop = new GracefulStop();
    private final MeterRegistry registry;
    private final Timer duration;
    private final Timer lag;
    private final Counter claimed;
    private final Counter missed;
    private final SlotOffsets offsets;
    /** Set when a claim took all it asked for: more rules may be due than were claimed. */
    private final java.util.concurrent.atomic.AtomicBoolean moreDue = new java.util.concurrent.atomic.AtomicBoolean();
    /** Claims again before the next poll once half the claim batch is free and {@link #moreDue}. */
    private final Sinks.Many<Long> wake = Sinks.many().multicast().directBestEffort();
    /** Evaluations handed to {@link #toStore} whose batch has not been stored yet. */
    private final Set<Waiting> waiting = ConcurrentHashMap.newKeySet();
    /** Where evaluations wait to be stored in batches (a serialised sink: any thread may hand one in). */
    private final FluxSink<Waiting> toStore;
    /** Gathers {@link #toStore} into batches and stores them; disposed by {@link #close()}. */
    private final Disposable storing;

    /**
     * Where in its interval a rule's slots lie: {@code offsetMs} after the multiples of the interval since the epoch
     * (taken modulo the interval).
     */
    interface SlotOffsets {
        long offsetMs(String tenant, String group, long intervalMs);

        /**
         * Prometheus' way: a group's rules share their instants, and groups are spread over the interval by a hash
         * of (tenant, group), so that 10,000 rules of one interval are not all due at the same millisecond.
         */
        SlotOffsets BY_GROUP = (tenant, group, intervalMs) -> Math.floorMod(AlertStateMachine.mix(
                AlertStateMachine.FNV_OFFSET, (tenant + '\0' + group).getBytes(java.nio.charset.StandardCharsets.UTF_8)),
                intervalMs);

        /** Slots at the multiples of the interval. */
        SlotOffsets NONE = (tenant, group, intervalMs) -> 0;
    }

    /**
     * @param node        this alerter's id ({@code lease_owner})
     * @param query       the PromQL entry point (in a process: the cached, write-invalidated {@code Queries::promql})
     * @param storeWindow {@code postgres.call-timeout}: added to the evaluation timeout for the lease
     */
    public AlertEvaluator(AlertStore store, AlertingConfig config, String node,
                          Function<PromqlQuery, Mono<PromqlResult>> query, Clock clock, Duration storeWindow,
                          MeterRegistry registry) {
        this(store, config, node, query, clock, storeWindow, registry, SlotOffsets.BY_GROUP);
    }

    /** As the public constructor, with the slots' offsets given ({@link SlotOffsets#NONE} in tests of timing). */
    AlertEvaluator(AlertStore store, AlertingConfig config, String node,
                   Function<PromqlQuery, Mono<PromqlResult>> query, Clock clock, Duration storeWindow,
                   MeterRegistry registry, SlotOffsets offsets) {
        this.offsets = offsets;
        this.store = store;
        this.config = config;
        this.node = node;
        this.query = query;
        this.clock = clock;
        this.lease = config.evaluationTimeout().plus(storeWindow);
        this.registry = registry;
        this.duration = Timer.builder("sluice_alert_evaluation_duration")
                .description("Time one rule's evaluation took, query and store included")
                .publishPercentileHistogram().register(registry);
        this.lag = Timer.builder("sluice_alert_evaluation_lag")
                .description("How late a rule's evaluation started after it was due")
                .publishPercentileHistogram().publishPercentiles(0.5, 0.99).register(registry);
        this.claimed = Counter.builder("sluice_alert_rules_claimed")
                .description("Rules this alerter claimed for evaluation").register(registry);
        this.missed = Counter.builder("sluice_alert_missed_slots")
                .description("Evaluation slots skipped because a rule was claimed more than an interval late")
                .register(registry);
        for (String result : List.of("ok", "error", "timeout", "fenced")) {
            evaluations(result);
        }
        AtomicReference<FluxSink<Waiting>> sink = new AtomicReference<>();
        this.storing = Flux.<Waiting>create(sink::set)
                .bufferTimeout(STORE_BATCH, Duration.ofMillis(STORE_WAIT_MS), Schedulers.parallel(), true)
                .flatMap(this::storeBatch, STORE_CONCURRENCY)
                .subscribe(stored -> { }, e -> log.error("The alert evaluator's stores stopped", e));
        this.toStore = sink.get();
    }

    /**
     * Claims and evaluates every {@code alerting.poll-interval} until {@link #close()}; and sooner while rules wait:
     * when a claim took all it asked for, it claims again as soon as half of {@code alerting.claim-batch} is free,
     * so that one alerter gets through more than a claim batch of due rules per poll.
     */
    public AlertEvaluator start() {
        Disposable running = Flux.merge(Flux.interval(Duration.ZERO, config.pollInterval(), Schedulers.parallel()),
                        wake.asFlux())
                .onBackpressureDrop()
                .concatMap(tick -> claim()
                        .doOnNext(claims -> {
                            if (claimFailing.compareAndSet(true, false)) {
                                log.info("Claiming due alert rules works again");
                            }
                        })
                        .onErrorResume(e -> {
                            // once per outage, not once per poll
                            if (claimFailing.compareAndSet(false, true)) {
                                log.warn("Claiming due alert rules failed; trying again every {}: {}",
                                        config.pollInterval(), e.toString());
                            }
                            return Mono.just(List.of());
                        }), 0)
                .flatMapIterable(claims -> claims)
                .flatMap(this::evaluate, config.claimBatch())
                .subscribe(result -> { }, e -> log.error("The alert evaluator stopped", e));
        if (!loop.compareAndSet(null, running)) {
            running.dispose();
            throw new IllegalStateException("already started");
        }
        return this;
    }

    /**
     * One round: claims what is due now (up to the free part of {@code alerting.claim-batch}) and evaluates it;
     * completes with each evaluation's result ({@code ok}, {@code error}, {@code timeout}, {@code fenced}).
     */
    public Mono<List<String>> round() {
        return claim().flatMapMany(Flux::fromIterable).flatMap(this::evaluate).collectList();
    }

    private Mono<List<Claim>> claim() {
        return stop.track(Mono.defer(() -> {
            int free = config.claimBatch() - inFlight.get();
            if (free <= 0) {
                return Mono.just(List.<Claim>of());
            }
            inFlight.addAndGet(free); // reserved until the claim answers, so concurrent rounds do not over-claim
            return store.claim(node, clock.instant(), lease, free)
                    .doOnNext(claims -> {
                        inFlight.addAndGet(claims.size() - free);
                        claimed.increment(claims.size());
                        moreDue.set(claims.size() == free);
                    })
                    .doOnError(e -> inFlight.addAndGet(-free))
                    .doOnCancel(() -> inFlight.addAndGet(-free));
        }));
    }

    /**
     * Evaluates one claimed rule at its slot and stores the outcome with others (see the class comment); never fails
     * (the result says how it ended).
     */
    Mono<String> evaluate(Claim claim) {
        return stop.track(Mono.defer(() -> {
            long began = System.nanoTime();
            Instant start = clock.instant();
            long interval = claim.interval().toMillis();
            long offset = claim.rule() == null ? 0
                    : Math.floorMod(offsets.offsetMs(claim.tenant(), claim.rule().group(), interval), interval);
            long slotMs = Math.floorDiv(start.toEpochMilli() - offset, interval) * interval + offset;
            long firstSlot = -Math.floorDiv(offset - claim.dueAt().toEpochMilli(), interval) * interval + offset;
            if (slotMs > firstSlot) {
                missed.increment((slotMs - firstSlot) / interval);
            }
            lag.record(Math.max(0, start.toEpochMilli() - claim.dueAt().toEpochMilli()), TimeUnit.MILLISECONDS);
            Instant slot = Instant.ofEpochMilli(slotMs);
            Mono<List<Element>> data = claim.rule() == null
                    ? Mono.error(new AlertEvaluationException(claim.unreadable()))
                    : query.apply(PromqlQuery.instant(claim.tenant(),
                            AlertStateMachine.dataExpression(claim.rule()), slotMs))
                    .map(AlertStateMachine::elements)
                    .timeout(config.evaluationTimeout(), Schedulers.parallel());
            return data.map(Attempt::ok)
                    .onErrorResume(e -> Mono.just(Attempt.failed(e, config.evaluationTimeout())))
                    .flatMap(attempt -> {
                        Instant now = clock.instant();
                        Finish finish = new Finish(Instant.ofEpochMilli(
                                (Math.floorDiv(now.toEpochMilli() - offset, interval) + 1) * interval + offset), slot,
                                (int) Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began)),
                                attempt.error(), now);
                        return stored(new Pending(claim, attempt.data() == null ? null
                                        : current -> AlertStateMachine.evaluate(claim.rule(), current, attempt.data(),
                                        slot, config.resolvedRetention(), AlertAnnotations.compile(claim.rule())), finish))
                                .map(stored -> switch (stored) {
                                    case FENCED -> "fenced";
                                    case ERROR -> "error";
                                    case OK -> attempt.result();
                                })
                                .doOnNext(result -> {
                                    if (!result.equals("ok")) {
                                        log.debug("Alert rule {}: {} ({})", claim.ruleId(), result, attempt.error());
                                    }
                                });
                    })
                    .onErrorResume(e -> {
                        // its batch could not be stored: logged once for the batch (storeBatch)
                        log.debug("Alert rule {}: not stored ({})", claim.ruleId(), e.toString());
                        return Mono.just("error");
                    })
                    .doOnNext(result -> {
                        evaluations(result).increment();
                        duration.record(System.nanoTime() - began, TimeUnit.NANOSECONDS);
                    });
        })).transform(this::freesItsClaim);
    }

    /**
     * Frees an evaluation's place in {@code alerting.claim-batch} once it ends: before its result reaches whoever
     * waits for it (so that the round after a {@link #round()} sees every place of it free), or when it is cancelled.
     */
    private Mono<String> freesItsClaim(Mono<String> evaluation) {
        return Mono.defer(() -> {
            java.util.concurrent.atomic.AtomicBoolean freed = new java.util.concurrent.atomic.AtomicBoolean();
            Runnable free = () -> {
                if (freed.compareAndSet(false, true) && inFlight.decrementAndGet() <= config.claimBatch() / 2
                        && moreDue.compareAndSet(true, false)) {
                    wake.tryEmitNext(0L); // dropped when no loop runs (round()) or a claim is under way: the poll follows
                }
            };
            return evaluation.doOnTerminate(free).doOnCancel(free);
        });
    }

    /** Hands an evaluation to the batched stores; completes with what storing it did, or fails with its batch. */
    private Mono<Stored> stored(Pending pending) {
        return Mono.defer(() -> {
            Waiting w = new Waiting(pending);
            waiting.add(w);
            toStore.next(w);
            if (toStore.isCancelled()) { // closed meanwhile: close() may have failed the waiting ones before this one
                w.fail(new CancellationException("not stored: the alert evaluator is closed"));
            }
            return w.result.asMono();
        });
    }

    /** Stores one batch and tells each of its evaluations how; never fails. */
    private Mono<Void> storeBatch(List<Waiting> batch) {
        return store.storeAll(batch.stream().map(w -> w.pending).toList())
                .doOnNext(stored -> {
                    for (int i = 0; i < batch.size(); i++) {
                        batch.get(i).done(stored.get(i));
                    }
                })
                .onErrorResume(e -> {
                    // once a batch, not once a rule: an outage fails every batch
                    log.warn("{} alert evaluations could not be stored (rules {}); their leases end in at most {}",
                            batch.size(), ruleIds(batch), lease, e);
                    batch.forEach(w -> w.fail(e));
                    return Mono.empty();
                })
                // cancelled (close() past its grace): nothing was stored
                .doFinally(signal -> batch.forEach(w -> w.fail(
                        new CancellationException("not stored: the alert evaluator closed"))))
                .then();
    }

    private static String ruleIds(List<Waiting> batch) {
        StringBuilder ids = new StringBuilder();
        for (int i = 0; i < batch.size() && i < 20; i++) {
            ids.append(i == 0 ? "" : ", ").append(batch.get(i).pending.claim().ruleId());
        }
        return batch.size() > 20 ? ids.append(", …").toString() : ids.toString();
    }

    /** An evaluation handed to the batched stores, and what storing it did once its batch is stored. */
    private final class Waiting {
        final Pending pending;
        final Sinks.One<Stored> result = Sinks.one();

        Waiting(Pending pending) {
            this.pending = pending;
        }

        void done(Stored stored) {
            waiting.remove(this);
            result.tryEmitValue(stored);
        }

        /** Fails it, unless it already ended. */
        void fail(Throwable e) {
            waiting.remove(this);
            result.tryEmitError(e);
        }
    }

    private Counter evaluations(String result) {
        return Counter.builder("sluice_alert_evaluations")
                .description("Rule evaluations by result: ok (stored), error (query failed or its answer could not "
                        + "be alerted on; or PostgreSQL down), timeout (alerting.evaluation-timeout or the query's "
                        + "statement timeout), fenced (the claim no longer held: nothing stored)")
                .tag("result", result).register(registry);
    }

    /** A query's outcome: its data, or why there is none. */
    private record Attempt(List<Element> data, String error, String result) {
        static Attempt ok(List<Element> data) {
            return new Attempt(data, null, "ok");
        }

        static Attempt failed(Throwable e, Duration timeout) {
            if (e instanceof TimeoutException) {
                return new Attempt(null, "evaluation timed out after " + timeout.toMillis()
                        + "ms (alerting.evaluation-timeout)", "timeout");
            }
            if (e instanceof QueryException q && q.kind() == QueryException.Kind.TIMEOUT) {
                return new Attempt(null, "query timed out: " + q.getMessage(), "timeout");
            }
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            if (message.length() > MAX_ERROR_CHARS) {
                message = message.substring(0, MAX_ERROR_CHARS) + "…";
            }
            return new Attempt(null, message, "error");
        }
    }

    /**
     * Stops claiming, lets the claims and evaluations under way finish (up to their lease: evaluation timeout plus
     * the store's deadline; see {@link GracefulStop}) and cancels what is left (not stored), then gives up this
     * node's leases so that other alerters claim its rules at their next poll. Blocking: not for event loops.
     */
    @Override
    public void close() {
        if (!stop.stop(lease)) {
            log.warn("Alert evaluations still running after {}; cancelling them (not stored)", lease);
        }
        Disposable running = loop.getAndSet(reactor.core.Disposables.disposed());
        if (running != null) {
            running.dispose();
        }
        storing.dispose();
        for (Waiting w : List.copyOf(waiting)) { // still gathered into a batch: never stored
            w.fail(new CancellationException("not stored: the alert evaluator closed"));
        }
        try {
            store.release(node).block(lease);
        } catch (RuntimeException e) {
            log.warn("Could not give up this alerter's leases; other alerters take its rules over once they end", e);
        }
    }
}
