package io.sluice.gateway.alerting;

import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.app.RunningRole;
import io.sluice.gateway.query.QueryInvalidation;
import io.sluice.storage.alerting.AlertEvaluator;
import io.sluice.storage.alerting.AlertRule;
import io.sluice.storage.alerting.AlertStore;
import io.sluice.storage.cluster.NodeHeartbeat;
import io.sluice.storage.health.DependencyCheck;
import io.sluice.storage.invalidation.Invalidations;
import io.sluice.storage.kafka.KafkaClusterCheck;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.PostgresCheck;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.query.Queries;
import io.sluice.storage.query.QueryCache;
import io.sluice.storage.query.QueryRepository;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * The {@code alerter} role: evaluates alert rules on their intervals ({@link AlertEvaluator}), shared with every other
 * alerter of the cluster through leases on {@code alert_rules}, and runs the services that act on the alerts (the
 * notification service) next to it. It owns its PostgreSQL pool, its own {@link Queries} (PromQL answers cached,
 * shared by rules with the same expression and slot) and the reader of the writers' announcements that invalidates
 * that cache ({@link QueryInvalidation}). It serves no HTTP: a process without a gateway answers health and metrics
 * on {@code admin.port}.
 *
 * <p>Readiness is PostgreSQL only. Kafka is not needed to evaluate: while it is down, announcements do not arrive,
 * and a cached answer lives until its time to live ({@link QueryCache#ttl}); since every evaluation asks at a new
 * slot, only rules evaluated at the same slot share answers, so an answer missed by an announcement is at most one
 * slot's view of late data.
 */
public final class AlerterRole implements RunningRole {

    private static final Logger log = LoggerFactory.getLogger(AlerterRole.class);

    /** What a service started with this role gets: the role's clients and identity. */
    public record Context(SluiceConfig config, PostgresCalls postgres, String nodeId, Clock clock,
                          MeterRegistry registry) {
    }

    /** A service the role starts after the evaluator and closes before it (the notification service). */
    @FunctionalInterface
    public interface Service {
        AutoCloseable start(Context context);
    }

    private final SluiceConfig config;
    private final ConnectionPool pool;
    private final KafkaClusterCheck kafkaCheck;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final List<AutoCloseable> services = new ArrayList<>();
    private List<DependencyCheck> readiness = List.of();
    private AutoCloseable topicsSetup;
    private QueryInvalidation invalidation;
    private AlertEvaluator evaluator;

    private AlerterRole(SluiceConfig config) {
        this.config = config;
        this.pool = PostgresConnections.pool(config.postgres());
        this.kafkaCheck = new KafkaClusterCheck(config.kafka());
    }

    /**
     * Starts evaluating, then each service in order; returns once they run. Migrations must have been applied.
     *
     * @param queryDecoder reads a query-form rule's stored {@code query} JSON
     * @param services     started after the evaluator with this role's {@link Context}, closed before it
     */
    public static AlerterRole start(SluiceConfig config, MeterRegistry registry,
                                    Function<String, AlertRule.RuleQuery> queryDecoder, List<Service> services) {
        AlerterRole role = new AlerterRole(config);
        try {
            role.run(registry, queryDecoder, services);
        } catch (RuntimeException e) {
            role.close();
            throw e;
        }
        return role;
    }

    private void run(MeterRegistry registry, Function<String, AlertRule.RuleQuery> queryDecoder,
                     List<Service> toStart) {
        PostgresCalls postgres = new PostgresCalls(pool, config.postgres().callTimeout(), registry);
        Clock clock = Clock.systemUTC();
        // Kafka need not answer: announcements are read once the topics are known
        Topics topics = Topics.unknown(config.kafka());
        topicsSetup = topics.ensureInBackground(kafkaCheck.admin());
        Invalidations invalidations = new Invalidations(registry);
        invalidation = new QueryInvalidation(config.kafka(), topics, invalidations, registry);
        Queries queries = new Queries(new QueryRepository(postgres, config.query().statementTimeout()),
                config.query(), config.writer(), invalidations, clock, registry);
        String nodeId = NodeHeartbeat.nodeId(config.cluster());
        evaluator = new AlertEvaluator(new AlertStore(postgres, queryDecoder), config.alerting(), nodeId,
                query -> queries.promql(query).map(QueryCache.Answer::result), clock,
                config.postgres().callTimeout(), registry).start();
        DependencyCheck evaluating = new DependencyCheck() {
            @Override
            public String name() {
                return "alerter";
            }

            @Override
            public Mono<Void> check() {
                return Mono.defer(() -> closed.get() ? Mono.error(new IllegalStateException("stopping"))
                        : Mono.empty());
            }
        };
        readiness = List.of(new PostgresCheck(postgres), evaluating);
        Context context = new Context(config, postgres, nodeId, clock, registry);
        for (Service service : toStart) {
            services.add(service.start(context));
        }
        log.info("Alerter {} evaluating rules (poll every {}, up to {} rules at once)", nodeId,
                config.alerting().pollInterval(), config.alerting().claimBatch());
    }

    @Override
    public String name() {
        return "alerter";
    }

    @Override
    public List<DependencyCheck> readiness() {
        return readiness;
    }

    /**
     * Closes the services (latest first), then stops evaluating (this node's leases are given up, so other alerters
     * take its rules at their next poll), then the clients. Safe to call more than once.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (int i = services.size() - 1; i >= 0; i--) {
            closeQuietly("an alerting service", services.get(i));
        }
        if (evaluator != null) {
            evaluator.close();
        }
        if (invalidation != null) {
            invalidation.close();
        }
        if (topicsSetup != null) {
            closeQuietly("the topic set-up", topicsSetup);
        }
        kafkaCheck.close();
        pool.disposeLater().block(Duration.ofSeconds(10));
    }

    private static void closeQuietly(String what, AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            log.warn("Stopping {} failed", what, e);
        }
    }
}
