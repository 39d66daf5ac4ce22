package io.sluice.embedded;

import io.sluice.config.PostgresConfig;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A real PostgreSQL server from the registry's embedded binaries, for {@code sluice dev} and the tests.
 *
 * <p>The cluster lives in {@code data/} under the given directory and is reused across starts; the
 * server log is {@code postgres.log} there. A postmaster left running by an earlier run that was killed
 * is ended first, so its port and lock files never block the next start. The database {@value #DATABASE}
 * is created on first start; the user is the superuser {@value #USER} with no password (loopback only).
 */
public final class EmbeddedPostgresServer implements AutoCloseable {

    public static final String DATABASE = "sluice";
    public static final String USER = "postgres";

    private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgresServer.class);

    private final Path dir;
    private final Duration startTimeout;
    private final boolean durable;
    private int port;
    private EmbeddedPostgres server;
    private Thread shutdownHook;

    /**
     * @param dir          the server's directory (created if missing)
     * @param startTimeout how long {@link #start()} waits for the server
     * @param durable      {@code false} turns fsync off, for fast tests; dev mode keeps it on
     */
    public EmbeddedPostgresServer(Path dir, Duration startTimeout, boolean durable) {
        this.dir = dir.toAbsolutePath();
        this.startTimeout = startTimeout;
        this.durable = durable;
    }

    /** Starts the server (same port across restarts) and returns once it accepts connections. */
    public synchronized EmbeddedPostgresServer start() {
        if (server != null) {
            return this;
        }
        long began = System.nanoTime();
        Path data = dir.resolve("data");
        try {
            Files.createDirectories(dir);
            StaleProcesses.endIfAlive(data.resolve("postmaster.pid"), "postgres", Duration.ofSeconds(20));
            choosePort();
            Path logFile = dir.resolve("postgres.log");
            EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                    .setDataDirectory(data)
                    .setCleanDataDirectory(false)
                    .setPort(port)
                    .setRegisterShutdownHook(false)
                    .setPGStartupWait(startTimeout)
                    .setOutputRedirector(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .setErrorRedirector(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .setServerConfig("max_connections", "300")
                    .setServerConfig("shared_buffers", "128MB")
                    .setServerConfig("max_wal_size", "2GB")
                    .setServerConfig("timezone", "UTC");
            if (!durable) {
                builder.setServerConfig("fsync", "off")
                        .setServerConfig("synchronous_commit", "off")
                        .setServerConfig("full_page_writes", "off");
            }
            server = builder.start();
            createDatabase();
        } catch (IOException e) {
            throw new UncheckedIOException("embedded PostgreSQL could not start in " + dir
                    + "; see " + dir.resolve("postgres.log"), e);
        }
        if (shutdownHook == null) {
            shutdownHook = new Thread(this::stopQuietly, "embedded-postgres-stop");
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        }
        log.info("Embedded PostgreSQL ready at 127.0.0.1:{} in {} ms (data: {})", port,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began), data);
        return this;
    }

    public int port() {
        if (port == 0) {
            throw new IllegalStateException("embedded PostgreSQL has not been started");
        }
        return port;
    }

    public synchronized boolean isRunning() {
        return server != null;
    }

    /** The given settings pointed at this server. */
    public PostgresConfig configure(PostgresConfig base) {
        return base.withServer("127.0.0.1", port(), DATABASE, USER, "");
    }

    /** {@code postgresql://postgres@127.0.0.1:port/sluice}, what {@code psql} takes. */
    public String url() {
        return "postgresql://" + USER + "@127.0.0.1:" + port() + "/" + DATABASE;
    }

    /** Stops the server cleanly (pg_ctl stop, fast mode). */
    public synchronized void stop() {
        if (server == null) {
            return;
        }
        java.util.Optional<ProcessHandle> postmaster = postmaster();
        try {
            server.close();
        } catch (IOException e) {
            throw new UncheckedIOException("embedded PostgreSQL did not stop cleanly", e);
        } finally {
            server = null;
        }
        // pg_ctl returns once the pid file is gone; wait for the process itself, so the port is free.
        postmaster.ifPresent(p -> {
            if (!StaleProcesses.awaitExit(p, Duration.ofSeconds(20))) {
                p.destroyForcibly();
                StaleProcesses.awaitExit(p, Duration.ofSeconds(10));
            }
        });
    }

    @Override
    public void close() {
        stop();
        if (shutdownHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException alreadyShuttingDown) {
                // the hook is running or has run
            }
            shutdownHook = null;
        }
    }

    private void stopQuietly() {
        try {
            stop();
        } catch (RuntimeException e) {
            log.warn("Stopping embedded PostgreSQL failed", e);
        }
    }

    /** The running postmaster (its backends are its children), from {@code postmaster.pid}; empty when not running. */
    public java.util.Optional<ProcessHandle> postmaster() {
        try {
            java.util.List<String> lines = Files.readAllLines(dir.resolve("data").resolve("postmaster.pid"));
            return lines.isEmpty() ? java.util.Optional.empty() : ProcessHandle.of(Long.parseLong(lines.get(0).strip()));
        } catch (IOException | NumberFormatException e) {
            return java.util.Optional.empty();
        }
    }

    private void choosePort() throws IOException {
        Path portFile = dir.resolve("port");
        if (port == 0 && Files.isRegularFile(portFile)) {
            port = Integer.parseInt(Files.readString(portFile).strip());
        }
        if (port == 0 || !FreePorts.claim(port, dir)) {
            port = FreePorts.pick(dir);
        }
        Files.writeString(portFile, Integer.toString(port));
    }

    private void createDatabase() {
        try (Connection c = server.getPostgresDatabase().getConnection();
             Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + DATABASE + "'")) {
                if (rs.next()) {
                    return;
                }
            }
            st.execute("CREATE DATABASE " + DATABASE);
        } catch (SQLException e) {
            throw new IllegalStateException("could not create database " + DATABASE + " in embedded PostgreSQL", e);
        }
    }
}
