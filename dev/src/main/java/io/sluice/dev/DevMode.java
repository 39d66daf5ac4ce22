package io.sluice.dev;

import io.sluice.config.Role;
import io.sluice.config.SluiceConfig;
import io.sluice.embedded.EmbeddedInfrastructure;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.admin.EndpointsFile;
import io.sluice.gateway.app.SluiceProcess;
import io.sluice.storage.postgres.Migrations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;

/**
 * {@code sluice dev}: embedded real Kafka and PostgreSQL under {@code dev.data-dir}, migrations, every
 * role in this process, a stable API key for the tenant {@value #DEV_TENANT} ({@link DevKey}), a banner and
 * {@code endpoints.env}.
 */
public final class DevMode implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DevMode.class);

    private final Path dataDir;
    private final EmbeddedInfrastructure infrastructure;
    private final SluiceProcess process;
    private final GatewayRole sluice;
    private final DevKey devKey;

    private DevMode(Path dataDir, EmbeddedInfrastructure infrastructure, SluiceProcess process, DevKey devKey) {
        this.dataDir = dataDir;
        this.infrastructure = infrastructure;
        this.process = process;
        this.sluice = process.gateway().orElseThrow();
        this.devKey = devKey;
    }

    /** The tenant {@code sluice dev} seeds. */
    public static final String DEV_TENANT = "dev";

    public static DevMode start(SluiceConfig base, PrintStream out) {
        return start(base, out, false);
    }

    /** @param resetKey revoke the kept dev API key and make a new one ({@code sluice dev --reset-key}) */
    public static DevMode start(SluiceConfig base, PrintStream out, boolean resetKey) {
        Path dataDir = base.devDataDir().toAbsolutePath();
        EmbeddedInfrastructure infrastructure = EmbeddedInfrastructure.start(dataDir, true);
        try {
            SluiceConfig config = infrastructure.configure(base);
            config = config.withSpool(config.spool().withDir(dataDir.resolve("spool")));
            Migrations.apply(config.postgres());
            DevKey key = DevKey.ensure(config.postgres(), dataDir, DEV_TENANT, resetKey);
            SluiceProcess process = SluiceProcess.start(config.withRoles(EnumSet.allOf(Role.class)));
            DevMode dev = new DevMode(dataDir, infrastructure, process, key);
            dev.announce(out);
            return dev;
        } catch (RuntimeException e) {
            infrastructure.close();
            throw e;
        }
    }

    public String devApiKey() {
        return devKey.key();
    }

    public String httpUrl() {
        return "http://127.0.0.1:" + sluice.port();
    }

    public GatewayRole sluice() {
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
                .put("DEV_API_KEY", devKey.key());
        Banner.announce(out, dataDir, endpoints, "Sluice dev is running", List.of(
                "HTTP       " + httpUrl() + "   (try " + httpUrl() + "/health/ready)",
                "Kafka      " + infrastructure.kafka().bootstrapServers(),
                "Postgres   " + infrastructure.postgres().url(),
                "Metrics    " + httpUrl() + "/metrics",
                "API key    " + devKey.key() + "   (tenant '" + DEV_TENANT + "', "
                        + devKey.tier().name().toLowerCase(java.util.Locale.ROOT) + " tier; "
                        + (devKey.reused() ? "kept from the last run" : "new") + ", in " + DevKey.FILE_NAME
                        + "; --reset-key for a new one)"),
                "Data in " + dataDir + "; Ctrl-C stops everything.");
    }

    /** Stops the process (the gateway first, then the writer), then the embedded servers, and removes endpoints.env. */
    @Override
    public void close() {
        try {
            process.close();
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
