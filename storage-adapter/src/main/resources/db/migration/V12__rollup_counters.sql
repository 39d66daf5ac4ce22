-- What PromQL's rate, increase, delta and *_over_time need from a rollup bucket, so that a query can read the rollups
-- instead of raw samples (io.sluice.storage.promql.RollupRead; past retention.raw they are all there is). Over the
-- bucket's values that are not Prometheus staleness markers:
--   points              how many there are (count counts staleness markers too),
--   first_ms, first_val the first of them, by time,
--   last_ms,  last_val  the last of them,
--   resets              the sum of the value before each drop (a counter reset): Prometheus' correction, so that
--                       last_val - first_val + resets is the counter's increase over the bucket.
-- io.sluice.storage.chunks.CounterRun is the same rule in Java. NULL is unknown: rows written before this migration,
-- and a bucket whose samples came in two batches that interleave in time (a late sample landing between stored ones),
-- where the drops between them can no longer be told. A query treats an unknown bucket as unusable; count, sum, min
-- and max stay exact as before.
ALTER TABLE rollups_1m ADD COLUMN points bigint, ADD COLUMN first_ms bigint, ADD COLUMN first_val float8,
    ADD COLUMN last_ms bigint, ADD COLUMN last_val float8, ADD COLUMN resets float8;
ALTER TABLE rollups_1h ADD COLUMN points bigint, ADD COLUMN first_ms bigint, ADD COLUMN first_val float8,
    ADD COLUMN last_ms bigint, ADD COLUMN last_val float8, ADD COLUMN resets float8;

-- The resets of a bucket's two parts (a: stored, b: a new batch's). A part without points changes nothing; parts one
-- wholly after the other add their resets and the drop between them, if any (NaN never compares lower, as in Go and
-- Java, where PostgreSQL sorts NaN above every number); parts that interleave give NULL. Not STRICT, so it is inlined.
-- The usual merge (no drop, at most one part with resets) takes a branch without sluice_add: PostgreSQL does not
-- inline a function whose argument is itself a costly expression, so sluice_add(sluice_add(..), ..) runs through the
-- SQL function executor, which made the writer's rollup upsert twice as slow when every row took that way. Adding
-- 0 changes no resets value (they are never -0), so the branches give what the sums would.
CREATE FUNCTION sluice_resets(a_points bigint, a_resets float8, a_first_ms bigint, a_first float8, a_last_ms bigint,
                              a_last float8, b_points bigint, b_resets float8, b_first_ms bigint, b_first float8,
                              b_last_ms bigint, b_last float8) RETURNS float8
    LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS $$
SELECT CASE
    WHEN b_points = 0 THEN a_resets
    WHEN a_points = 0 THEN b_resets
    WHEN b_first_ms > a_last_ms THEN CASE
        WHEN a_last <> 'NaN' AND b_first < a_last THEN sluice_add(sluice_add(a_resets, b_resets), a_last)
        WHEN b_resets = 0 THEN a_resets
        WHEN a_resets = 0 THEN b_resets
        ELSE sluice_add(a_resets, b_resets) END
    WHEN b_last_ms < a_first_ms THEN CASE
        WHEN b_last <> 'NaN' AND a_first < b_last THEN sluice_add(sluice_add(b_resets, a_resets), b_last)
        WHEN a_resets = 0 THEN b_resets
        WHEN b_resets = 0 THEN a_resets
        ELSE sluice_add(b_resets, a_resets) END
END
$$;
