package io.sluice.storage.postgres;

import io.sluice.config.PostgresConfig;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.output.MigrateResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the versioned SQL in {@code db/migration} at start-up.
 *
 * <p>Flyway takes a PostgreSQL advisory lock for the run, so several nodes starting together apply
 * each migration once, and records what it applied in {@code sluice_schema_history}. This is blocking
 * JDBC work: call it before the event loops start, or from a worker thread, never from an event loop.
 */
public final class Migrations {

    private static final Logger log = LoggerFactory.getLogger(Migrations.class);

    private Migrations() {
    }

    /**
     * @return the schema version now in place
     * @throws IllegalStateException naming the migration that failed
     */
    public static String apply(PostgresConfig config) {
        return apply(config, "classpath:db/migration");
    }

    /** The same, from another location (tests use it to prove how failures are reported). */
    static String apply(PostgresConfig config, String location) {
        return apply(config, location, null);
    }

    /**
     * The same, up to version {@code target} only (null: the latest); tests use it to build an older schema and
     * fill it before migrating on.
     */
    static String apply(PostgresConfig config, String location, String target) {
        var configuration = Flyway.configure()
                .dataSource(config.jdbcUrl(), config.user(), config.password())
                .locations(location)
                .table("sluice_schema_history")
                .connectRetries(3)
                .failOnMissingLocations(true);
        if (target != null) {
            configuration.target(target);
        }
        Flyway flyway = configuration.load();
        try {
            MigrateResult result = flyway.migrate();
            // what is in place now, not the last migration this node applied: nodes starting together take turns
            // (Flyway locks per migration), so one may apply V3 while another applies the rest
            var current = flyway.info().current();
            String version = current != null ? current.getVersion().getVersion() : "none";
            log.info("Schema at version {} ({} migration(s) applied now)", version, result.migrationsExecuted);
            return version;
        } catch (FlywayException e) {
            throw new IllegalStateException("database migration failed: " + e.getMessage(), e);
        }
    }
}
