package io.sluice.storage.writer;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.netty.buffer.ByteBuf;
import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.WriterConfig;
import io.sluice.storage.chunks.HourFold;
import io.sluice.storage.postgres.Transactions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/**
 * Makes the 1-hour rollups of hours that have ended by folding their 1-minute rows ({@link HourFold}), one hour at a
 * time and in order, once an hour ended at least {@code writer.rollup-fold-delay} ago (migration V14).
 *
 * <p>The writer merges a batch into the 1-minute rollups only, except for hours already folded
 * ({@code rollup_folds.folded_before} after them), whose 1-hour rows it merges too. A fold holds its hour exclusively
 * (an advisory lock that each writer transaction holds shared for the hours it writes, see
 * {@code sluice_hold_rollup_hours}), so it starts once the writer transactions in that hour have committed and sees all
 * their 1-minute rows; it then replaces the hour's 1-hour rows with the folds, moves {@code folded_before} past the
 * hour and commits, and a writer transaction in that hour from then on finds it folded and merges its 1-hour rows as
 * well. A fold never loses a sample a writer stored, whatever the timing, and folding an hour twice gives the same
 * rows. Until its hour is folded, a query folds the 1-minute rows itself (see {@code QueryRepository}).
 *
 * <p>Writer processes may all run folds: they serialise on the hour's lock and on {@code rollup_folds}' row, and the
 * later one finds the hour done. A fold transaction has {@code writer.transaction-timeout}; one that fails rolls back
 * and is tried again at the next run.
 */
public final class RollupFold {

    private static final Logger log = LoggerFactory.getLogger(RollupFold.class);

    private static final String FOLDED_BEFORE = "SELECT folded_before FROM rollup_folds";
    private static final String HOLD_HOUR = "SELECT pg_advisory_xact_lock(hashtext('sluice.rollup_hour'), $1)";
    private static final String FOLDED_BEFORE_LOCKED = "SELECT folded_before FROM rollup_folds FOR UPDATE";
    private static final String MINUTES = """
            SELECT series_id, bucket, min, max, sum, count, points, first_ms, first_val, last_ms, last_val, resets
            FROM rollups_1m WHERE bucket >= $1 AND bucket < $2 ORDER BY series_id, bucket""";
    private static final String COLUMNS =
            "series_id, bucket, min, max, sum, count, points, first_ms, first_val, last_ms, last_val, resets";
    /** The folds replace whatever the hour's 1-hour rows held (rows merged by a writer before this version). */
    private static final String REPLACE_HOURS = """
            INSERT INTO rollups_1h AS r (%1$s)
            SELECT %1$s FROM stage_rollups WHERE res = %2$d
            ON CONFLICT (series_id, bucket) DO UPDATE SET min = EXCLUDED.min, max = EXCLUDED.max, sum = EXCLUDED.sum,
                count = EXCLUDED.count, points = EXCLUDED.points, first_ms = EXCLUDED.first_ms,
                first_val = EXCLUDED.first_val, last_ms = EXCLUDED.last_ms, last_val = EXCLUDED.last_val,
                resets = EXCLUDED.resets""".formatted(COLUMNS, WriteBatch.ROLLUP_HOUR);
    private static final String MOVE_ON = "UPDATE rollup_folds SET folded_before = $1";
    private static final long HOUR_MS = 3_600_000;
    /** What {@link #foldNext} gives for an hour another writer process folded first. */
    private static final long DONE_ELSEWHERE = -1;

    private final ConnectionFactory connections;
    private final Clock clock;
    private final Duration delay;
    private final Duration deadline;
    private final Counter hoursFolded;
    private final Counter rowsWritten;
    private final Counter runsFailed;
    private final Timer hourTimer;
    private volatile boolean stopping;

    public RollupFold(ConnectionFactory connections, WriterConfig config, Clock clock, MeterRegistry registry) {
        this.connections = connections;
        this.clock = clock;
        this.delay = config.rollupFoldDelay();
        this.deadline = config.transactionTimeout();
        this.hoursFolded = Counter.builder("sluice_rollup_fold_hours")
                .description("Hours whose 1-hour rollups were folded from their 1-minute rollups").register(registry);
        this.rowsWritten = Counter.builder("sluice_rollup_fold_rows")
                .description("1-hour rollup rows the folds wrote").register(registry);
        this.runsFailed = Counter.builder("sluice_rollup_fold_failures")
                .description("Fold runs that failed (the hour under way rolled back; it is tried again next run)")
                .register(registry);
        this.hourTimer = Timer.builder("sluice_rollup_fold").description("One hour's fold transaction")
                .register(registry);
    }

    /** What a run did: hours folded, and the 1-hour rows they wrote. */
    public record Report(long hours, long rows) {
    }

