package io.sluice.config;

import java.time.Duration;

/** The gateway's listening socket and its limits. */
public record ServerConfig(
        String host,
        int port,
        int ioThreads,
        int maxConnections,
        Duration idleTimeout,
        int maxHeaderBytes,
        int maxBodyBytes,
        Duration shutdownGrace,
        Duration healthTimeout,
        boolean requestLog) {

    /** The same settings listening on another port (tests and dev use 0 or a chosen port). */
    public ServerConfig withPort(int newPort) {
        return new ServerConfig(host, newPort, ioThreads, maxConnections, idleTimeout, maxHeaderBytes,
                maxBodyBytes, shutdownGrace, healthTimeout, requestLog);
    }
}
