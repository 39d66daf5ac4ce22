package io.sluice.storage.testing;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.KafkaConfig;
import io.sluice.config.PostgresConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.embedded.EmbeddedInfrastructure;
import io.sluice.embedded.EmbeddedKafkaBroker;
import io.sluice.embedded.EmbeddedPostgresServer;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.Migrations;
import io.sluice.storage.postgres.PostgresConnections;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The real Kafka broker and PostgreSQL one test JVM shares, with the schema migrated and an R2DBC pool.
 * Tests that stop or kill a server must start it again before they end.
 */
public final class TestInfrastructure implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TestInfrastructure.class);

    private final Path root;
    private final EmbeddedInfrastructure embedded;
    private final SluiceConfig config;
    private final ConnectionPool pool;

    private TestInfrastructure(Path root, EmbeddedInfrastructure embedded) {
        this.root = root;
        this.embedded = embedded;
        this.config = embedded.configure(SluiceConfig.defaults());
        Migrations.apply(this.config.postgres());
        this.pool = PostgresConnections.pool(config.postgres());
    }

    static TestInfrastructure start() {
        try {
            Path root = Files.createTempDirectory("sluice-test-");
            long began = System.nanoTime();
            TestInfrastructure infra = new TestInfrastructure(root, EmbeddedInfrastructure.start(root, false));
            log.info("Real Kafka at {} and PostgreSQL at {} ready for tests in {} ms", infra.bootstrapServers(),
                    infra.postgres().url(), Duration.ofNanos(System.nanoTime() - began).toMillis());
            return infra;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code 127.0.0.1:port} of the broker. */
    public String bootstrapServers() {
        return embedded.kafka().bootstrapServers();
    }

    /** A pooled R2DBC connection factory on the migrated database. */
    public ConnectionFactory connectionFactory() {
        return pool;
    }

    /**
     * A new, migrated database on this PostgreSQL for a test that changes the schema or counts every row (named
     * {@code prefix} plus a random suffix), as settings with a pool of {@code poolMaxSize} connections.
     */
    public PostgresConfig newDatabase(String prefix, int poolMaxSize) {
        String db = prefix + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement("CREATE DATABASE " + db).execute())
                .then(), Connection::close).block(Duration.ofSeconds(60));
        PostgresConfig p = config.postgres();
        PostgresConfig own = p.withDatabase(db, poolMaxSize);
        Migrations.apply(own);
        return own;
    }

    /** Default configuration pointed at these servers, with a spool directory of its own. */
    public SluiceConfig config() {
        return config.withSpool(config.spool().withDir(newDirectory("spool-")));
    }

    /** The given configuration pointed at these servers, with a spool directory of its own. */
    public SluiceConfig configure(SluiceConfig base) {
        SluiceConfig pointed = embedded.configure(base);
        return pointed.withSpool(pointed.spool().withDir(newDirectory("spool-")));
    }

    /** Kafka settings of {@link #config()} with topics of their own, created: {@code partitions} each, named
     * {@code prefix} and a random part. */
    public OwnTopics ownTopics(String prefix, int partitions) {
        KafkaConfig k = config.kafka();
        KafkaConfig kafka = new KafkaConfig(k.bootstrapServers(), k.clientId(), k.requestTimeout(),
                prefix + UUID.randomUUID().toString().substring(0, 8) + ".", partitions, 0);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers()))) {
            return new OwnTopics(kafka, Topics.ensure(admin, kafka));
        }
    }

    /** Runs one SQL statement on the shared database, in a transaction of its own. */
    public void execute(String sql) {
        Mono.usingWhen(connectionFactory().create(),
                (Connection c) -> Flux.from(c.createStatement(sql).execute()).flatMap(r -> r.getRowsUpdated()).then(),
                Connection::close).block(Duration.ofSeconds(60));
    }

    /** Kafka settings naming topics of their own, and those topics. */
    public record OwnTopics(KafkaConfig kafka, Topics topics) {
    }

    public EmbeddedKafkaBroker kafka() {
        return embedded.kafka();
    }

    public EmbeddedPostgresServer postgres() {
        return embedded.postgres();
    }

    /** A directory of its own for one test, under this JVM's test root (deleted at the end). */
    public Path newDirectory(String prefix) {
        try {
            return Files.createTempDirectory(root, prefix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        pool.dispose();
        embedded.close();
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log.warn("could not delete {}", root, e);
        }
        log.info("Real Kafka and PostgreSQL stopped");
    }
}
