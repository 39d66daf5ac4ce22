package io.sluice.gateway.app;

import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMethod;
import io.sluice.config.ServerConfig;
import io.sluice.gateway.edge.EdgePipeline;
import io.sluice.gateway.health.HealthRoutes;
import io.sluice.gateway.http.HttpRouter;
import io.sluice.gateway.http.ShutdownGate;
import io.sluice.gateway.metrics.ProcessMetrics;
import io.sluice.gateway.server.ConnectionLimit;
import io.sluice.gateway.server.GatewayServer;
import io.sluice.storage.health.DependencyCheck;
import io.sluice.storage.health.HealthNotice;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The HTTP listener of a process without the gateway role, on {@code admin.port}: {@code GET /health/live},
 * {@code GET /health/ready} (every role's checks) and {@code GET /metrics}; anything else is 404 in the API's error
 * shape. One event loop, plain HTTP, small limits: it serves probes and scrapes, not users.
 */
final class AdminListener implements AutoCloseable {

    /** Connections at once: a few probes and scrapers. */
    static final int MAX_CONNECTIONS = 64;
    /** Requests to it carry no body. */
    static final int MAX_BODY_BYTES = 1024;

    private final GatewayServer server;
    private final AtomicBoolean draining = new AtomicBoolean();

    private AdminListener(GatewayServer server) {
        this.server = server;
    }

    static AdminListener start(ServerConfig settings, ProcessMetrics metrics, List<DependencyCheck> checks,
                               List<HealthNotice> notices) {
        ServerConfig adminSettings = new ServerConfig(settings.host(), settings.adminPort(), 1, MAX_CONNECTIONS,
                settings.idleTimeout(), settings.maxHeaderBytes(), MAX_BODY_BYTES, settings.earlyRetries(), settings.shutdownGrace(),
                settings.healthTimeout(), settings.requestLog(), settings.adminPort());
        GatewayServer server = new GatewayServer(adminSettings);
        AdminListener listener = new AdminListener(server);
        HealthRoutes health = new HealthRoutes(checks, notices, settings.healthTimeout(), listener.draining::get);
        HttpRouter router = HttpRouter.builder(metrics.registry())
                .route(HttpMethod.GET, "/health/live", health::live)
                .route(HttpMethod.GET, "/health/ready", health::ready)
                .route(HttpMethod.GET, "/metrics", metrics::scrape)
                .build();
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(settings.maxHeaderBytes())
                .setMaxHeaderSize(settings.maxHeaderBytes())
                .setValidateHeaders(true);
        EdgePipeline pipeline = new EdgePipeline(new ConnectionLimit(MAX_CONNECTIONS, metrics.registry()),
                settings.idleTimeout().toSeconds(), null, decoder, MAX_BODY_BYTES, settings.earlyRetries(), router,
                new ShutdownGate(metrics.registry()), null, settings.requestLog());
        server.start(pipeline::initHttpOnly, "admin.port");
        metrics.bindEventLoops(server.workers());
        return listener;
    }

    int port() {
        return server.port();
    }

    /** From now on readiness answers 503 {@code shutting_down}; liveness and metrics still answer. */
    void draining() {
        draining.set(true);
    }

    @Override
    public void close() {
        server.close();
    }
}
