package io.sluice.gateway;

import io.sluice.gateway.alerting.NotificationsApi;
import io.sluice.gateway.events.EventsApi;
import io.sluice.gateway.http.ShutdownGate;
import io.sluice.gateway.alerting.RulesApi;
import io.sluice.gateway.prometheus.PrometheusRules;
import io.sluice.gateway.links.ClickTracker;
import io.sluice.gateway.links.LinkInvalidation;
import io.sluice.gateway.links.LinkRules;
import io.sluice.gateway.links.LinksApi;
import io.sluice.gateway.links.RedirectCache;
import io.sluice.gateway.links.Redirects;
import io.sluice.gateway.prometheus.PrometheusRoutes;
import io.sluice.gateway.query.QueryInvalidation;
import io.sluice.gateway.query.QueryRoutes;
import io.sluice.storage.invalidation.Invalidations;
import io.sluice.gateway.server.NodeAddresses;
import io.sluice.storage.cluster.ClusterNodes;
import io.sluice.storage.cluster.NodeHeartbeat;
import io.sluice.storage.events.EventStore;
import io.sluice.storage.kafka.ResilientSink;
import io.sluice.storage.alerting.RuleStore;
import io.sluice.storage.alerting.RuleValidator;
import io.sluice.storage.links.LinkStore;
import io.sluice.storage.query.Queries;
import io.sluice.storage.query.QueryRepository;
import io.sluice.storage.spool.Spool;
import io.sluice.storage.writer.DeadLetters;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMethod;
import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.app.RunningRole;
import io.sluice.gateway.health.HealthRoutes;
import io.sluice.gateway.http.HttpRouter;
import io.sluice.gateway.metrics.ProcessMetrics;
import io.sluice.gateway.server.ConnectionLimit;
import io.sluice.gateway.server.GatewayServer;
import com.github.benmanes.caffeine.cache.Ticker;
import io.github.bucket4j.TimeMeter;
import io.netty.buffer.PooledByteBufAllocator;
import io.sluice.gateway.auth.ApiGuard;
import io.sluice.gateway.auth.Authenticator;
import io.sluice.gateway.ingest.ActiveSeries;
import io.sluice.gateway.ingest.Admission;
import io.sluice.gateway.ingest.HttpIngestRoutes;
import io.sluice.gateway.ingest.IngestMetrics;
import io.sluice.gateway.ingest.IngestParser;
import io.sluice.gateway.ingest.IngestPipeline;
import io.sluice.gateway.ingest.InFlightLimit;
import io.sluice.gateway.ingest.LineProtocolParser;
import io.sluice.gateway.ingest.LineProtocolRoutes;
import io.sluice.gateway.ingest.OtlpMetricsDecoder;
import io.sluice.gateway.ingest.OtlpRoutes;
import io.sluice.gateway.ingest.RemoteWriteDecoder;
import io.sluice.gateway.ingest.RemoteWriteRoute;
import io.sluice.gateway.binary.BinarySessions;
import io.sluice.gateway.edge.EdgePipeline;
import io.sluice.gateway.edge.ServerTls;
import io.sluice.config.EdgeConfig;
import io.sluice.storage.kafka.SegmentSink;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.kafka.KafkaClusterCheck;
import io.sluice.storage.kafka.ReactorKafkaSink;
import io.sluice.storage.health.DependencyCheck;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.PostgresCheck;
import io.sluice.storage.postgres.PostgresConnections;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.UnaryOperator;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@code gateway} role: the listener on {@code server.port} (HTTP and binary) with everything it serves — ingest
 * into Kafka, queries, links and redirects, events, health and {@code /metrics} — and the clients it owns (its
 * PostgreSQL pool, its Kafka producer, the Kafka health check, the spool), wired from one {@link SluiceConfig}.
 * Migrations must have been applied. {@link io.sluice.gateway.app.SluiceProcess} starts it next to a process's other
 * roles; tests start it alone.
 */
public final class GatewayRole implements RunningRole {

    private static final Logger log = LoggerFactory.getLogger(GatewayRole.class);

