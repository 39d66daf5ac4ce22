-- Events are unique per tenant by id, whatever their timestamp (protocol/SPEC.md, README "Storage").
-- The partitioned events table can only be unique on (tenant, event_id, ts), because a partitioned table's
-- unique key must contain its partition key; event_ids holds the one key that is not partitioned. The storage
-- writer inserts an event only when its id is new here, in the same transaction as the event and the Kafka
-- offset, so the first copy written wins and resends with another timestamp are dropped. Rows leave with
-- their events' partitions (PartitionMaintenance), after retention.raw.
CREATE TABLE event_ids (
    tenant   text NOT NULL,
    event_id text NOT NULL,
    ts       timestamptz NOT NULL,
    PRIMARY KEY (tenant, event_id)
);
CREATE INDEX event_ids_ts ON event_ids (ts);

INSERT INTO event_ids (tenant, event_id, ts)
SELECT DISTINCT ON (tenant, event_id) tenant, event_id, ts FROM events ORDER BY tenant, event_id, ts
ON CONFLICT DO NOTHING;

-- Reading events back (GET /api/v1/events): a tenant's events in time order, optionally of one type.
CREATE INDEX events_by_time ON events (tenant, ts, event_id);
CREATE INDEX events_by_type ON events (tenant, type, ts, event_id);
