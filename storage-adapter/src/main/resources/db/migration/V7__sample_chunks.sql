-- Storage engine v2: samples are stored as chunks (many samples of one series in one row), not one row each.
--
-- sample_chunks: the samples of one series within one UTC hour, encoded as io.sluice.storage.chunks.SampleChunks
-- describes (format 0: 16 bytes per sample, what this migration writes; format 1: packed, what the writer and
-- compaction write). The writer adds one chunk per series and hour per batch; compaction merges the chunks of an
-- hour into few packed ones. A sample (series, timestamp) is stored at most once: the first write wins, as before.
-- One partition per UTC day of "hour", made by io.sluice.storage.writer.PartitionMaintenance.
CREATE TABLE sample_chunks (
    series_id bigint NOT NULL,
    hour      timestamptz NOT NULL,   -- the UTC hour every sample of the chunk falls in
    min_ms    bigint NOT NULL,        -- its first and last timestamps, ms since the epoch
    max_ms    bigint NOT NULL,
    samples   integer NOT NULL,
    data      bytea NOT NULL
) PARTITION BY RANGE (hour);
CREATE INDEX sample_chunks_series ON sample_chunks (series_id, hour);

-- The newest timestamp stored per series: a sample after it is new without looking at any chunk, one at or
-- before it is checked against the chunks of its hour. Moved by the writer's transaction in one upsert that also
-- keeps the head it replaced (prev_ms), which is what that transaction decides against; narrow and with room on
-- each page, so that the update stays a HOT update.
CREATE TABLE series_heads (
    series_id bigint PRIMARY KEY,
    max_ms    bigint NOT NULL,
    prev_ms   bigint NOT NULL DEFAULT '-9223372036854775808'
) WITH (fillfactor = 70);

-- IEEE 754 addition: float8 + float8 raises 22003 when two finite values overflow; this returns ±Infinity instead
-- (io.sluice.storage.chunks.Summary is the same rule in Java). Only two finite values of the same sign can overflow,
-- and only when the larger is at least 2^1023 and the smaller at least 2^969 (below that, MAX + b rounds to MAX).
-- Then both halves are normal doubles, so a/2 + b/2 rounds exactly as a + b would, halved, without overflowing:
-- a + b overflows exactly when that half-sum reaches 2^1023.
CREATE FUNCTION sluice_add(a float8, b float8) RETURNS float8
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE
    WHEN a = 'NaN' OR b = 'NaN' THEN 'NaN'::float8
    WHEN a IN ('Infinity', '-Infinity') OR b IN ('Infinity', '-Infinity') THEN a + b
    WHEN (a < 0) <> (b < 0) THEN a + b
    WHEN greatest(abs(a), abs(b)) < power(2::float8, 1023) OR least(abs(a), abs(b)) < power(2::float8, 969) THEN a + b
    WHEN abs(a * 0.5::float8 + b * 0.5::float8) >= power(2::float8, 1023) THEN sign(a) * 'Infinity'::float8
    ELSE a + b
END
$$;

-- min and max that skip NaN unless both are NaN, keeping the first of equal values (io.sluice.storage.chunks.Summary).
CREATE FUNCTION sluice_min(a float8, b float8) RETURNS float8
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE WHEN a = 'NaN' THEN b WHEN b = 'NaN' THEN a WHEN b < a THEN b ELSE a END
$$;
CREATE FUNCTION sluice_max(a float8, b float8) RETURNS float8
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE WHEN a = 'NaN' THEN b WHEN b = 'NaN' THEN a WHEN b > a THEN b ELSE a END
$$;

-- Today's rows move into plain chunks, one per series and hour, in the day partitions they need.
DO $$
DECLARE
    day date;
BEGIN
    FOR day IN SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date FROM samples LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF sample_chunks FOR VALUES FROM (%L) TO (%L)',
                       'sample_chunks_p' || to_char(day, 'YYYYMMDD'),
                       day::text || ' 00:00:00+00', (day + 1)::text || ' 00:00:00+00');
    END LOOP;
END
$$;

INSERT INTO sample_chunks (series_id, hour, min_ms, max_ms, samples, data)
SELECT series_id, hour, min(ms), max(ms), count(*),
       '\x00'::bytea || string_agg(int8send(ms) || float8send(value), ''::bytea ORDER BY ms)
FROM (SELECT series_id, date_trunc('hour', ts, 'UTC') AS hour,
             (extract(epoch FROM ts) * 1000)::bigint AS ms, value
      FROM samples) s
GROUP BY series_id, hour;

INSERT INTO series_heads (series_id, max_ms)
SELECT series_id, (extract(epoch FROM max(ts)) * 1000)::bigint FROM samples GROUP BY series_id;

DROP TABLE samples;
