package io.sluice.storage.writer;

import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.SluiceConfig;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresConnections;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
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
    private final Admin admin;
    private AutoCloseable topicsSetup;
    private StorageWriter writer;
    private boolean closed;

    private WriterRole(ConnectionPool pool, Admin admin) {
        this.pool = pool;
        this.admin = admin;
    }

    /**
     * Starts writing. When Kafka answers within {@code kafka.admin-timeout}, returns once the writer is assigned
     * and seeking (blocking: call at start-up, off the event loops); otherwise returns then, and the writer
     * starts when Kafka's topics are known.
     */
    public static WriterRole start(SluiceConfig config, MeterRegistry registry) {
        int adminMs = (int) Math.min(Integer.MAX_VALUE, config.kafka().adminTimeout().toMillis());
        WriterRole role = new WriterRole(PostgresConnections.pool(config.postgres()), Admin.create(Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.kafka().bootstrapString(),
                AdminClientConfig.CLIENT_ID_CONFIG, config.kafka().clientId() + "-writer-admin",
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, adminMs,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, adminMs)));
        try {
            Topics topics = Topics.unknown(config.kafka());
            CompletableFuture<Void> started = topics.whenKnown()
                    .thenRun(() -> role.startWriter(config, topics, registry));
            synchronized (role) {
                role.topicsSetup = topics.ensureInBackground(role.admin);
            }
            try {
                started.get(config.kafka().adminTimeout().plusSeconds(1).toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                log.warn("Kafka at {} did not answer within kafka.admin-timeout; the storage writer starts once it does",
                        config.kafka().bootstrapString());
                started.whenComplete((ok, error) -> {
                    if (error != null) {
                        log.error("The storage writer could not start", error);
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

    private synchronized void startWriter(SluiceConfig config, Topics topics, MeterRegistry registry) {
        if (closed) {
            return;
        }
        PartitionMaintenance maintenance = new PartitionMaintenance(pool, config.writer(), Clock.systemUTC());
        writer = StorageWriter.create(config.kafka(), config.writer(), topics, pool, maintenance, registry).start();
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
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
        admin.close(Duration.ofSeconds(5));
        pool.disposeLater().block(Duration.ofSeconds(10));
    }
}
