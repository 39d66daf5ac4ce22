package io.sluice.gateway.auth;

import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.PostgresConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.admin.EndpointsFile;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.postgres.Migrations;
import io.sluice.storage.postgres.PostgresConnections;
import reactor.core.publisher.Mono;

import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;

/**
 * The PostgreSQL the admin commands ({@code keys}, {@code tenants}, {@code dead-letters}) work on.
 *
 * <p>The rule: when no {@code postgres.*} setting is given (not in {@code --config FILE}, not as
 * {@code SLUICE_POSTGRES_*}, not as {@code --postgres.*}) and {@code <dev.data-dir>/endpoints.env} exists, it
 * is the PostgreSQL of that running {@code sluice dev} ({@code PG_URL}); otherwise the configured one.
 * Blocking: for the command line only.
 */
public final class AdminDatabase implements AutoCloseable {

    /** Deadline of each statement a command runs. */
    public static final Duration DEADLINE = Duration.ofSeconds(30);

    private final PostgresConfig postgres;
    private final String where;
    private final ConnectionPool pool;
    private final ApiKeyStore store;

    private AdminDatabase(PostgresConfig postgres, String where) {
        this.postgres = postgres;
        this.where = where;
        this.pool = PostgresConnections.pool(postgres);
        this.store = new ApiKeyStore(pool);
    }

    /** A command's failure, with the one line to print. */
    public static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Chooses the database by the rule above, says on {@code err} when it is dev's, and makes sure the schema
     * is in place.
     *
     * @param explicit the settings given a value (file, environment or command line)
     * @throws Failure when the database cannot be reached or migrated
     */
    public static AdminDatabase open(SluiceConfig config, Set<String> explicit, PrintStream err) {
        PostgresConfig chosen = config.postgres();
        String where = "the postgres.* settings";
        if (explicit.stream().noneMatch(name -> name.startsWith("postgres."))) {
            where = "the default postgres.* settings, as no `sluice dev` runs with " + config.devDataDir()
                    + "/" + EndpointsFile.FILE_NAME;
            Optional<PostgresConfig> dev;
            try {
                dev = EndpointsFile.devPostgres(config.devDataDir(), config.postgres());
            } catch (IOException e) {
                throw new Failure("cannot use the running `sluice dev`: " + e.getMessage());
            }
            if (dev.isPresent()) {
                chosen = dev.get();
                where = config.devDataDir().resolve(EndpointsFile.FILE_NAME) + "; is that `sluice dev` still running?";
                err.println("Using the PostgreSQL of the running `sluice dev` (" + chosen.r2dbcUrl() + ", from "
                        + config.devDataDir().resolve(EndpointsFile.FILE_NAME) + ")");
            }
        }
        try {
            Migrations.apply(chosen);
        } catch (RuntimeException e) {
            throw unreachable(chosen, where, e);
        }
        return new AdminDatabase(chosen, where);
    }

    ApiKeyStore store() {
        return store;
    }

    /** The chosen database's connections, for commands that work on more than keys. */
    public ConnectionPool connections() {
        return pool;
    }

    /** Waits for one statement, at most {@link #DEADLINE}; a database failure becomes a {@link Failure}. */
    public <T> Optional<T> await(Mono<T> statement) {
        try {
            return statement.timeout(DEADLINE).blockOptional();
        } catch (IllegalArgumentException e) {
            throw e; // the caller's mistake, worded for the user
        } catch (RuntimeException e) {
            throw unreachable(postgres, where, e);
        }
    }

    private static Failure unreachable(PostgresConfig postgres, String where, Throwable e) {
        return new Failure("cannot use PostgreSQL at " + postgres.host() + ":" + postgres.port() + "/"
                + postgres.database() + " as " + postgres.user() + " (from " + where + "): " + rootMessage(e)
                + ". Start `bin/sluice dev`, or point postgres.* at your database (--config FILE, SLUICE_POSTGRES_*).");
    }

    /** The innermost cause's first line: what actually went wrong, without a stack trace. */
    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
        int newline = message.indexOf('\n');
        return (newline < 0 ? message : message.substring(0, newline)).strip();
    }

    @Override
    public void close() {
        pool.dispose();
    }
}