    /** Folds every hour that is due, oldest first; a run asked to {@link #stop()} ends after the hour under way. */
    public Mono<Report> run() {
        long[] totals = new long[2];
        return foldNext()
                .expand(rows -> stopping ? Mono.empty() : foldNext())
                .filter(rows -> rows != DONE_ELSEWHERE)
                .doOnNext(rows -> {
                    totals[0]++;
                    totals[1] += rows;
                })
                .then(Mono.fromSupplier(() -> new Report(totals[0], totals[1])))
                .doOnError(e -> runsFailed.increment());
    }

    /** Ends a run under way after its current hour. */
    public void stop() {
        stopping = true;
    }

    /**
     * Folds the oldest hour not folded if it is due; completes with the rows written ({@link #DONE_ELSEWHERE} when
     * another process folded it first), or empty when none is due.
     */
    private Mono<Long> foldNext() {
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement(FOLDED_BEFORE).execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, OffsetDateTime.class).toInstant()))
                        .single()
                        .filter(hour -> !hour.plusMillis(HOUR_MS).plus(delay).isAfter(clock.instant()))
                        .flatMap(hour -> fold(c, hour)),
                Connection::close,
                (c, err) -> Transactions.rollbackAndClose(c, deadline),
                c -> Transactions.rollbackAndClose(c, deadline))
                .timeout(deadline); // the connection, the read of folded_before and the fold: one deadline
    }

    private Mono<Long> fold(Connection c, Instant hour) {
        long started = System.nanoTime();
        OffsetDateTime from = hour.atOffset(ZoneOffset.UTC);
        OffsetDateTime to = from.plusHours(1);
        return Mono.from(c.beginTransaction())
                .then(StorageWriter.execute(c.createStatement(HOLD_HOUR).bind("$1", (int) Math.floorDiv(hour.toEpochMilli(), HOUR_MS))))
                .then(Flux.from(c.createStatement(FOLDED_BEFORE_LOCKED).execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, OffsetDateTime.class).toInstant()))
                        .single())
                .flatMap(folded -> {
                    if (!folded.equals(hour)) { // another writer process folded it meanwhile: not counted here
                        return Mono.from(c.commitTransaction()).then(Mono.just(DONE_ELSEWHERE));
                    }
                    return stageFolds(c, from, to)
                            .flatMap(rows -> StorageWriter.execute(c.createStatement(REPLACE_HOURS))
                                    .then(StorageWriter.execute(c.createStatement(MOVE_ON).bind("$1", to)))
                                    .then(Mono.from(c.commitTransaction()))
                                    .then(Mono.fromCallable(() -> {
                                        hoursFolded.increment();
                                        rowsWritten.increment(rows);
                                        hourTimer.record(Duration.ofNanos(System.nanoTime() - started));
                                        log.debug("Folded the 1-hour rollups of {}: {} rows", hour, rows);
                                        return rows;
                                    })));
                });
    }

    /** Reads the hour's 1-minute rows, folds them, and COPYs the folds into {@code stage_rollups}; how many. */
    private Mono<Long> stageFolds(Connection c, OffsetDateTime from, OffsetDateTime to) {
        PostgresqlConnection pg = StorageWriter.unwrap(c);
        return Mono.defer(() -> {
            ByteBuf out = StorageWriter.COPY_BUFFERS.buffer();
            CopyBinary.header(out);
            long[] rows = new long[1];
            HourFold fold = new HourFold((series, hourMs, summary, run) -> {
                WriteBatch.rollupRow(out, WriteBatch.ROLLUP_HOUR, series, hourMs, summary, run);
                rows[0]++;
            });
            return StorageWriter.execute(c.createStatement(StorageWriter.STAGING))
                    .thenMany(Flux.from(c.createStatement(MINUTES).bind("$1", from).bind("$2", to).execute())
                            .flatMap(r -> r.map((row, meta) -> {
                                fold.storedMinute(row.get(0, Long.class), row.get(1, OffsetDateTime.class).toInstant()
                                                .toEpochMilli(), row.get(2, Double.class), row.get(3, Double.class),
                                        row.get(4, Double.class), row.get(5, Long.class), row.get(6, Long.class),
                                        row.get(7, Long.class), row.get(8, Double.class), row.get(9, Long.class),
                                        row.get(10, Double.class), row.get(11, Double.class));
                                return 1;
                            })))
                    .then(Mono.defer(() -> {
                        fold.finish();
                        CopyBinary.trailer(out);
                        if (rows[0] == 0) {
                            return Mono.just(0L);
                        }
                        return StorageWriter.copy(pg, StorageWriter.COPY_ROLLUPS, out).thenReturn(rows[0]);
                    }))
                    .doFinally(signal -> out.release());
        });
    }
}
