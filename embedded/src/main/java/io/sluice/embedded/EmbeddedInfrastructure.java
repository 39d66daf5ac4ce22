package io.sluice.embedded;

import io.sluice.config.SluiceConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * One embedded Kafka broker and one embedded PostgreSQL, started side by side under one directory
 * ({@code kafka/} and {@code postgres/}), as {@code sluice dev} and the test harness use them.
 */
public final class EmbeddedInfrastructure implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedInfrastructure.class);
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    private final EmbeddedKafkaBroker kafka;
    private final EmbeddedPostgresServer postgres;

    private EmbeddedInfrastructure(EmbeddedKafkaBroker kafka, EmbeddedPostgresServer postgres) {
        this.kafka = kafka;
        this.postgres = postgres;
    }

    /**
     * Starts both servers in parallel and returns when both answer.
     *
     * @param root    where their data lives
     * @param durable whether PostgreSQL fsyncs (dev: yes; tests: no, for speed)
     */
    public static EmbeddedInfrastructure start(Path root, boolean durable) {
        EmbeddedKafkaBroker kafka = new EmbeddedKafkaBroker(root.resolve("kafka"), START_TIMEOUT, "512m");
        EmbeddedPostgresServer postgres = new EmbeddedPostgresServer(root.resolve("postgres"), START_TIMEOUT, durable);
        CompletableFuture<?> kafkaUp = CompletableFuture.runAsync(kafka::start, runnable -> start(runnable, "kafka"));
        CompletableFuture<?> postgresUp = CompletableFuture.runAsync(postgres::start,
                runnable -> start(runnable, "postgres"));
        try {
            CompletableFuture.allOf(kafkaUp, postgresUp).join();
        } catch (CompletionException e) {
            kafkaUp.handle((ok, err) -> null).join();
            postgresUp.handle((ok, err) -> null).join();
            kafka.close();
            postgres.close();
            throw e.getCause() instanceof RuntimeException re ? re : e;
        }
        return new EmbeddedInfrastructure(kafka, postgres);
    }

    private static void start(Runnable runnable, String what) {
        Thread thread = new Thread(runnable, "embedded-" + what + "-start");
        thread.start();
    }

    public EmbeddedKafkaBroker kafka() {
        return kafka;
    }

    public EmbeddedPostgresServer postgres() {
        return postgres;
    }

    /** The given configuration pointed at these servers. */
    public SluiceConfig configure(SluiceConfig base) {
        return base.withKafka(base.kafka().withBootstrapServers(kafka.bootstrapServers()))
                .withPostgres(postgres.configure(base.postgres()));
    }

    /** Stops both, in parallel. */
    @Override
    public void close() {
        CompletableFuture<Void> k = CompletableFuture.runAsync(kafka::close, runnable -> start(runnable, "kafka-stop"));
        CompletableFuture<Void> p = CompletableFuture.runAsync(postgres::close,
                runnable -> start(runnable, "postgres-stop"));
        try {
            CompletableFuture.allOf(k, p).join();
        } catch (CompletionException e) {
            log.warn("Stopping the embedded servers failed", e.getCause());
        }
    }
}
