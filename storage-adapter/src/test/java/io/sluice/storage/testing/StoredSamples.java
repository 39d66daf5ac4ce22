package io.sluice.storage.testing;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.storage.chunks.CounterRun;
import io.sluice.storage.chunks.HourFold;
import io.sluice.storage.chunks.SampleChunks;
import io.sluice.storage.chunks.Summary;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Reads back, for tests, what the writer stored for a tenant: decoded chunk samples and rollup rows. */
public final class StoredSamples {

    private static final Duration WAIT = Duration.ofSeconds(30);

    private StoredSamples() {
    }

    /** One stored sample. */
    public record Sample(long seriesId, String name, long timestampMs, double value) {
    }

    /** One rollup row. */
    public record Rollup(long seriesId, long bucketMs, double min, double max, double sum, long count) {
    }

    /** A rollup row's counter columns (migration V12); null where the row holds NULL. */
    public record Run(long seriesId, long bucketMs, Long points, Long firstMs, Double first, Long lastMs, Double last,
                      Double resets) {
    }

    /** Every sample of the tenant's series, decoded from their chunks, by series name, id and timestamp. */
    public static List<Sample> of(ConnectionFactory connections, String tenant) {
        List<Sample> out = Mono.usingWhen(connections.create(), (Connection c) -> Flux.from(c.createStatement(
                                "SELECT c.series_id, r.name, c.data FROM sample_chunks c JOIN series r ON r.id = c.series_id "
                                        + "WHERE r.tenant = $1").bind("$1", tenant).execute())
                        .flatMap(r -> r.map((row, meta) -> {
                            long id = row.get(0, Long.class);
                            String name = row.get(1, String.class);
                            List<Sample> samples = new ArrayList<>();
                            SampleChunks.decode(row.get(2, byte[].class), (ts, v) -> samples.add(new Sample(id, name, ts, v)));
                            return samples;
                        }))
                        .flatMapIterable(l -> l).collectList(),
                Connection::close).block(WAIT);
        List<Sample> sorted = new ArrayList<>(out);
        sorted.sort(Comparator.comparing(Sample::name).thenComparingLong(Sample::seriesId)
                .thenComparingLong(Sample::timestampMs));
        return sorted;
    }

    /**
     * The rows of {@code rollups_1m} of the tenant's series, or its 1-hour rows as a query reads them, by series and
     * bucket (see {@link #hourly}).
     */
    public static List<Rollup> rollups(ConnectionFactory connections, String tenant, String table) {
        return rows(connections, tenant, table).stream().map(r -> new Rollup(r.seriesId(), r.bucketMs(), r.min(),
                r.max(), r.sum(), r.count())).toList();
    }

    /** The counter columns of {@link #rollups}' rows. */
    public static List<Run> runs(ConnectionFactory connections, String tenant, String table) {
        return rows(connections, tenant, table).stream().map(StoredRow::run).toList();
    }

    /** A rollup row, every column (the counter columns null where the row holds NULL). */
    public record StoredRow(long seriesId, long bucketMs, double min, double max, double sum, long count, Long points,
                             Long firstMs, Double first, Long lastMs, Double last, Double resets) {
        Run run() {
            return new Run(seriesId, bucketMs, points, firstMs, first, lastMs, last, resets);
        }
    }

    private static final String COLUMNS = "x.series_id, x.bucket, x.min, x.max, x.sum, x.count, x.points, x.first_ms,"
            + " x.first_val, x.last_ms, x.last_val, x.resets";

    /**
     * {@code rollups_1m}'s rows, or for {@code rollups_1h} the hours as a query reads them (migration V14): the
     * {@code rollups_1h} rows of folded hours, and the {@code rollups_1m} rows of later hours folded by
     * {@link HourFold}, all read in one statement. {@link #rawHourly} reads {@code rollups_1h} alone.
     */
    private static List<StoredRow> rows(ConnectionFactory connections, String tenant, String table) {
        if (!table.equals("rollups_1h")) {
            return read(connections, tenant, "SELECT false, " + COLUMNS + " FROM " + table
                    + " x JOIN series r ON r.id = x.series_id WHERE r.tenant = $1 ORDER BY 2, 3");
        }
        return hourly(connections, tenant);
    }

    /** The tenant's 1-hour rollups as a query reads them (see {@link #rows}). */
    public static List<StoredRow> hourly(ConnectionFactory connections, String tenant) {
        return read(connections, tenant, "SELECT false, " + COLUMNS + " FROM rollups_1h x JOIN series r ON r.id ="
                + " x.series_id WHERE r.tenant = $1 AND x.bucket < (SELECT folded_before FROM rollup_folds)"
                + " UNION ALL SELECT true, " + COLUMNS + " FROM rollups_1m x JOIN series r ON r.id = x.series_id"
                + " WHERE r.tenant = $1 AND x.bucket >= (SELECT folded_before FROM rollup_folds) ORDER BY 2, 3");
    }

