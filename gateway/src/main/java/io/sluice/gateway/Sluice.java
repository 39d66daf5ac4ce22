package io.sluice.gateway;

import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.health.HealthRoutes;
import io.sluice.gateway.http.BodyAggregator;
import io.sluice.gateway.http.HttpRouter;
import io.sluice.gateway.metrics.GatewayMetrics;
import io.sluice.gateway.server.ConnectionLimit;
import io.sluice.gateway.server.GatewayServer;
import com.github.benmanes.caffeine.cache.Ticker;
import io.github.bucket4j.TimeMeter;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.handler.codec.http.HttpContentDecompressor;
import io.sluice.gateway.auth.ApiGuard;
import io.sluice.gateway.auth.Authenticator;
import io.sluice.gateway.ingest.ActiveSeries;
import io.sluice.gateway.ingest.HttpIngestRoutes;
import io.sluice.gateway.ingest.IngestMetrics;
import io.sluice.gateway.ingest.IngestParser;
import io.sluice.gateway.ingest.IngestPipeline;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.kafka.KafkaClusterCheck;
import io.sluice.storage.kafka.ReactorKafkaSink;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresCheck;
import io.sluice.storage.postgres.PostgresConnections;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One running Sluice process: the gateway's server and everything it shares (metrics, the Postgres
 * pool, the Kafka health check), wired from one {@link SluiceConfig}. Migrations must have been applied.
 */
