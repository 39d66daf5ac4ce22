-- Rollup rows are updated in place by every batch that has a sample of their series in their minute or hour. With
-- room left in each page PostgreSQL makes that a HOT update (no new index entry; the old version is pruned within
-- the page) instead of moving the row to another page and adding an index entry for it. Partitions made from now on
-- get fillfactor 70 (PartitionMaintenance); the ones that exist get it here, for the pages they fill from now on.
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits
                WHERE inhparent IN ('rollups_1m'::regclass, 'rollups_1h'::regclass)
    LOOP
        EXECUTE format('ALTER TABLE %s SET (fillfactor = 70)', part);
    END LOOP;
END $$;
