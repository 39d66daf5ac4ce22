package io.sluice.config;

import java.time.Duration;

/** How to reach PostgreSQL. The password is never part of {@link #toString()}. */
public record PostgresConfig(String host, int port, String database, String user, String password,
                             int poolMaxSize, Duration connectTimeout, Duration callTimeout,
                             Duration idleInTransactionTimeout) {

    /** A JDBC URL without credentials, for migrations and for people. */
    public String jdbcUrl() {
        return "jdbc:postgresql://" + host + ":" + port + "/" + database;
    }

    /** An R2DBC URL without the password, safe to print. */
    public String r2dbcUrl() {
        return "r2dbc:postgresql://" + user + "@" + host + ":" + port + "/" + database;
    }

    public PostgresConfig withServer(String newHost, int newPort, String newDatabase, String newUser,
                                     String newPassword) {
        return new PostgresConfig(newHost, newPort, newDatabase, newUser, newPassword, poolMaxSize,
                connectTimeout, callTimeout, idleInTransactionTimeout);
    }

    /** Another database on the same server, with a pool of {@code newPoolMaxSize}. */
    public PostgresConfig withDatabase(String newDatabase, int newPoolMaxSize) {
        return new PostgresConfig(host, port, newDatabase, user, password, newPoolMaxSize, connectTimeout,
                callTimeout, idleInTransactionTimeout);
    }

    @Override
    public String toString() {
        return "PostgresConfig[" + r2dbcUrl() + ", poolMaxSize=" + poolMaxSize + ", connectTimeout="
                + connectTimeout + ", callTimeout=" + callTimeout + ", idleInTransactionTimeout="
                + idleInTransactionTimeout + "]";
    }
}
