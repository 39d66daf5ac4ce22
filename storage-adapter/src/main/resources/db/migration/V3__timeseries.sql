-- Time series, events, rollups and the storage writer's Kafka offsets.
-- samples, rollups and events are range-partitioned; io.sluice.storage.writer.PartitionMaintenance creates
-- partitions ahead of time and drops them after their retention.

CREATE TABLE series (
    id         bigint PRIMARY KEY,               -- io.sluice.storage.SeriesIds: tenant + name + sorted labels
    tenant     text NOT NULL,
    name       text NOT NULL,
    labels     jsonb NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL
);
CREATE INDEX series_tenant_name ON series (tenant, name);
CREATE INDEX series_labels ON series USING gin (labels jsonb_path_ops);

-- Raw samples, one partition per UTC day. The primary key makes a resent sample a no-op.
CREATE TABLE samples (
    series_id bigint NOT NULL,
    ts        timestamptz NOT NULL,
    value     double precision NOT NULL,
    PRIMARY KEY (series_id, ts)
) PARTITION BY RANGE (ts);

-- Rollups are fed only by samples that were really inserted, in the writer's transaction.
CREATE TABLE rollups_1m (
    series_id bigint NOT NULL,
    bucket    timestamptz NOT NULL,
    min       double precision NOT NULL,
    max       double precision NOT NULL,
    sum       double precision NOT NULL,
    count     bigint NOT NULL,
    PRIMARY KEY (series_id, bucket)
) PARTITION BY RANGE (bucket);

CREATE TABLE rollups_1h (
    series_id bigint NOT NULL,
    bucket    timestamptz NOT NULL,
    min       double precision NOT NULL,
    max       double precision NOT NULL,
    sum       double precision NOT NULL,
    count     bigint NOT NULL,
    PRIMARY KEY (series_id, bucket)
) PARTITION BY RANGE (bucket);

-- Events, one partition per UTC day. A partitioned table's unique key must contain the partition key,
-- so an event is unique by (tenant, event_id, ts): a resent event (same id and time) is a no-op.
CREATE TABLE events (
    tenant     text NOT NULL,
    event_id   text NOT NULL,
    type       text NOT NULL,
    ts         timestamptz NOT NULL,
    key        text NOT NULL,
    attributes jsonb NOT NULL,
    PRIMARY KEY (tenant, event_id, ts)
) PARTITION BY RANGE (ts);

-- The next Kafka offset the writer will apply, per (topic, partition); moved in the same transaction as the rows.
CREATE TABLE writer_offsets (
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
