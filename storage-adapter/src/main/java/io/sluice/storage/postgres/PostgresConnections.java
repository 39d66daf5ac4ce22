package io.sluice.storage.postgres;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.pool.ConnectionPoolConfiguration;
import io.r2dbc.postgresql.PostgresqlConnectionConfiguration;
import io.r2dbc.postgresql.PostgresqlConnectionFactory;
import io.r2dbc.spi.ValidationDepth;
import io.sluice.config.PostgresConfig;

import java.time.Duration;
import java.util.Map;

/** Creates the R2DBC connection pool every Postgres user in Sluice shares. */
public final class PostgresConnections {

    private PostgresConnections() {
    }

    /**
     * A pool sized by {@code postgres.pool-max-size}, whose sessions PostgreSQL ends when they sit inside a
     * transaction for {@code postgres.idle-in-transaction-timeout}; close it on shutdown.
     */
    public static ConnectionPool pool(PostgresConfig config) {
        PostgresqlConnectionConfiguration.Builder conn = PostgresqlConnectionConfiguration.builder()
                .host(config.host())
                .port(config.port())
                .database(config.database())
                .username(config.user())
                .connectTimeout(config.connectTimeout())
                .applicationName("sluice")
                // a session a cancelled call left inside its transaction gives its locks back (see the setting)
                .options(Map.of("idle_in_transaction_session_timeout",
                        Long.toString(config.idleInTransactionTimeout().toMillis())))
                // Results in PostgreSQL's binary format: a sample chunk (bytea) then arrives as its bytes, not as
                // hex text the driver parses back (a seventh of a 24 h PromQL query's CPU); numbers and times too
                .forceBinary(true)
                .tcpKeepAlive(true);
        if (!config.password().isEmpty()) {
            conn.password(config.password());
        }
        ConnectionPoolConfiguration pool = ConnectionPoolConfiguration.builder(new PostgresqlConnectionFactory(conn.build()))
                .name("sluice")
                .initialSize(Math.min(2, config.poolMaxSize()))
                .maxSize(config.poolMaxSize())
                .maxIdleTime(Duration.ofMinutes(10))
                .maxAcquireTime(config.connectTimeout())
                .maxCreateConnectionTime(config.connectTimeout())
                // No validation query: an acquire checks the connection locally (its socket still open), which a
                // closed or restarted server fails; a "SELECT 1" would cost every call a round trip of its own.
                .validationDepth(ValidationDepth.LOCAL)
                // After a PostgreSQL restart every idle connection is dead; let one acquire cycle through them all.
                .acquireRetry(config.poolMaxSize() + 1)
                .build();
        return new ConnectionPool(pool);
    }
}
