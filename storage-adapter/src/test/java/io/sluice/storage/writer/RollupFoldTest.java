package io.sluice.storage.writer;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.ConfigLoader;
import io.sluice.config.WriterConfig;
import io.sluice.storage.chunks.CounterRun;
import io.sluice.storage.chunks.Summary;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The 1-hour rollups folded from the 1-minute ones (migration V14), on real PostgreSQL, each test in a database of its
 * own: which hours a run folds, what the folded rows hold, and how a fold and a writer's transaction in the same hour
 * wait for each other.
 */
@RealInfrastructure
class RollupFoldTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Instant H09 = Instant.parse("2031-05-01T09:00:00Z");
    private static final Instant H10 = Instant.parse("2031-05-01T10:00:00Z");
    private static final long MINUTE = 60_000;

    private ConnectionPool pool;
    private TestInfrastructure infra;
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @BeforeEach
    void ownDatabase(TestInfrastructure infra) {
        this.infra = infra;
        pool = PostgresConnections.pool(infra.newDatabase("fold_", 8));
        new PartitionMaintenance(pool, config(), Clock.systemUTC()).ensureDays(List.of(LocalDate.of(2031, 5, 1)))
                .block(WAIT);
        sql("UPDATE rollup_folds SET folded_before = '" + H09 + "'");
    }

    @AfterEach
    void close() {
        pool.dispose();
    }

    private static WriterConfig config() {
        return ConfigLoader.load(null, Map.of(), Map.of("writer.rollup-fold-delay", "2m")).writer();
    }

    private RollupFold fold(Instant now) {
        return new RollupFold(pool, config(), Clock.fixed(now, ZoneOffset.UTC), registry);
    }

    @Test
    void aRunFoldsEachEndedHourFromItsMinutesReplacingWhatItsHourRowsHeldAndMovesOn() {
        // series 1: three minutes of 09:00, the second with counters unknown; series 2: one minute of 09:00 with an
        // old hour row merged by a writer before V14 (to be replaced), and one minute of 10:00
        minute(1, H09, 0, 1.5, 4.0, 5.5, 2, 2L, 1.5, 4.0, 0.0);
        minute(1, H09, 1, Double.NaN, Double.NaN, Double.NaN, 1, null, null, null, null);
        minute(1, H09, 2, 0.25, 9.0, 1e308, 3, 3L, 9.0, 0.25, 9.0);
        minute(2, H09, 30, 7.0, 7.0, 7.0, 1, 1L, 7.0, 7.0, 0.0);
        sql("INSERT INTO rollups_1h (series_id, bucket, min, max, sum, count) VALUES (2, '" + H09 + "', 1, 1, 1, 1)");
        minute(2, H10, 5, 3.0, 3.0, 3.0, 1, 1L, 3.0, 3.0, 0.0);

        // 10:01: 09:00 ended only a minute ago (the delay is 2 minutes)
        assertThat(fold(H10.plusSeconds(60)).run().block(WAIT)).isEqualTo(new RollupFold.Report(0, 0));
        assertThat(foldedBefore()).isEqualTo(H09);

        assertThat(fold(H10.plusSeconds(130)).run().block(WAIT)).isEqualTo(new RollupFold.Report(1, 2));
        assertThat(foldedBefore()).isEqualTo(H10);
        Summary one = new Summary(1.5, 4.0, 5.5, 2);
        one.add(Double.NaN, Double.NaN, Double.NaN, 1);
        one.add(0.25, 9.0, 1e308, 3);
        assertThat(hourRows()).containsExactly(
                List.of(1L, H09.toEpochMilli(), one.min(), one.max(), one.sum(), one.count(), "counters unknown"),
                List.of(2L, H09.toEpochMilli(), 7.0, 7.0, 7.0, 1L, List.of(1L, H09.toEpochMilli() + 30 * MINUTE + 7_000,
                        7.0, H09.toEpochMilli() + 30 * MINUTE + 9_000, 7.0, 0.0)));

        // nothing more is due until 10:00 has ended, and then only 10:00
        assertThat(fold(H10.plusSeconds(3600)).run().block(WAIT)).isEqualTo(new RollupFold.Report(0, 0));
        assertThat(fold(H10.plusSeconds(3600 + 120)).run().block(WAIT)).isEqualTo(new RollupFold.Report(1, 1));
        assertThat(foldedBefore()).isEqualTo(H10.plusSeconds(3600));
        assertThat(hourRows()).hasSize(3).last().isEqualTo(List.of(2L, H10.toEpochMilli(), 3.0, 3.0, 3.0, 1L,
                List.of(1L, H10.toEpochMilli() + 5 * MINUTE + 7_000, 3.0, H10.toEpochMilli() + 5 * MINUTE + 9_000, 3.0,
                        0.0)));
        assertThat(registry.counter("sluice_rollup_fold_hours").count()).isEqualTo(2);
        assertThat(registry.counter("sluice_rollup_fold_rows").count()).isEqualTo(3);
    }

    @Test
    void aRunFoldsEveryDueHourInOrderAndAnEmptyHourIsPassedOver() {
        minute(1, H10, 1, 2.0, 2.0, 2.0, 1, 1L, 2.0, 2.0, 0.0);
        // 12:05: 09:00 (empty), 10:00 and 11:00 (empty) are due
        assertThat(fold(H10.plusSeconds(2 * 3600 + 300)).run().block(WAIT)).isEqualTo(new RollupFold.Report(3, 1));
        assertThat(foldedBefore()).isEqualTo(H10.plusSeconds(2 * 3600));
        assertThat(hourRows()).extracting(r -> r.get(1)).containsExactly(H10.toEpochMilli());
    }

    /**
     * A writer's transaction holds its hours shared from before it reads which hours are folded until it commits; a
     * fold of such an hour waits for it and then sees the 1-minute rows it added.
     */
    @Test
    void aFoldWaitsForAWriterTransactionHoldingItsHourAndFoldsWhatThatTransactionAdded() {
        minute(1, H09, 0, 1.0, 1.0, 1.0, 1, 1L, 1.0, 1.0, 0.0);
        Connection writer = Mono.from(pool.create()).block(WAIT);
        try {
            sql(writer, "BEGIN");
            assertThat(holdHours(writer, H09.toEpochMilli() + 5)).as("09:00 is not folded yet").isEqualTo(H09);
            sql(writer, "INSERT INTO rollups_1m (series_id, bucket, min, max, sum, count, points, first_ms, first_val,"
                    + " last_ms, last_val, resets) VALUES (7, '" + H09.plusSeconds(600) + "', 5, 5, 5, 1, 1, 0, 5, 0, 5, 0)");
            CompletableFuture<RollupFold.Report> folding = fold(H10.plusSeconds(300)).run().toFuture();
            await().atMost(WAIT).until(() -> waitingForAdvisoryLocks() == 1);
            assertThat(folding).isNotDone();
            sql(writer, "COMMIT");
            assertThat(folding.join()).isEqualTo(new RollupFold.Report(1, 2));
        } finally {
            Mono.from(writer.close()).block(WAIT);
        }
        assertThat(hourRows()).extracting(r -> r.get(0)).containsExactly(1L, 7L);
    }

    /** A fold against a frozen PostgreSQL fails at writer.transaction-timeout, and the next run folds the hour. */
    @Test
    void aFoldAgainstAFrozenPostgresqlPassesItsDeadlineAndTheNextRunFoldsTheHour() {
        minute(1, H09, 0, 1.0, 1.0, 1.0, 1, 1L, 1.0, 1.0, 0.0);
        WriterConfig shortDeadline = ConfigLoader.load(null, Map.of(), Map.of("writer.rollup-fold-delay", "2m",
                "writer.transaction-timeout", "2s")).writer();
        RollupFold fold = new RollupFold(pool, shortDeadline, Clock.fixed(H10.plusSeconds(300), ZoneOffset.UTC),
                registry);
        try (io.sluice.embedded.FrozenProcesses frozen = io.sluice.embedded.FrozenProcesses
                .postgres(infra.postgres())) {
            assertThat(frozen.size()).isPositive();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> fold.run().block(WAIT))
                    .hasRootCauseInstanceOf(java.util.concurrent.TimeoutException.class);
        }
        assertThat(registry.counter("sluice_rollup_fold_failures").count()).isEqualTo(1);
        assertThat(fold.run().block(WAIT)).isEqualTo(new RollupFold.Report(1, 1));
        assertThat(foldedBefore()).isEqualTo(H10);
    }

    /** Two processes' folds of one hour take turns; the later one finds it folded and neither writes it twice. */
    @Test
    void twoFoldsOfTheSameHourTakeTurnsAndOnlyTheFirstFoldsIt() {
        minute(1, H09, 0, 1.0, 1.0, 1.0, 1, 1L, 1.0, 1.0, 0.0);
        Connection writer = Mono.from(pool.create()).block(WAIT);
        try {
            // a writer's transaction holds the hour, so both folds are waiting for it when it commits
            sql(writer, "BEGIN");
            holdHours(writer, H09.toEpochMilli());
            CompletableFuture<RollupFold.Report> first = fold(H10.plusSeconds(300)).run().toFuture();
            CompletableFuture<RollupFold.Report> second = fold(H10.plusSeconds(300)).run().toFuture();
            await().atMost(WAIT).until(() -> waitingForAdvisoryLocks() == 2);
            sql(writer, "COMMIT");
            assertThat(List.of(first.join(), second.join())).containsExactlyInAnyOrder(new RollupFold.Report(1, 1),
                    new RollupFold.Report(0, 0));
        } finally {
            Mono.from(writer.close()).block(WAIT);
        }
        assertThat(foldedBefore()).isEqualTo(H10);
        assertThat(registry.counter("sluice_rollup_fold_hours").count()).isEqualTo(1);
    }

    /** A writer's transaction that asks while a fold holds the hour waits, and then sees the hour folded. */
    @Test
    void aWriterTransactionAskingWhileAFoldHoldsTheHourWaitsAndThenSeesItFolded() {
        Connection folder = Mono.from(pool.create()).block(WAIT);
        Connection writer = Mono.from(pool.create()).block(WAIT);
        try {
            sql(folder, "BEGIN");
            sql(folder, "SELECT pg_advisory_xact_lock(hashtext('sluice.rollup_hour'), "
                    + H09.toEpochMilli() / 3_600_000 + ")");
            sql(folder, "UPDATE rollup_folds SET folded_before = '" + H10 + "'");
            sql(writer, "BEGIN");
            CompletableFuture<Instant> asked = Mono.fromCallable(() -> holdHours(writer, H09.toEpochMilli() + 1,
                    H10.toEpochMilli() + 1)).subscribeOn(reactor.core.scheduler.Schedulers.boundedElastic()).toFuture();
            await().atMost(WAIT).until(() -> waitingForAdvisoryLocks() == 1);
            assertThat(asked).isNotDone();
            sql(folder, "COMMIT");
            assertThat(asked.join()).as("the fold committed before the writer's read").isEqualTo(H10);
            sql(writer, "COMMIT");
        } finally {
            Mono.from(folder.close()).block(WAIT);
            Mono.from(writer.close()).block(WAIT);
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    /** A 1-minute row at minute {@code m} of {@code hour}; its first sample at second 7, its last at second 9. */
    private void minute(long series, Instant hour, int m, double min, double max, double sum, long count, Long points,
                        Double first, Double last, Double resets) {
        long bucket = hour.toEpochMilli() + m * MINUTE;
        String counters = points == null ? "NULL, NULL, NULL, NULL, NULL, NULL"
                : points + ", " + (bucket + 7_000) + ", " + lit(first) + ", " + (bucket + 9_000) + ", " + lit(last)
                + ", " + lit(resets);
        sql("INSERT INTO rollups_1m (series_id, bucket, min, max, sum, count, points, first_ms, first_val, last_ms,"
                + " last_val, resets) VALUES (" + series + ", '" + Instant.ofEpochMilli(bucket) + "', " + lit(min) + ", "
                + lit(max) + ", " + lit(sum) + ", " + count + ", " + counters + ")");
    }

    private static String lit(double v) {
        return "'" + (Double.isNaN(v) ? "NaN" : Double.toString(v)) + "'::float8";
    }

    /** rollups_1h: series, bucket, min, max, sum, count, then the counters or "counters unknown". */
    private List<List<Object>> hourRows() {
        return Mono.usingWhen(pool.create(), c -> Flux.from(c.createStatement("SELECT series_id, bucket, min, max, sum,"
                        + " count, points, first_ms, first_val, last_ms, last_val, resets FROM rollups_1h ORDER BY 1, 2")
                        .execute())
                .flatMap(r -> r.map((row, meta) -> {
                    List<Object> out = new ArrayList<>(List.of(row.get(0, Long.class),
                            row.get(1, OffsetDateTime.class).toInstant().toEpochMilli(), row.get(2, Double.class),
                            row.get(3, Double.class), row.get(4, Double.class), row.get(5, Long.class)));
                    Long points = row.get(6, Long.class);
                    Double resets = row.get(11, Double.class);
                    out.add(points == null || resets == null ? "counters unknown" : List.of(points,
                            row.get(7, Long.class), row.get(8, Double.class), row.get(9, Long.class),
                            row.get(10, Double.class), resets));
                    return out;
                }))
                .collectList(), Connection::close).block(WAIT);
    }

    private Instant foldedBefore() {
        return Mono.usingWhen(pool.create(), c -> Mono.from(c.createStatement("SELECT folded_before FROM rollup_folds")
                        .execute()).flatMap(r -> Mono.from(r.map((row, meta) -> row.get(0, OffsetDateTime.class)))),
                Connection::close).block(WAIT).toInstant();
    }

    private static Instant holdHours(Connection c, long... hoursMs) {
        Long[] hours = new Long[hoursMs.length];
        for (int i = 0; i < hours.length; i++) {
            hours[i] = hoursMs[i];
        }
        return Mono.from(c.createStatement("SELECT sluice_hold_rollup_hours($1::bigint[])").bind("$1", hours).execute())
                .flatMap(r -> Mono.from(r.map((row, meta) -> row.get(0, OffsetDateTime.class))))
                .block(WAIT).toInstant();
    }

    private long waitingForAdvisoryLocks() {
        return Mono.usingWhen(pool.create(), c -> Mono.from(c.createStatement(
                                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").execute())
                        .flatMap(r -> Mono.from(r.map((row, meta) -> row.get(0, Long.class)))),
                Connection::close).block(WAIT);
    }

    private void sql(String statement) {
        Mono.usingWhen(pool.create(), c -> execute(c, statement), Connection::close).block(WAIT);
    }

    private static void sql(Connection c, String statement) {
        execute(c, statement).block(WAIT);
    }

    private static Mono<Void> execute(Connection c, String statement) {
        return Flux.from(c.createStatement(statement).execute()).flatMap(r -> r.getRowsUpdated()).then();
    }
}