    private final SluiceConfig config;
    private final ProcessMetrics metrics;
    private final boolean ownsMetrics;
    private List<DependencyCheck> readiness = List.of();
    private final ConnectionPool postgres;
    private final KafkaClusterCheck kafkaCheck;
    private final GatewayServer server;
    private final UnaryOperator<SegmentSink> sinkDecorator;
    private final Ticker authTicker;
    private AutoCloseable topicsSetup;
    private ReactorKafkaSink sink;
    private ResilientSink durable;
    private ClickTracker clicks;
    private LinkInvalidation invalidation;
    private QueryInvalidation queryInvalidation;
    private PrometheusRoutes prometheus;
    private BinarySessions binarySessions;
    private ShutdownGate httpGate;
    private NodeHeartbeat heartbeat;
    private int binaryPort = EdgeConfig.NO_PORT;
    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();

    private GatewayRole(SluiceConfig config, ProcessMetrics metrics, boolean ownsMetrics,
                        UnaryOperator<SegmentSink> sinkDecorator, Ticker authTicker) {
        this.config = config;
        this.sinkDecorator = sinkDecorator;
        this.authTicker = authTicker;
        this.metrics = metrics;
        this.ownsMetrics = ownsMetrics;
        this.postgres = PostgresConnections.pool(config.postgres());
        this.kafkaCheck = new KafkaClusterCheck(config.kafka());
        this.server = new GatewayServer(config.server());
    }

    /** Starts serving, with a metrics registry of its own; returns once the port is bound. */
    public static GatewayRole start(SluiceConfig config) {
        return start(config, UnaryOperator.identity());
    }

    /**
     * Starts serving with the process's registry (its {@code /metrics} shows every role's meters); returns once the
     * port is bound. {@link #close()} leaves the registry open: the process closes it.
     */
    public static GatewayRole start(SluiceConfig config, ProcessMetrics processMetrics) {
        return start(config, processMetrics, false, UnaryOperator.identity(), Ticker.systemTicker());
    }

    /** Test seam: as {@link #start(SluiceConfig)} with the Kafka sink wrapped by {@code sinkDecorator}. */
    static GatewayRole start(SluiceConfig config, UnaryOperator<SegmentSink> sinkDecorator) {
        return start(config, sinkDecorator, Ticker.systemTicker());
    }

    /** Test seam: as {@link #start(SluiceConfig, UnaryOperator)} with the API key caches on {@code authTicker}. */
    static GatewayRole start(SluiceConfig config, UnaryOperator<SegmentSink> sinkDecorator, Ticker authTicker) {
        return start(config, new ProcessMetrics(), true, sinkDecorator, authTicker);
    }

    private static GatewayRole start(SluiceConfig config, ProcessMetrics metrics, boolean ownsMetrics,
                                     UnaryOperator<SegmentSink> sinkDecorator, Ticker authTicker) {
        // BATCH frames are LZ4-decompressed and segments to Kafka compressed on the event loops: the native codec is
        // about 1.5x the Java one end to end (JMH encodeBatch) and decompresses 7x as fast; loading it may write a
        // file, so here, before any event loop runs
        if (io.sluice.protocol.codec.Lz4Blocks.useNative()) {
            log.info("LZ4: blocks are compressed and decompressed by the native lz4-java library");
        } else {
            log.info("LZ4: no native lz4-java library for this platform; blocks are compressed and decompressed in Java");
        }
        GatewayRole sluice;
        try {
            sluice = new GatewayRole(config, metrics, ownsMetrics, sinkDecorator, authTicker);
        } catch (RuntimeException e) {
            if (ownsMetrics) {
                metrics.close();
            }
            throw e;
        }
        try {
            sluice.serve();
        } catch (RuntimeException e) {
            sluice.close();
            throw e;
        }
        return sluice;
    }

