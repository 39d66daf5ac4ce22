package io.sluice.gateway.app;

import io.sluice.config.Role;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.alerting.AlerterRole;
import io.sluice.storage.alerting.RuleJson;
import io.sluice.gateway.metrics.ProcessMetrics;
import io.sluice.storage.alerting.notify.NotificationService;
import io.sluice.storage.health.DependencyCheck;
import io.sluice.storage.health.HealthNotice;
import io.sluice.storage.writer.WriterRole;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The composition root of one {@code sluice serve} process: one metrics registry, the roles named by {@code roles=}
 * (in {@link Role} order: the gateway, the writer, the alerter), and — when no role listens for HTTP — the admin listener on
 * {@code admin.port} with {@code /health/live}, {@code /health/ready} and {@code /metrics}. Migrations must have been
 * applied.
 *
 * <p>Stopping closes the roles in start order: the gateway first, so that what it accepted reaches Kafka (or the
 * spool) while the writer still runs; then the writer, which commits what it has written; then the alerter, which
 * gives up its rules' leases to the other alerters; then the admin listener;
 * then the registry.
 */
public final class SluiceProcess implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SluiceProcess.class);

    private final ProcessMetrics metrics;
    private final List<RunningRole> roles = new ArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private GatewayRole gateway;
    private AdminListener admin;

    private SluiceProcess(ProcessMetrics metrics) {
        this.metrics = metrics;
    }

    /** Starts every configured role; returns once each is serving. A role that cannot start stops those before it. */
    public static SluiceProcess start(SluiceConfig config) {
        SluiceProcess process = new SluiceProcess(new ProcessMetrics());
        try {
            for (Role role : Role.values()) {
                if (config.roles().contains(role)) {
                    process.roles.add(process.startRole(role, config));
                }
            }
            if (process.gateway == null) {
                process.admin = AdminListener.start(config.server(), process.metrics, process.readiness(),
                        process.notices());
            }
        } catch (RuntimeException e) {
            process.close();
            throw e;
        }
        return process;
    }

    private RunningRole startRole(Role role, SluiceConfig config) {
        return switch (role) {
            case GATEWAY -> gateway = GatewayRole.start(config, metrics);
            case WRITER -> writer(WriterRole.start(config, metrics.registry()));
            case ALERTER -> AlerterRole.start(config, metrics.registry(), RuleJson::parseQuery, alertingServices());
        };
    }

    /**
     * The services the alerter role runs next to its evaluator, started in this order with the role's clients
     * ({@link AlerterRole.Context}): the notification service (dispatch into the outbox, delivery to receivers).
     */
    private static List<AlerterRole.Service> alertingServices() {
        return List.of(ctx -> new NotificationService(ctx.postgres(), ctx.config().alerting(), ctx.nodeId(),
                ctx.clock(), ctx.registry()).start());
    }

    private static RunningRole writer(WriterRole writer) {
        return new RunningRole() {
            @Override
            public String name() {
                return "writer";
            }

            @Override
            public List<DependencyCheck> readiness() {
                return writer.readiness();
            }

            @Override
            public List<HealthNotice> notices() {
                return writer.notices();
            }

            @Override
            public void close() {
                writer.close();
            }
        };
    }

    private List<DependencyCheck> readiness() {
        // two roles may check the same dependency (both need Kafka): each name is checked once
        List<DependencyCheck> checks = new ArrayList<>();
        for (RunningRole role : roles) {
            for (DependencyCheck check : role.readiness()) {
                if (checks.stream().noneMatch(c -> c.name().equals(check.name()))) {
                    checks.add(check);
                }
            }
        }
        return checks;
    }

    private List<HealthNotice> notices() {
        return roles.stream().flatMap(r -> r.notices().stream()).toList();
    }

    /** The names of the roles running here, in start order. */
    public List<String> roleNames() {
        return roles.stream().map(RunningRole::name).toList();
    }

    /** The gateway role, when this process runs it. */
    public Optional<GatewayRole> gateway() {
        return Optional.ofNullable(gateway);
    }

    /** The port the admin listener bound, when this process has one (no gateway role). */
    public Optional<Integer> adminPort() {
        return admin == null ? Optional.empty() : Optional.of(admin.port());
    }

    public MeterRegistry registry() {
        return metrics.registry();
    }

    /** A line for the console: what runs here and where. */
    public String describe() {
        StringBuilder line = new StringBuilder("Sluice serving (roles: ").append(String.join(",", roleNames()))
                .append(")");
        if (gateway != null) {
            line.append(" on port ").append(gateway.port());
        }
        if (admin != null) {
            line.append("; admin (health, metrics) on port ").append(admin.port());
        }
        return line.toString();
    }

    /** Graceful stop of every role (see the class comment); safe to call more than once. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        long began = System.nanoTime();
        if (admin != null) {
            admin.draining(); // readiness answers 503 shutting_down while the roles stop
        }
        for (RunningRole role : roles) {
            try {
                role.close();
            } catch (RuntimeException e) {
                log.warn("Stopping the {} role failed", role.name(), e);
            }
        }
        if (admin != null) {
            admin.close();
        }
        metrics.close();
        log.info("Process stopped in {} ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
    }
}
