package io.sluice.config;

import java.time.Duration;

/**
 * How a gateway takes part in the cluster-wide tenant quotas: it heartbeats into PostgreSQL every
 * {@code heartbeatInterval} under {@code nodeId}, and a node not seen for {@code nodeTtl} (judged by PostgreSQL's
 * clock) no longer counts as live.
 *
 * @param nodeId            {@code cluster.node-id}; empty = a fresh id generated when the process starts
 * @param heartbeatInterval {@code cluster.heartbeat-interval}
 * @param nodeTtl           {@code cluster.node-ttl}, longer than the interval
 */
public record ClusterConfig(String nodeId, Duration heartbeatInterval, Duration nodeTtl) {

    public ClusterConfig {
        if (nodeTtl.compareTo(heartbeatInterval) <= 0) {
            throw new ConfigException(Settings.CLUSTER_NODE_TTL.name() + ": " + nodeTtl.toMillis() + "ms"
                    + " (expected: longer than " + Settings.CLUSTER_HEARTBEAT_INTERVAL.name() + ", "
                    + heartbeatInterval.toMillis() + "ms)");
        }
    }

    public ClusterConfig withNodeId(String newNodeId) {
        return new ClusterConfig(newNodeId, heartbeatInterval, nodeTtl);
    }

    public ClusterConfig withTimes(Duration newInterval, Duration newTtl) {
        return new ClusterConfig(nodeId, newInterval, newTtl);
    }
}
