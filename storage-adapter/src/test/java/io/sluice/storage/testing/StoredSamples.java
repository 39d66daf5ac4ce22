package io.sluice.storage.testing;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.storage.chunks.CounterRun;
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

    /** The rows of {@code rollups_1m} or {@code rollups_1h} of the tenant's series, by series and bucket. */
    public static List<Rollup> rollups(ConnectionFactory connections, String tenant, String table) {
        return Mono.usingWhen(connections.create(), (Connection c) -> Flux.from(c.createStatement(
                                "SELECT x.series_id, x.bucket, x.min, x.max, x.sum, x.count FROM " + table
                                        + " x JOIN series r ON r.id = x.series_id WHERE r.tenant = $1 ORDER BY 1, 2")
                                .bind("$1", tenant).execute())
                        .flatMap(r -> r.map((row, meta) -> new Rollup(row.get(0, Long.class),
                                row.get(1, OffsetDateTime.class).toInstant().toEpochMilli(), row.get(2, Double.class),
                                row.get(3, Double.class), row.get(4, Double.class), row.get(5, Long.class))))
                        .collectList(),
                Connection::close).block(WAIT);
    }

    /** The counter columns of {@code rollups_1m} or {@code rollups_1h} of the tenant's series, by series and bucket. */
    public static List<Run> runs(ConnectionFactory connections, String tenant, String table) {
        return Mono.usingWhen(connections.create(), (Connection c) -> Flux.from(c.createStatement(
                                "SELECT x.series_id, x.bucket, x.points, x.first_ms, x.first_val, x.last_ms, x.last_val,"
                                        + " x.resets FROM " + table + " x JOIN series r ON r.id = x.series_id"
                                        + " WHERE r.tenant = $1 ORDER BY 1, 2")
                                .bind("$1", tenant).execute())
                        .flatMap(r -> r.map((row, meta) -> new Run(row.get(0, Long.class),
                                row.get(1, OffsetDateTime.class).toInstant().toEpochMilli(), row.get(2, Long.class),
                                row.get(3, Long.class), row.get(4, Double.class), row.get(5, Long.class),
                                row.get(6, Double.class), row.get(7, Double.class))))
                        .collectList(),
                Connection::close).block(WAIT);
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
     * The rollup rows the stored samples make at this bucket width, summed in timestamp order ({@link Summary}'s
     * rule), as the writer computes them when each bucket's samples came in one batch.
     */
    public static List<Rollup> expectedRollups(List<Sample> samples, long bucketMs) {
        Map<Long, Map<Long, Summary>> bySeries = new TreeMap<>();
        List<Sample> ordered = new ArrayList<>(samples);
        ordered.sort(Comparator.comparingLong(Sample::seriesId).thenComparingLong(Sample::timestampMs));
        for (Sample s : ordered) {
            bySeries.computeIfAbsent(s.seriesId(), k -> new TreeMap<>())
                    .computeIfAbsent(Math.floorDiv(s.timestampMs(), bucketMs) * bucketMs, k -> new Summary())
                    .add(s.value());
        }
        List<Rollup> out = new ArrayList<>();
        bySeries.forEach((id, buckets) -> buckets.forEach((bucket, sum) -> out.add(
                new Rollup(id, bucket, sum.min(), sum.max(), sum.sum(), sum.count()))));
        out.sort(Comparator.comparingLong(Rollup::seriesId).thenComparingLong(Rollup::bucketMs));
        return out;
    }
}
