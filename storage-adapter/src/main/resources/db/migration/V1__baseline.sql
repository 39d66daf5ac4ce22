-- Sluice schema, version 1: the baseline. Later migrations add the tables (see ../shared/DESIGN.md).
-- Migrations are applied by io.sluice.storage.postgres.Migrations under an advisory lock.
CREATE TABLE IF NOT EXISTS sluice_info (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO sluice_info (key, value) VALUES ('schema_created_at', now()::text) ON CONFLICT (key) DO NOTHING;
