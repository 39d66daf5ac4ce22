package io.sluice.gateway.dev;

import io.sluice.config.SluiceConfig;
import io.sluice.gateway.Sluice;
import io.sluice.storage.embedded.EmbeddedInfrastructure;
import io.sluice.storage.postgres.Migrations;
import io.sluice.storage.writer.WriterRole;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code sluice dev}: embedded real Kafka and PostgreSQL under {@code dev.data-dir}, migrations, every
 * role in this process, a banner and {@code endpoints.env}.
 */
public final class DevMode implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DevMode.class);

    private final Path dataDir;
    private final EmbeddedInfrastructure infrastructure;
    private final Sluice sluice;
    private final WriterRole writer;
    private final String devApiKey;

    private DevMode(Path dataDir, EmbeddedInfrastructure infrastructure, Sluice sluice, WriterRole writer,
                    String devApiKey) {
        this.dataDir = dataDir;
        this.infrastructure = infrastructure;
        this.sluice = sluice;
        this.writer = writer;
        this.devApiKey = devApiKey;
    }

    /** The tenant {@code sluice dev} seeds. */
    public static final String DEV_TENANT = "dev";

    public static DevMode start(SluiceConfig base, PrintStream out) {
        Path dataDir = base.devDataDir().toAbsolutePath();
        EmbeddedInfrastructure infrastructure = EmbeddedInfrastructure.start(dataDir, true);
        try {
            SluiceConfig config = infrastructure.configure(base);
            config = config.withSpool(config.spool().withDir(dataDir.resolve("spool")));
            Migrations.apply(config.postgres());
            String key = seedDevKey(config);
            Sluice sluice = Sluice.start(config);
            WriterRole writer;
            try {
                writer = WriterRole.start(config, sluice.meterRegistry());
            } catch (RuntimeException e) {
                sluice.close();
                throw e;
            }
            DevMode dev = new DevMode(dataDir, infrastructure, sluice, writer, key);
            dev.announce(out);
            return dev;
        } catch (RuntimeException e) {
            infrastructure.close();
            throw e;
        }
    }

    /** A fresh key for the dev tenant (enterprise tier); earlier dev keys are revoked. */
    private static String seedDevKey(SluiceConfig config) {
        io.r2dbc.pool.ConnectionPool pool = io.sluice.storage.postgres.PostgresConnections.pool(config.postgres());
        try {
            io.sluice.storage.auth.ApiKeyStore store = new io.sluice.storage.auth.ApiKeyStore(pool);
            store.revokeAll(DEV_TENANT).block(java.time.Duration.ofSeconds(30));
            return io.sluice.gateway.auth.KeysCommand.create(store, DEV_TENANT, io.sluice.config.Tier.ENTERPRISE);
        } finally {
            pool.dispose();
        }
    }

    public String devApiKey() {
        return devApiKey;
    }

    public String httpUrl() {
        return "http://127.0.0.1:" + sluice.port();
    }

    public Sluice sluice() {
        return sluice;
    }

    public EmbeddedInfrastructure infrastructure() {
        return infrastructure;
    }

    private void announce(PrintStream out) {
        EndpointsFile endpoints = new EndpointsFile()
                .put("HTTP_URL", httpUrl())
                .put("KAFKA_BOOTSTRAP", infrastructure.kafka().bootstrapServers())
                .put("PG_URL", infrastructure.postgres().url())
                .put("DEV_API_KEY", devApiKey);
        Path file;
        try {
            file = endpoints.writeTo(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + dataDir.resolve(EndpointsFile.FILE_NAME), e);
        }
        String rule = "-".repeat(72);
        out.println(rule);
        out.println("  Sluice dev is running");
        out.println();
        out.println("  HTTP       " + httpUrl() + "   (try " + httpUrl() + "/health/ready)");
        out.println("  Kafka      " + infrastructure.kafka().bootstrapServers());
        out.println("  Postgres   " + infrastructure.postgres().url());
        out.println("  Metrics    " + httpUrl() + "/metrics");
        out.println("  API key    " + devApiKey + "   (tenant '" + DEV_TENANT + "', enterprise tier)");
        out.println();
        out.println("  Endpoints written to " + file);
        out.println("  Data in " + dataDir + "; Ctrl-C stops everything.");
        out.println(rule);
        out.flush();
    }

    /** Stops the gateway first, then the writer, then the embedded servers, and removes endpoints.env. */
    @Override
    public void close() {
        try {
            sluice.close();
            writer.close();
        } finally {
            infrastructure.close();
            try {
                Files.deleteIfExists(dataDir.resolve(EndpointsFile.FILE_NAME));
            } catch (IOException e) {
                log.debug("could not remove endpoints.env", e);
            }
        }
    }
}
