-- The writer moved every series' head (series_heads, its newest stored timestamp) in every transaction: one upsert
-- per series and batch, a quarter of PostgreSQL's statement time at 250k remote_write samples/s over 8,000 series.
-- From here on a writer remembers the heads of the series of the partitions it applies, and looks a series it does
-- not remember up in its newest 1-minute rollup (written in the same transaction as its chunks). That is only right while nothing but
-- the partition's own transactions, which its writer_offsets row serializes, stores samples of its series, which
-- holds while series are placed by the partition count the writers place them by. The placement of each topic:
--   partitions  the count the writers of this version place series by (the last writer to start sets it);
--   epoch       moved by every transaction that may store samples of series outside their partition (a record
--               placed by another count, a dead letter replayed, a writer whose count is not this one's): a writer
--               forgets what it remembered of the topic's heads when the epoch is not the one it saw last.
-- series_heads is no longer written. A writer before V15 still running would decide against heads nobody moves any
-- more (and take no placement lock), so writing it now fails with a transient SQLSTATE: such a writer retries, storing
-- nothing, until it is stopped. Its rows stay: a writer looks a series up there too (they cover what was stored
-- before 1-minute rollups had to outlive raw samples).
CREATE TABLE writer_placement (
    topic      text PRIMARY KEY,
    partitions integer NOT NULL CHECK (partitions > 0),
    epoch      bigint NOT NULL
);

-- Holds the topic's placement for the rest of the transaction and answers its epoch. Shared (a transaction storing
-- only series placed in its own partition, by count n): answers NULL when the topic is placed by another count (or
-- not yet at all); then the caller holds it exclusively instead. Exclusive: waits for every shared holder, moves the
-- epoch (and, with place, sets the count to n, as a writer does at start), and answers the new epoch. VOLATILE, so
-- the read takes its snapshot once the lock is held.
CREATE FUNCTION sluice_hold_placement(t text, n integer, exclusive boolean, place boolean) RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    e bigint;
BEGIN
    IF NOT exclusive THEN
        PERFORM pg_advisory_xact_lock_shared(hashtext('sluice.placement'), hashtext(t));
        SELECT p.epoch INTO e FROM writer_placement p WHERE p.topic = t AND p.partitions = n;
        RETURN e;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('sluice.placement'), hashtext(t));
    INSERT INTO writer_placement AS p (topic, partitions, epoch) VALUES (t, n, 1)
    ON CONFLICT (topic) DO UPDATE SET epoch = p.epoch + 1,
        partitions = CASE WHEN place THEN EXCLUDED.partitions ELSE p.partitions END
    RETURNING p.epoch INTO e;
    RETURN e;
END
$$;

CREATE FUNCTION sluice_series_heads_retired() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'series_heads is no longer written (migration V15): stop this storage writer, it predates V15'
        USING ERRCODE = '55P03';
END
$$;
CREATE TRIGGER series_heads_retired BEFORE INSERT OR UPDATE ON series_heads
    FOR EACH ROW EXECUTE FUNCTION sluice_series_heads_retired();
