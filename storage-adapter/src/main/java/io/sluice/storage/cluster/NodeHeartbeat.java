package io.sluice.storage.cluster;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.sluice.config.ClusterConfig;
import io.sluice.config.Role;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

import java.time.Duration;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * This process's membership of the cluster: every {@code cluster.heartbeat-interval} it records itself in
 * {@code cluster_nodes} and learns how many gateways are live ({@link #liveGateways()}), which the tenant rate
 * limiter divides each tier by. When PostgreSQL does not answer, the last count it gave stands (counted in
 * {@code sluice_cluster_heartbeat_failures_total}); before the first answer the count is 1.
 *
 * <p>Heartbeats run on Reactor's parallel scheduler and never overlap (a tick that comes while one is still waiting
 * for PostgreSQL is skipped). {@link #close()} lets the heartbeat in flight finish, then deletes this node's row,
 * so the other gateways take its share back at their next heartbeat.
 */
public final class NodeHeartbeat implements AutoCloseable {

    /** Rows of nodes not seen for this many {@code cluster.node-ttl} are deleted by the others' heartbeats. */
    public static final int FORGET_AFTER_TTLS = 6;

    private static final Logger log = LoggerFactory.getLogger(NodeHeartbeat.class);

    private final ClusterNodes nodes;
    private final String nodeId;
    private final Set<Role> roles;
    private final ClusterConfig config;
    private final Duration callDeadline;
    private final AtomicInteger liveGateways = new AtomicInteger(1);
    private final AtomicBoolean failing = new AtomicBoolean();
    private final Counter failures;
    private final Sinks.Empty<Void> stop = Sinks.empty();
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile CompletableFuture<Void> loop = CompletableFuture.completedFuture(null);

    /**
     * @param nodeId       this node's id ({@link #nodeId(ClusterConfig)})
     * @param callDeadline the deadline of one heartbeat ({@code postgres.call-timeout}), to bound {@link #close()}
     */
    public NodeHeartbeat(ClusterNodes nodes, String nodeId, Set<Role> roles, ClusterConfig config,
                         Duration callDeadline, MeterRegistry registry) {
        this.nodes = nodes;
        this.nodeId = nodeId;
        this.roles = Set.copyOf(roles);
        this.config = config;
        this.callDeadline = callDeadline;
        Gauge.builder("sluice_cluster_live_gateways", liveGateways, AtomicInteger::get)
                .description("Gateways this node counts as live (its own included) and divides each tenant's tier by; "
                        + "the last count PostgreSQL gave while heartbeats fail")
                .strongReference(true).register(registry);
        this.failures = Counter.builder("sluice_cluster_heartbeat_failures")
                .description("Heartbeats into cluster_nodes that failed or passed postgres.call-timeout (the last "
                        + "live-gateway count stands meanwhile)")
                .register(registry);
    }

    /** {@code cluster.node-id}, or when it is empty a new id: the host's name (when known), the pid and a random part. */
    public static String nodeId(ClusterConfig config) {
        if (!config.nodeId().isEmpty()) {
            return config.nodeId();
        }
        String host = System.getenv("HOSTNAME");
        String random = UUID.randomUUID().toString().substring(0, 8);
        String pid = Long.toString(ProcessHandle.current().pid());
        return (host == null || host.isBlank() ? "" : host.strip() + "-") + pid + "-" + random;
    }

    /** Starts heartbeating now and then every {@code cluster.heartbeat-interval}, on Reactor's parallel scheduler. */
    public NodeHeartbeat start() {
        return start(Schedulers.parallel());
    }

    /** As {@link #start()}, ticking on {@code timer}. */
    NodeHeartbeat start(Scheduler timer) {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("node heartbeat " + nodeId + " already started");
        }
        loop = Flux.interval(Duration.ZERO, config.heartbeatInterval(), timer)
                .takeUntilOther(stop.asMono())
                .onBackpressureDrop()
                .concatMap(tick -> beat(), 1)
                .then(Mono.defer(() -> nodes.leave(nodeId))
                        .doOnSuccess(v -> log.info("Cluster node {} left: the other gateways take its quota share "
                                + "back at their next heartbeat", nodeId))
                        .onErrorResume(e -> {
                            log.warn("Cluster node {} could not delete its row ({}); the other gateways stop counting "
                                    + "it after cluster.node-ttl", nodeId, e.toString());
                            return Mono.empty();
                        }))
                .toFuture();
        log.info("Cluster node {} ({}) heartbeats every {} ms; gateways unseen for {} ms stop counting", nodeId,
                roles, config.heartbeatInterval().toMillis(), config.nodeTtl().toMillis());
        return this;
    }

    /** One heartbeat; a failure is counted and leaves the last count in place. */
    Mono<Integer> beat() {
        return nodes.beat(nodeId, roles, config.nodeTtl(), config.nodeTtl().multipliedBy(FORGET_AFTER_TTLS))
                .doOnNext(count -> {
                    int previous = liveGateways.getAndSet(Math.max(1, count));
                    if (previous != Math.max(1, count)) {
                        log.info("Cluster node {}: {} live gateway(s), was {}; each enforces 1/{} of every tier",
                                nodeId, count, previous, Math.max(1, count));
                    }
                    if (failing.compareAndSet(true, false)) {
                        log.info("Cluster node {}: heartbeats reach PostgreSQL again", nodeId);
                    }
                })
                .onErrorResume(e -> {
                    failures.increment();
                    if (failing.compareAndSet(false, true)) {
                        log.warn("Cluster node {}: heartbeat failed ({}); keeping the last count of {} live gateway(s)",
                                nodeId, e.toString(), liveGateways.get());
                    }
                    return Mono.empty();
                });
    }

    /** Gateways this node counts as live, itself included (at least 1). */
    public int liveGateways() {
        return liveGateways.get();
    }

    public String nodeId() {
        return nodeId;
    }

    /**
     * Stops heartbeating and deletes this node's row; returns once that is done, or after at most two
     * {@code postgres.call-timeout}s (the heartbeat in flight, then the delete). Safe to call more than once. Blocks:
     * call it from a shutdown thread, never from an event loop.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        stop.tryEmitEmpty();
        try {
            loop.get(callDeadline.multipliedBy(2).plusSeconds(1).toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            loop.cancel(true);
            log.warn("Cluster node {} did not finish leaving in time; the others stop counting it after "
                    + "cluster.node-ttl", nodeId);
        } catch (ExecutionException e) {
            log.warn("Cluster node {} heartbeat ended with an error", nodeId, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
