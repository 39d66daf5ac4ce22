package io.sluice.config;

import java.time.Duration;

/** The gateway's listening socket and its limits, and the admin listener of a process without the gateway role. */
public record ServerConfig(
        String host,
        int port,
        int ioThreads,
        int maxConnections,
        Duration idleTimeout,
        int maxHeaderBytes,
        int maxBodyBytes,
        int earlyRetries,
        Duration shutdownGrace,
        Duration healthTimeout,
        boolean requestLog,
        int adminPort) {

    /** The same settings with the admin listener ({@code admin.port}) on another port. */
    public ServerConfig withAdminPort(int newAdminPort) {
        return new ServerConfig(host, port, ioThreads, maxConnections, idleTimeout, maxHeaderBytes,
                maxBodyBytes, earlyRetries, shutdownGrace, healthTimeout, requestLog, newAdminPort);
    }

    /** The same settings listening on another port (tests and dev use 0 or a chosen port). */
    public ServerConfig withPort(int newPort) {
        return new ServerConfig(host, newPort, ioThreads, maxConnections, idleTimeout, maxHeaderBytes,
                maxBodyBytes, earlyRetries, shutdownGrace, healthTimeout, requestLog, adminPort);
    }
}
