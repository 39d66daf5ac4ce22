-- The writer merged every batch into both the 1-minute and the 1-hour rollups: two upserts per series per batch, half
-- of what PostgreSQL spent on the batch's rollups. From here on it merges a batch into the 1-minute rollups only, and
-- an hour's 1-hour rows are folded from its 1-minute rows once the hour has ended (RollupFold, after
-- writer.rollup-fold-delay). Hours before rollup_folds.folded_before are folded: their 1-hour rows are whole, and a
-- late sample of such an hour is merged into both tables, as before. A query reads the 1-hour rows of those hours and
-- folds the 1-minute rows of the later ones itself, in the same statement (one snapshot).
--
-- Every hour before the one this migration runs in was written whole by the writer, so that is where folding starts.
CREATE TABLE rollup_folds (
    only_row      boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    folded_before timestamptz NOT NULL CHECK (folded_before = date_trunc('hour', folded_before, 'UTC'))
);
INSERT INTO rollup_folds (folded_before) VALUES (date_trunc('hour', now(), 'UTC'));

-- A writer's transaction holds these hours (ms since the epoch, any ms of the hour) shared until it ends, then reads
-- folded_before: a fold holds its hour exclusively, so it sees every 1-minute row a writer merged into that hour
-- before it, and a writer that merges into the hour after it sees the hour folded and merges its 1-hour row too.
-- VOLATILE, so the read of folded_before takes its snapshot after the locks are held.
CREATE FUNCTION sluice_hold_rollup_hours(hours bigint[]) RETURNS timestamptz
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('sluice.rollup_hour'), d.h)
    FROM (SELECT DISTINCT floor(u.ms / 3600000.0)::int AS h FROM unnest(hours) AS u(ms) ORDER BY 1) AS d;
    RETURN (SELECT folded_before FROM rollup_folds);
END
$$;

-- A fold reads one hour of 1-minute rows of every series; their primary key leads with the series. Rows are added in
-- about bucket order, so a BRIN index finds an hour's pages for little upkeep (1-minute rows are added once a minute
-- per series and then updated in place, which a summarizing index leaves HOT).
CREATE INDEX rollups_1m_bucket_brin ON rollups_1m USING brin (bucket);