    private void serve() {
        // every PostgreSQL call made while serving has the postgres.call-timeout deadline (queries their own)
        PostgresCalls postgresCalls = new PostgresCalls(postgres, config.postgres().callTimeout(), metrics.registry());
        // Kafka need not answer for the gateway to start: the topics are described in the background, and until
        // then ingest is acknowledged from the spool (ResilientSink), clicks wait and readiness names Kafka.
        Topics topics = Topics.unknown(config.kafka());
        topicsSetup = topics.ensureInBackground(kafkaCheck.admin());
        awaitTopics(topics);
        readiness = List.of(kafkaCheck, topics.check(), new PostgresCheck(postgresCalls));
        HealthRoutes health = new HealthRoutes(readiness,
                List.of(new DeadLetters(postgresCalls.connections())
                        .notice(count -> postgresCalls.call("health.dead_letters", count))),
                config.server().healthTimeout(), draining::get);
        sink = new ReactorKafkaSink(config.kafka());
        Spool spool;
        try {
            spool = Spool.open(config.spool());
        } catch (java.io.IOException e) {
            throw new IllegalStateException("spool.dir: " + config.spool().dir().toAbsolutePath()
                    + " cannot be used (" + e.getMessage() + ")", e);
        }
        durable = new ResilientSink(sinkDecorator.apply(sink), topics, spool,
                config.spool().kafkaSendTimeout(), sink::connected, metrics.registry())
                .start();
        // tiers are cluster-wide: each gateway enforces its share, tier / live gateways (cluster_nodes heartbeat)
        heartbeat = new NodeHeartbeat(new ClusterNodes(postgresCalls),
                NodeHeartbeat.nodeId(config.cluster()), config.roles(), config.cluster(),
                config.postgres().callTimeout(), metrics.registry()).start();
        TenantRateLimiter limiter = new TenantRateLimiter(config.tenants(), TimeMeter.SYSTEM_NANOTIME,
                heartbeat::liveGateways, metrics.registry());
        Authenticator authenticator = new Authenticator(new ApiKeyStore(postgresCalls), config.auth(),
                postgresCalls::unreachable, metrics.registry(), authTicker);
        ApiGuard guard = new ApiGuard(authenticator, limiter);
        ActiveSeries activeSeries = new ActiveSeries(config.ingest().maxActiveSeries(), Ticker.systemTicker());
        IngestPipeline pipeline = new IngestPipeline(durable, topics, PooledByteBufAllocator.DEFAULT,
                metrics.registry());
        IngestMetrics ingestMetrics = new IngestMetrics(metrics.registry(), config.ingest().maxMeteredTenants());
        InFlightLimit inFlight = new InFlightLimit(config.ingest().maxInFlightItems(),
                config.ingest().maxInFlightBytes(), metrics.registry());
        Admission admission = new Admission(config.ingest(), activeSeries, inFlight, limiter, ingestMetrics,
                System::currentTimeMillis);
        IngestParser jsonParser = new IngestParser(config.ingest(), admission);
        jsonParser.register(metrics.registry());
        HttpIngestRoutes ingest = new HttpIngestRoutes(jsonParser, admission, pipeline);
        LineProtocolParser lineProtocolParser = new LineProtocolParser(config.ingest(), admission);
        lineProtocolParser.register(metrics.registry());
        LineProtocolRoutes lineProtocol = new LineProtocolRoutes(lineProtocolParser, ingest, admission);
        OtlpRoutes otlp = new OtlpRoutes(new OtlpMetricsDecoder(config.ingest(), admission), ingest, admission);
        RemoteWriteDecoder remoteWriteDecoder = new RemoteWriteDecoder(config.ingest(), config.server().maxBodyBytes(),
                admission);
        remoteWriteDecoder.register(metrics.registry());
        RemoteWriteRoute remoteWrite = new RemoteWriteRoute(remoteWriteDecoder, admission, ingest);
        binarySessions = new BinarySessions(config.edge(), config.ingest(), config.server().idleTimeout(), authenticator, admission,
                pipeline, ingestMetrics, inFlight, metrics.registry());
        java.time.Clock clock = java.time.Clock.systemUTC();
        // one invalidation index for every cache of query answers on this node, fed by the writers' announcements
        Invalidations queryInvalidations = new Invalidations(metrics.registry());
        queryInvalidation = new QueryInvalidation(config.kafka(), topics, queryInvalidations, metrics.registry());
        Queries queries = new Queries(
                new QueryRepository(postgresCalls, config.query().statementTimeout()),
                config.query(), config.writer(), queryInvalidations, clock, metrics.registry());
        QueryRoutes query = new QueryRoutes(queries, clock);
        prometheus = new PrometheusRoutes(queries, clock, config.query().renderedCacheBytes());
        LinkStore linkStore = new LinkStore(postgresCalls);
        RedirectCache redirectCache = new RedirectCache(linkStore,
                config.links(), clock, metrics.registry());
        clicks = new ClickTracker(config.links().clickQueue(), config.links().clickFlushInterval(), sink, topics,
                metrics.registry());
        invalidation = new LinkInvalidation(config.kafka(), topics, sink, redirectCache,
                metrics.registry());
        NodeAddresses self = NodeAddresses.of(config.server().host(),
                config.links().baseUrl());
        LinksApi links = new LinksApi(linkStore,
                new LinkRules(self), invalidation, redirectCache, self::baseUrl, clock);
        Redirects redirects = new Redirects(redirectCache, clicks,
                config.links(), TimeMeter.SYSTEM_NANOTIME, metrics.registry());
        EventsApi events = new EventsApi(
                new EventStore(postgresCalls));
        RuleStore ruleStore = new RuleStore(postgresCalls, config.alerting().maxRulesPerTenant(),
                config.alerting().limits().maxListedAlerts());
        RulesApi rules = new RulesApi(ruleStore, new RuleValidator(config.alerting()), metrics.registry());
        PrometheusRules prometheusRules = new PrometheusRules(ruleStore);
        HttpRouter.Builder routes = PrometheusRoutes.register(HttpRouter.builder(metrics.registry()), guard, prometheus)
                .route(HttpMethod.GET, "/health/live", health::live)
                .route(HttpMethod.GET, "/health/ready", health::ready)
                .route(HttpMethod.GET, "/metrics", metrics::scrape)
                .route(HttpMethod.POST, "/api/v1/ingest/metrics", guard.guard(ingest::metrics))
                .route(HttpMethod.POST, "/api/v1/ingest/events", guard.guard(ingest::events))
                .route(HttpMethod.POST, "/write", guard.guardAcceptingQueryKey(lineProtocol::v1))
                .route(HttpMethod.POST, "/api/v2/write", guard.guard(lineProtocol::v2))
                .route(HttpMethod.POST, "/v1/metrics", guard.guard(otlp::metrics))
                .route(HttpMethod.POST, RemoteWriteRoute.PATH, guard.guard(remoteWrite::write))
                .route(HttpMethod.GET, "/api/v1/events", guard.guard(events::list))
                .route(HttpMethod.GET, "/api/v1/query", guard.guard(query::query))
                .route(HttpMethod.GET, "/api/v1/series", guard.guard(query::series))
                .route(HttpMethod.GET, "/api/v1/labels", guard.guard(query::labels))
                .prefix(HttpMethod.GET, "/api/v1/labels/", "/api/v1/labels/{name}/values", guard.guard(query::labelValues))
                .route(HttpMethod.POST, "/api/v1/links", guard.guard(links::create))
                .route(HttpMethod.GET, "/api/v1/links", guard.guard(links::list))
                .prefix(HttpMethod.GET, "/api/v1/links/", "/api/v1/links/{code}", guard.guard(links::one))
                .prefix(HttpMethod.PATCH, "/api/v1/links/", "/api/v1/links/{code}", guard.guard(links::one))
                .prefix(HttpMethod.DELETE, "/api/v1/links/", "/api/v1/links/{code}", guard.guard(links::one))
                .route(HttpMethod.GET, PrometheusRoutes.PREFIX + "/api/v1/rules", guard.guard(prometheusRules::rules))
                .route(HttpMethod.POST, "/api/v1/alerts/rules", guard.guard(rules::create))
                .route(HttpMethod.GET, "/api/v1/alerts/rules", guard.guard(rules::list))
                .route(HttpMethod.POST, "/api/v1/alerts/rules/import", guard.guard(rules::importFile))
                .prefix(HttpMethod.GET, "/api/v1/alerts/rules/", "/api/v1/alerts/rules/{id}", guard.guard(rules::one))
                .prefix(HttpMethod.PUT, "/api/v1/alerts/rules/", "/api/v1/alerts/rules/{id}", guard.guard(rules::one))
                .prefix(HttpMethod.DELETE, "/api/v1/alerts/rules/", "/api/v1/alerts/rules/{id}",
                        guard.guard(rules::one));
        HttpRouter router = NotificationsApi.register(routes, guard, postgresCalls, config.alerting(), clock, metrics.registry())
                .fallbackGet("/{code}", redirects::redirect)
                .build();
        ConnectionLimit connectionLimit = new ConnectionLimit(config.server().maxConnections(), metrics.registry());
        HttpDecoderConfig decoderConfig = new HttpDecoderConfig()
                .setMaxInitialLineLength(config.server().maxHeaderBytes())
                .setMaxHeaderSize(config.server().maxHeaderBytes())
                .setValidateHeaders(true);
        httpGate = new ShutdownGate(metrics.registry());
        EdgePipeline edge = new EdgePipeline(connectionLimit, config.server().idleTimeout().toSeconds(),
                ServerTls.load(config.edge()), decoderConfig, config.server().maxBodyBytes(),
                config.server().earlyRetries(), router, httpGate,
                binarySessions, config.server().requestLog());
        server.start(edge::initUnified);
        if (config.edge().binaryPort() != EdgeConfig.NO_PORT) {
            binaryPort = server.listen(config.edge().binaryPort(), "server.binary-port", edge::initBinaryOnly);
        }
        self.listening(server.port(), binaryPort);
        metrics.bindEventLoops(server.workers());
    }

