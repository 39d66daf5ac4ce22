-- V15 moved the placement's epoch whenever a writer started, so every writer of the topic forgot the heads it
-- remembered (and looked them all up again) each time any writer restarted. A writer that starts with the count the
-- topic is already placed by changes nothing a remembered head depends on: from here on only a new count (or a
-- transaction storing series outside their partition, as before) moves the epoch.
CREATE OR REPLACE FUNCTION sluice_hold_placement(t text, n integer, exclusive boolean, place boolean) RETURNS bigint
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
    ON CONFLICT (topic) DO UPDATE
        SET epoch = CASE WHEN place AND p.partitions = EXCLUDED.partitions THEN p.epoch ELSE p.epoch + 1 END,
            partitions = CASE WHEN place THEN EXCLUDED.partitions ELSE p.partitions END
    RETURNING p.epoch INTO e;
    RETURN e;
END
$$;
