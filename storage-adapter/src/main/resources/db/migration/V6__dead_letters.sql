-- Kafka records PostgreSQL refuses for a non-transient reason (a data exception, a constraint, an undecodable
-- segment), set aside by the storage writer in the transaction that moves its offset past them, so one bad
-- record never blocks its partition. `bin/sluice dead-letters list|replay` shows them and applies them again
-- after a fix; a replayed record keeps its row, with replayed_at set.
CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    kafka_offset bigint NOT NULL,
    reason       text NOT NULL,
    sqlstate     text,
    error        text NOT NULL,
    payload      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,
    UNIQUE (topic, partition, kafka_offset)
);
CREATE INDEX dead_letters_pending ON dead_letters (id) WHERE replayed_at IS NULL;