    /** The rows of {@code rollups_1h} itself, whether their hours are folded or not. */
    public static List<Rollup> rawHourly(ConnectionFactory connections, String tenant) {
        return read(connections, tenant, "SELECT false, " + COLUMNS + " FROM rollups_1h x JOIN series r ON r.id ="
                + " x.series_id WHERE r.tenant = $1 ORDER BY 2, 3").stream()
                .map(r -> new Rollup(r.seriesId(), r.bucketMs(), r.min(), r.max(), r.sum(), r.count())).toList();
    }

    private static List<StoredRow> read(ConnectionFactory connections, String tenant, String sql) {
        List<StoredRow> out = new ArrayList<>();
        HourFold fold = new HourFold((series, hourMs, summary, run) -> out.add(new StoredRow(series, hourMs,
                summary.min(), summary.max(), summary.sum(), summary.count(), run.known() ? run.points() : null,
                run.known() ? run.firstMs() : null, run.known() ? run.first() : null,
                run.known() ? run.lastMs() : null, run.known() ? run.last() : null,
                run.known() ? run.resets() : null)));
        Mono.usingWhen(connections.create(), (Connection c) -> Flux.from(c.createStatement(sql).bind("$1", tenant)
                                .execute())
                        .flatMap(r -> r.map((row, meta) -> {
                            StoredRow stored = new StoredRow(row.get(1, Long.class),
                                    row.get(2, OffsetDateTime.class).toInstant().toEpochMilli(), row.get(3, Double.class),
                                    row.get(4, Double.class), row.get(5, Double.class), row.get(6, Long.class),
                                    row.get(7, Long.class), row.get(8, Long.class), row.get(9, Double.class),
                                    row.get(10, Long.class), row.get(11, Double.class), row.get(12, Double.class));
                            if (Boolean.TRUE.equals(row.get(0, Boolean.class))) {
                                fold.storedMinute(stored.seriesId(), stored.bucketMs(), stored.min(), stored.max(),
                                        stored.sum(), stored.count(), stored.points(), stored.firstMs(), stored.first(),
                                        stored.lastMs(), stored.last(), stored.resets());
                            } else {
                                fold.finish();
                                out.add(stored);
                            }
                            return 1;
                        }))
                        .then(),
                Connection::close).block(WAIT);
        fold.finish();
        return out;
    }

    /** The counter columns the stored samples make at this bucket width ({@link CounterRun}'s rule, in time order). */
    public static List<Run> expectedRuns(List<Sample> samples, long bucketMs) {
        Map<Long, Map<Long, CounterRun>> bySeries = new TreeMap<>();
        List<Sample> ordered = new ArrayList<>(samples);
        ordered.sort(Comparator.comparingLong(Sample::seriesId).thenComparingLong(Sample::timestampMs));
        for (Sample s : ordered) {
            bySeries.computeIfAbsent(s.seriesId(), k -> new TreeMap<>())
                    .computeIfAbsent(Math.floorDiv(s.timestampMs(), bucketMs) * bucketMs, k -> new CounterRun())
                    .add(s.timestampMs(), s.value());
        }
        List<Run> out = new ArrayList<>();
        bySeries.forEach((id, buckets) -> buckets.forEach((bucket, run) -> out.add(new Run(id, bucket, run.points(),
                run.firstMs(), run.first(), run.lastMs(), run.last(), run.resets()))));
        return out;
    }

    /**
     * The rollup rows the stored samples make at this bucket width (1 minute or 1 hour), as the writer computes them
     * when each minute's samples came in one batch: a minute sums its samples in timestamp order ({@link Summary}'s
     * rule), an hour its minutes' sums in minute order.
     */
    public static List<Rollup> expectedRollups(List<Sample> samples, long bucketMs) {
        Map<Long, Map<Long, Summary>> minutes = new TreeMap<>();
        List<Sample> ordered = new ArrayList<>(samples);
        ordered.sort(Comparator.comparingLong(Sample::seriesId).thenComparingLong(Sample::timestampMs));
        for (Sample s : ordered) {
            minutes.computeIfAbsent(s.seriesId(), k -> new TreeMap<>())
                    .computeIfAbsent(Math.floorDiv(s.timestampMs(), 60_000L) * 60_000L, k -> new Summary())
                    .add(s.value());
        }
        Map<Long, Map<Long, Summary>> bySeries = new TreeMap<>();
        minutes.forEach((id, byMinute) -> byMinute.forEach((minute, summary) -> bySeries
                .computeIfAbsent(id, k -> new TreeMap<>())
                .computeIfAbsent(Math.floorDiv(minute, bucketMs) * bucketMs, k -> new Summary())
                .add(summary)));
        List<Rollup> out = new ArrayList<>();
        bySeries.forEach((id, buckets) -> buckets.forEach((bucket, sum) -> out.add(
                new Rollup(id, bucket, sum.min(), sum.max(), sum.sum(), sum.count()))));
        out.sort(Comparator.comparingLong(Rollup::seriesId).thenComparingLong(Rollup::bucketMs));
        return out;
    }
}
