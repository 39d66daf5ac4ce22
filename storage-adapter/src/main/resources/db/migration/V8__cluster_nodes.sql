-- The live Sluice processes, for cluster-wide tenant quotas: each gateway upserts its row every
-- cluster.heartbeat-interval and counts the gateways whose last_seen is within cluster.node-ttl of now()
-- (PostgreSQL's clock, so the nodes' clocks do not matter); it divides each tier by that count. A node that
-- stops gracefully deletes its row; rows of crashed nodes are deleted by the others' heartbeats once long expired.
CREATE TABLE cluster_nodes (
    node_id    text PRIMARY KEY,
    roles      text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