public final class Sluice implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Sluice.class);

    /** Pipeline handler names, in pipeline order. */
    static final String CONNECTION_LIMIT = "connection-limit";
    static final String IDLE = "idle";
    static final String HTTP_CODEC = "http-codec";
    static final String HTTP_DECOMPRESS = "http-decompress";
    static final String HTTP_BODY = "http-body";
    static final String HTTP_ROUTER = "http-router";

    private final SluiceConfig config;
    private final GatewayMetrics metrics;
    private final ConnectionPool postgres;
    private final KafkaClusterCheck kafkaCheck;
    private final GatewayServer server;
    private ReactorKafkaSink sink;
    private io.sluice.gateway.links.ClickTracker clicks;
    private io.sluice.gateway.links.LinkInvalidation invalidation;
    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();

    private Sluice(SluiceConfig config) {
        this.config = config;
        this.metrics = new GatewayMetrics();
        this.postgres = PostgresConnections.pool(config.postgres());
        this.kafkaCheck = new KafkaClusterCheck(config.kafka());
        this.server = new GatewayServer(config.server());
    }

    /** Starts serving; returns once the port is bound. */
    public static Sluice start(SluiceConfig config) {
        Sluice sluice = new Sluice(config);
        try {
            sluice.serve();
        } catch (RuntimeException e) {
            sluice.close();
            throw e;
        }
        return sluice;
    }

    private void serve() {
        HealthRoutes health = new HealthRoutes(List.of(kafkaCheck, new PostgresCheck(postgres)),
                config.server().healthTimeout(), draining::get);
        Topics topics = Topics.ensure(kafkaCheck.admin(), config.kafka());
        sink = new ReactorKafkaSink(config.kafka());
        TenantRateLimiter limiter = new TenantRateLimiter(config.tenants(), TimeMeter.SYSTEM_NANOTIME,
                metrics.registry());
        ApiGuard guard = new ApiGuard(new Authenticator(new ApiKeyStore(postgres), metrics.registry(),
                Ticker.systemTicker()), limiter);
        HttpIngestRoutes ingest = new HttpIngestRoutes(
                new IngestParser(config.ingest(), System::currentTimeMillis),
                new ActiveSeries(config.ingest().maxActiveSeries(), Ticker.systemTicker()),
                limiter,
                new IngestPipeline(sink, topics, PooledByteBufAllocator.DEFAULT, metrics.registry()),
                new IngestMetrics(metrics.registry()));
        java.time.Clock clock = java.time.Clock.systemUTC();
        io.sluice.storage.query.QueryRepository queries = new io.sluice.storage.query.QueryRepository(postgres,
                config.query().statementTimeout());
        io.sluice.gateway.query.QueryRoutes query = new io.sluice.gateway.query.QueryRoutes(
                new io.sluice.storage.query.QueryEngine(queries, config.query(), config.writer(), clock), queries,
                new io.sluice.gateway.query.QueryCache(config.query().cacheMaxBytes(), config.ingest().lateWindow(),
                        clock, metrics.registry()),
                clock, config.query().maxSeries());
        io.sluice.storage.links.LinkStore linkStore = new io.sluice.storage.links.LinkStore(postgres);
        io.sluice.gateway.links.RedirectCache redirectCache = new io.sluice.gateway.links.RedirectCache(linkStore,
                config.links(), clock, metrics.registry());
        clicks = new io.sluice.gateway.links.ClickTracker(config.links().clickQueue(), sink, topics, metrics.registry());
        invalidation = new io.sluice.gateway.links.LinkInvalidation(config.kafka(), topics, sink, redirectCache,
                metrics.registry());
        io.sluice.gateway.links.LinksApi links = new io.sluice.gateway.links.LinksApi(linkStore,
                new io.sluice.gateway.links.LinkRules(config.links().baseUrl()), invalidation, redirectCache,
                config.links().baseUrl(), clock);
        io.sluice.gateway.links.Redirects redirects = new io.sluice.gateway.links.Redirects(redirectCache, clicks,
                config.links(), TimeMeter.SYSTEM_NANOTIME, metrics.registry());
        HttpRouter router = HttpRouter.builder(metrics.registry())
                .route(HttpMethod.GET, "/health/live", health::live)
                .route(HttpMethod.GET, "/health/ready", health::ready)
                .route(HttpMethod.GET, "/metrics", metrics::scrape)
                .route(HttpMethod.POST, "/api/v1/ingest/metrics", guard.guard(ingest::metrics))
                .route(HttpMethod.POST, "/api/v1/ingest/events", guard.guard(ingest::events))
                .route(HttpMethod.GET, "/api/v1/query", guard.guard(query::query))
                .route(HttpMethod.GET, "/api/v1/series", guard.guard(query::series))
                .route(HttpMethod.GET, "/api/v1/labels", guard.guard(query::labels))
                .prefix(HttpMethod.GET, "/api/v1/labels/", "/api/v1/labels/{name}/values", guard.guard(query::labelValues))
                .route(HttpMethod.POST, "/api/v1/links", guard.guard(links::create))
                .route(HttpMethod.GET, "/api/v1/links", guard.guard(links::list))
                .prefix(HttpMethod.GET, "/api/v1/links/", "/api/v1/links/{code}", guard.guard(links::one))
                .prefix(HttpMethod.PATCH, "/api/v1/links/", "/api/v1/links/{code}", guard.guard(links::one))
                .prefix(HttpMethod.DELETE, "/api/v1/links/", "/api/v1/links/{code}", guard.guard(links::one))
                .fallbackGet("/{code}", redirects::redirect)
                .build();
        ConnectionLimit connectionLimit = new ConnectionLimit(config.server().maxConnections(), metrics.registry());
        HttpDecoderConfig decoderConfig = new HttpDecoderConfig()
                .setMaxInitialLineLength(8192)
                .setMaxHeaderSize(config.server().maxHeaderBytes())
                .setValidateHeaders(true);
        int maxBody = config.server().maxBodyBytes();
        long idleSeconds = config.server().idleTimeout().toSeconds();
        server.start((SocketChannel ch) -> ch.pipeline()
                .addLast(CONNECTION_LIMIT, connectionLimit)
                .addLast(IDLE, new IdleStateHandler(0, 0, idleSeconds, TimeUnit.SECONDS) {
                    @Override
                    protected void channelIdle(io.netty.channel.ChannelHandlerContext ctx, IdleStateEvent evt) {
                        ctx.close();
                    }
                })
                .addLast(HTTP_CODEC, new HttpServerCodec(decoderConfig))
                .addLast(HTTP_DECOMPRESS, new HttpContentDecompressor(0))
                .addLast(HTTP_BODY, new BodyAggregator(maxBody, router.rejected("body_too_large")))
                .addLast(HTTP_ROUTER, router));
        metrics.bindEventLoops(server.workers());
    }

    /** The port the gateway listens on. */
    public int port() {
        return server.port();
    }

    public SluiceConfig config() {
        return config;
    }

    public io.micrometer.core.instrument.MeterRegistry meterRegistry() {
        return metrics.registry();
    }

    /**
     * Graceful shutdown: readiness turns 503, the socket stops accepting, in-flight requests finish
     * within {@code server.shutdown-grace}, then shared clients close. Safe to call more than once.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        long began = System.nanoTime();
        draining.set(true);
        server.close();
        if (invalidation != null) {
            invalidation.close();
        }
        if (clicks != null) {
            clicks.close();
        }
        if (sink != null) {
            sink.close();
        }
        kafkaCheck.close();
        postgres.disposeLater().block(Duration.ofSeconds(10));
        metrics.close();
        log.info("Sluice stopped in {} ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
    }
}
