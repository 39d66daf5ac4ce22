package io.sluice.storage.cluster;

import io.r2dbc.spi.Connection;
import io.sluice.config.Role;
import io.sluice.storage.postgres.PostgresCalls;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The {@code cluster_nodes} table (migration V8): which Sluice processes are live, by PostgreSQL's clock. Every call
 * has the {@link PostgresCalls} deadline.
 */
public final class ClusterNodes {

    /** How a role is written in the {@code roles} column (comma-separated). */
    static String roleName(Role role) {
        return role.name().toLowerCase(Locale.ROOT);
    }

    private final PostgresCalls calls;

    public ClusterNodes(PostgresCalls calls) {
        this.calls = calls;
    }

    /**
     * Records {@code nodeId} (with its {@code roles}) as seen now, deletes the rows of other nodes not seen for
     * {@code forgetAfter}, and answers how many gateways are live: those seen within {@code ttl}, this node included
     * when it is one. One statement, so one round trip and one deadline.
     */
    public Mono<Integer> beat(String nodeId, Set<Role> roles, Duration ttl, Duration forgetAfter) {
        String written = roles.stream().sorted().map(ClusterNodes::roleName).collect(Collectors.joining(","));
        int self = roles.contains(Role.GATEWAY) ? 1 : 0;
        // the SELECT sees the table as it was before this statement: this node's own row is counted apart
        String sql = "WITH beat AS (INSERT INTO cluster_nodes (node_id, roles) VALUES ($1, $2) "
                + "ON CONFLICT (node_id) DO UPDATE SET roles = excluded.roles, last_seen = now()), "
                + "forgotten AS (DELETE FROM cluster_nodes WHERE node_id <> $1 "
                + "AND last_seen < now() - make_interval(secs => $4)) "
                + "SELECT count(*) FROM cluster_nodes WHERE node_id <> $1 "
                + "AND last_seen >= now() - make_interval(secs => $3) "
                + "AND '" + roleName(Role.GATEWAY) + "' = ANY (string_to_array(roles, ','))";
        return calls.call("cluster.heartbeat", Mono.usingWhen(calls.connections().create(),
                (Connection c) -> Flux.from(c.createStatement(sql).bind("$1", nodeId).bind("$2", written)
                                .bind("$3", seconds(ttl)).bind("$4", seconds(forgetAfter)).execute())
                        .flatMap(r -> r.map(row -> row.get(0, Long.class))).next(),
                Connection::close)
                .map(others -> Math.toIntExact(others) + self));
    }

    /** Deletes {@code nodeId}'s row, so the others stop counting it at their next heartbeat. */
    public Mono<Void> leave(String nodeId) {
        return calls.call("cluster.leave", Mono.usingWhen(calls.connections().create(),
                (Connection c) -> Flux.from(c.createStatement("DELETE FROM cluster_nodes WHERE node_id = $1")
                        .bind("$1", nodeId).execute()).flatMap(r -> r.getRowsUpdated()).then(),
                Connection::close));
    }

    private static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }
}
