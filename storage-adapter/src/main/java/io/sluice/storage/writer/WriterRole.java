package io.sluice.storage.writer;

import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.SluiceConfig;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresConnections;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;

/** The {@code writer} role of a process: its own Postgres pool, the topics, partition maintenance and the writer. */
public final class WriterRole implements AutoCloseable {

    private final ConnectionPool pool;
    private final StorageWriter writer;

    private WriterRole(ConnectionPool pool, StorageWriter writer) {
        this.pool = pool;
        this.writer = writer;
    }

    /** Starts writing; blocking until the writer is assigned and seeking. Call at start-up, off the event loops. */
    public static WriterRole start(SluiceConfig config, MeterRegistry registry) {
        ConnectionPool pool = PostgresConnections.pool(config.postgres());
        try {
            Topics topics;
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                    config.kafka().bootstrapString(), AdminClientConfig.CLIENT_ID_CONFIG,
                    config.kafka().clientId() + "-writer-admin"))) {
                topics = Topics.ensure(admin, config.kafka());
            }
            PartitionMaintenance maintenance = new PartitionMaintenance(pool, config.writer(), Clock.systemUTC());
            StorageWriter writer = StorageWriter.create(config.kafka(), config.writer(), topics, pool, maintenance,
                    registry).start();
            return new WriterRole(pool, writer);
        } catch (RuntimeException e) {
            pool.dispose();
            throw e;
        }
    }

    @Override
    public void close() {
        writer.close();
        pool.disposeLater().block(Duration.ofSeconds(10));
    }
}
