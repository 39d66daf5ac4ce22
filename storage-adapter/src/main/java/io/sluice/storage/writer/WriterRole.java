package io.sluice.storage.writer;

import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.SluiceConfig;
import io.sluice.storage.health.DependencyCheck;
import io.sluice.storage.health.HealthNotice;
import io.sluice.storage.kafka.KafkaClusterCheck;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.PostgresCheck;
import io.sluice.storage.postgres.PostgresConnections;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import reactor.util.retry.Retry;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The {@code writer} role of a process: its own Postgres pool, the topics, partition maintenance and the writer.
 * The writer starts once Kafka's topics are known: at once when Kafka answers at start, later (in the background)
 * when it does not, so that a process whose Kafka is down still starts its other roles.
 */
public final class WriterRole implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(WriterRole.class);

    private final ConnectionPool pool;
    private final PostgresCalls postgresCalls;
    private final KafkaClusterCheck kafka;
    private final Topics topics;
    private static final Duration RESTART_BACKOFF = Duration.ofSeconds(1);

    private AutoCloseable topicsSetup;
    private Disposable retrying;
    private StorageWriter writer;
    private boolean closed;

    private WriterRole(SluiceConfig config, MeterRegistry registry) {
        this.pool = PostgresConnections.pool(config.postgres());
        this.postgresCalls = new PostgresCalls(pool, config.postgres().callTimeout(), registry);
        this.kafka = new KafkaClusterCheck(config.kafka());
        this.topics = Topics.unknown(config.kafka());
    }

    /**
     * Starts writing. When Kafka answers within {@code kafka.admin-timeout}, returns once the writer is assigned
     * and seeking (blocking: call at start-up, off the event loops); otherwise returns then, and the writer
     * starts when Kafka's topics are known.
     */
    public static WriterRole start(SluiceConfig config, MeterRegistry registry) {
        WriterRole role = new WriterRole(config, registry);
        try {
            CompletableFuture<Void> started = role.topics.whenKnown()
                    .thenRun(() -> role.startWriter(config, role.topics, registry));
            synchronized (role) {
                role.topicsSetup = role.topics.ensureInBackground(role.kafka.admin());
            }
            try {
                started.get(config.kafka().adminTimeout().plusSeconds(1).toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                log.warn("Kafka at {} did not answer within kafka.admin-timeout; the storage writer starts once it does",
                        config.kafka().bootstrapString());
                started.whenComplete((ok, error) -> {
                    if (error != null) {
                        role.startAgain(config, registry, error);
                    }
                });
            }
            return role;
        } catch (ExecutionException e) {
            role.close();
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            role.close();
            throw new IllegalStateException("interrupted while starting the storage writer", e);
        } catch (RuntimeException e) {
            role.close();
            throw e;
        }
    }

    /** A start that failed once Kafka answered (PostgreSQL down then, say) is tried again with backoff until close. */
    private synchronized void startAgain(SluiceConfig config, MeterRegistry registry, Throwable first) {
        if (closed) {
            return;
        }
        log.error("The storage writer could not start; trying again until it does", first);
        retrying = Mono.fromRunnable(() -> startWriter(config, topics, registry))
                .subscribeOn(Schedulers.boundedElastic())
                .delaySubscription(RESTART_BACKOFF)
                .retryWhen(Retry.backoff(Long.MAX_VALUE, RESTART_BACKOFF).maxBackoff(Duration.ofSeconds(30))
                        .doBeforeRetry(s -> log.warn("The storage writer could not start ({}); trying again",
                                s.failure().toString())))
                .subscribe(v -> { }, e -> log.error("The storage writer gave up starting", e),
                        () -> log.info("The storage writer started"));
    }

    private synchronized void startWriter(SluiceConfig config, Topics topics, MeterRegistry registry) {
        if (closed) {
            return;
        }
        PartitionMaintenance maintenance = new PartitionMaintenance(pool, config.writer(), Clock.systemUTC());
        writer = StorageWriter.create(config.kafka(), config.writer(), topics, pool, maintenance, registry).start();
    }

    /**
     * What this role needs to do its work, for {@code /health/ready}: Kafka, its topics, PostgreSQL, and the writer
     * itself (it starts once the topics are known).
     */
    public List<DependencyCheck> readiness() {
        DependencyCheck running = new DependencyCheck() {
            @Override
            public String name() {
                return "writer";
            }

            @Override
            public Mono<Void> check() {
                return Mono.defer(() -> isWriting() ? Mono.empty()
                        : Mono.error(new IllegalStateException("waiting for Kafka's topics")));
            }
        };
        return List.of(kafka, topics.check(), new PostgresCheck(postgresCalls), running);
    }

    /** Records the writer set aside (dead letters) wait for an operator: {@code /health/ready} says "degraded". */
    public List<HealthNotice> notices() {
        return List.of(new DeadLetters(pool).notice(count -> postgresCalls.call("health.dead_letters", count)));
    }

    private synchronized boolean isWriting() {
        return writer != null && !closed;
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            if (retrying != null) {
                retrying.dispose();
            }
            if (topicsSetup != null) {
                try {
                    topicsSetup.close();
                } catch (Exception e) {
                    log.warn("Stopping the topic set-up failed", e);
                }
            }
            if (writer != null) {
                writer.close();
            }
        }
        kafka.close();
        pool.disposeLater().block(Duration.ofSeconds(10));
    }
}