    /**
     * Gives Kafka one {@code kafka.admin-timeout} to answer before serving, so that a gateway whose Kafka is up
     * sends its first batches there rather than to the spool; a Kafka that does not answer delays start by no more.
     */
    private void awaitTopics(Topics topics) {
        Duration wait = config.kafka().adminTimeout().plusSeconds(1);
        try {
            topics.whenKnown().get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            log.warn("Kafka at {} did not answer within kafka.admin-timeout; serving anyway: ingest is acknowledged "
                    + "from the spool until it does", config.kafka().bootstrapString());
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for Kafka", e);
        }
    }

    /** The port the gateway listens on (HTTP and binary). */
    public int port() {
        return server.port();
    }

    /** The binary-only port, or {@link EdgeConfig#NO_PORT} when {@code server.binary-port} is -1. */
    public int binaryPort() {
        return binaryPort;
    }

    public SluiceConfig config() {
        return config;
    }

    @Override
    public String name() {
        return "gateway";
    }

    @Override
    public List<DependencyCheck> readiness() {
        return readiness;
    }

    public io.micrometer.core.instrument.MeterRegistry meterRegistry() {
        return metrics.registry();
    }

    /**
     * Graceful shutdown. The listener stays open while in-flight work drains, for at most
     * {@code server.shutdown-grace}: readiness answers 503 {@code shutting_down}, other HTTP routes answer new
     * requests 503 {@code shutting_down} with {@code Retry-After}, binary sessions get GOAWAY and close once their
     * in-flight batches are answered, and requests admitted before finish. Then the sockets close, then the
     * shared clients. Safe to call more than once.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        long began = System.nanoTime();
        draining.set(true);
        CompletableFuture<Void> httpDrained = httpGate == null ? CompletableFuture.completedFuture(null)
                : httpGate.close();
        CompletableFuture<Void> binaryClosed = binarySessions == null ? CompletableFuture.completedFuture(null)
                : binarySessions.goAway();
        try {
            CompletableFuture.allOf(httpDrained, binaryClosed)
                    .get(config.server().shutdownGrace().toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            log.warn("Still in flight after server.shutdown-grace ({}): {} HTTP request(s){}; closing anyway",
                    config.server().shutdownGrace(), httpGate == null ? 0 : httpGate.unanswered(),
                    binaryClosed.isDone() ? "" : " and binary sessions");
        } catch (ExecutionException e) {
            log.warn("In-flight work did not drain cleanly", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        server.close();
        if (prometheus != null) {
            prometheus.close(); // the answers kept rendered, in direct memory
        }
        if (heartbeat != null) {
            heartbeat.close(); // the other gateways take this one's quota share back at their next heartbeat
        }
        if (topicsSetup != null) {
            try {
                topicsSetup.close();
            } catch (Exception e) {
                log.warn("Stopping the topic set-up failed", e);
            }
        }
        if (durable != null) {
            durable.close(); // every accepted batch is acknowledged by now: in Kafka or in the spool
        }
        if (invalidation != null) {
            invalidation.close();
        }
        if (queryInvalidation != null) {
            queryInvalidation.close();
        }
        if (clicks != null) {
            clicks.close();
        }
        if (sink != null) {
            sink.close();
        }
        kafkaCheck.close();
        postgres.disposeLater().block(Duration.ofSeconds(10));
        if (ownsMetrics) {
            metrics.close();
        }
        log.info("Sluice stopped in {} ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
    }
}
