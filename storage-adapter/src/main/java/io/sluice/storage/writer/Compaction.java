package io.sluice.storage.writer;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.WriterConfig;
import io.sluice.storage.chunks.ChunkMerge;
import io.sluice.storage.chunks.CounterRun;
import io.sluice.storage.chunks.SampleChunks;
import io.sluice.storage.postgres.PostgresFailures;
import io.sluice.storage.postgres.Transactions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Merges the chunks of one series' hour into few packed chunks, for hours that ended at least
 * {@code writer.compaction-delay} ago.
 *
 * <p>The writer adds one chunk per (series, hour) per batch, and migration V7 wrote plain (format 0) chunks. An hour
 * is compacted when it has more chunks than {@code writer.chunk-max-samples} requires, a chunk over that size, or a
 * plain chunk: its samples are merged in timestamp order and split into {@code ceil(n / max)} chunks of nearly equal
 * size, packed ({@link SampleChunks#PACKED}), that do not overlap in time.
 *
 * <p><b>Never blocks the writer.</b> Hours are compacted in short transactions of a few (series, hour) pairs (up to
 * {@code writer.compaction-transaction-samples} samples): {@code DELETE ... RETURNING} of exactly the chunks of those
 * pairs its snapshot sees, then one {@code INSERT} of the merged ones. The writer only inserts chunks and reads them
 * (for late samples) without locks, so neither waits for the other: a chunk the writer inserts meanwhile is not in
 * the DELETE's snapshot, stays, and is merged at a later run; a writer reading the hour sees either the old chunks
 * (compaction not committed) or the merged ones, the same samples either way. Compaction never adds or drops a
 * stored sample, so the writer's first-write-wins decision is unaffected. Two compactions of the same hour (two
 * writer processes) serialise on the DELETE's row locks; the second finds nothing left to merge.
 *
 * <p><b>Rate counters.</b> A late batch whose samples interleave with stored ones leaves its rollup buckets' rate
 * counters (V12's {@code points ... resets}) unknown: the writer cannot tell the drops between two interleaved parts.
 * Compaction holds every sample of the hour, so after its commit it sets those of the hour's unknown buckets whose
 * rows count exactly the samples it merged ({@link #HEAL}: one statement, rows a writer's transaction holds skipped).
 *
 * <p><b>Duplicates.</b> The writer stores a (series, timestamp) at most once, so compaction should never meet one.
 * If it does (a damaged or hand-made row), it keeps the value of the chunk that comes first in
 * {@code (min_ms, ctid)} order (within one chunk: the first in the chunk; {@link ChunkMerge}, the rule queries apply
 * too), drops the others, counts them in
 * {@code sluice_compaction_samples_total{result="duplicate_dropped"}} and logs a warning.
 *
 * <p><b>Bounded work.</b> Candidates come from one query per {@code writer.compaction-batch} pairs, in (hour, series)
 * keyset order; one run works through them all, holding one page of candidates and one transaction's samples at a
 * time. A
 * run looks at hours that ended between {@code writer.compaction-lookback} and {@code writer.compaction-delay} ago;
 * the first run after start looks back over all of {@code retention.raw} (migrated chunks, hours written late).
 */
public final class Compaction {

    private static final Logger log = LoggerFactory.getLogger(Compaction.class);

    /**
     * (series, hour) pairs that need compacting, after a keyset position. An hour needs it when it has more chunks
     * than its samples require, a chunk above the maximum, or a plain chunk (exactly 1 + 16 bytes per sample and
     * format byte 0; the length test first spares reading the data of the others).
     */
    private static final String CANDIDATES = """
            SELECT series_id, hour, sum(samples) FROM sample_chunks
            WHERE hour >= $1 AND hour < $2 AND (hour, series_id) > ($3, $4)
            GROUP BY hour, series_id
            HAVING count(*) > (sum(samples) + $5 - 1) / $5
                OR max(samples) > $5
                OR bool_or(CASE WHEN octet_length(data) = 1 + 16 * samples::bigint THEN get_byte(data, 0) = 0
                                ELSE false END)
            ORDER BY hour, series_id
            LIMIT $6""";
    /**
     * The commit does not wait for its WAL flush: a crash can lose only a whole compaction transaction (the old
     * chunks then stay, the same samples), never a part of it, and any later synchronous commit (the writer's)
     * flushes it.
     */
    private static final String NO_FLUSH_WAIT = "SET LOCAL synchronous_commit TO off";
    /** Exactly the rows of these (series, hour) pairs this statement's snapshot sees, locked and gone at commit. */
    private static final String TAKE = """
            DELETE FROM sample_chunks c USING unnest($1::bigint[], $2::bigint[]) AS k(series_id, hour_ms)
            WHERE c.series_id = k.series_id AND c.hour = timestamptz 'epoch' + k.hour_ms * interval '1 millisecond'
            RETURNING c.series_id, k.hour_ms, c.ctid::text, c.min_ms, c.data""";
    /** The merged chunks (data as base64: r2dbc-postgresql binds no bytea arrays). */
    private static final String PUT = """
            INSERT INTO sample_chunks (series_id, hour, min_ms, max_ms, samples, data)
            SELECT s, timestamptz 'epoch' + h * interval '1 millisecond', lo, hi, n, decode(d, 'base64')
            FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::int[], $6::text[])
                 AS u(s, h, lo, hi, n, d)""";

    /**
     * Which of the compacted (series, hour) pairs have an hourly rollup whose counters are unknown (a late batch
     * interleaved with a stored one; rows from before V12), or none yet (an hour not folded yet, migration V14): only
     * those are healed. A known hour has known minutes.
     */
    private static final String UNKNOWN_COUNTERS = """
            SELECT u.s, u.h FROM unnest($1::bigint[], $2::bigint[]) AS u(s, h)
            LEFT JOIN rollups_1h r ON r.series_id = u.s
                AND r.bucket = timestamptz 'epoch' + u.h * interval '1 millisecond'
            WHERE r.series_id IS NULL OR r.points IS NULL OR r.resets IS NULL""";
    /**
     * Sets a bucket's counters to what all its samples give, where they are unknown and the row still counts exactly
     * the samples compaction merged: a writer that added samples to the bucket meanwhile (its chunk not taken) changed
     * the count, and the bucket then stays unknown rather than miss them. A writer adding samples later joins its part
     * to these counters as it joins any stored part. Run on its own after the compaction commit, and rows a writer's
     * transaction holds are skipped, not waited for (that writer's chunk makes the hour a candidate again): the writer
     * never waits for compaction longer than this one statement takes.
     */
    private static final String HEAL = """
            WITH u AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
                           $6::float8[], $7::bigint[], $8::float8[], $9::float8[]) AS u(s, b, c, p, fm, fv, lm, lv, rs)),
                 free AS (SELECT x.series_id, x.bucket, u.* FROM %1$s x
                          JOIN u ON x.series_id = u.s AND x.bucket = timestamptz 'epoch' + u.b * interval '1 millisecond'
                          WHERE x.count = u.c AND (x.points IS NULL OR x.resets IS NULL)
                          FOR UPDATE OF x SKIP LOCKED)
            UPDATE %1$s r SET points = f.p, first_ms = f.fm, first_val = f.fv, last_ms = f.lm, last_val = f.lv,
                resets = f.rs
            FROM free f WHERE r.series_id = f.series_id AND r.bucket = f.bucket""";

    private final ConnectionFactory connections;
    private final Clock clock;
    private final int maxSamples;
    private final int batch;
    private final long transactionSamples;
    private final Duration delay;
    private final Duration lookback;
    private final Duration retention;
    private final Duration deadline;
    /** Test seam: runs inside each transaction, after its chunks are rewritten, just before COMMIT. */
    private final Supplier<Mono<Void>> beforeCommit;
    private final Counter chunksRead;
    private final Counter chunksWritten;
    private final Counter samplesKept;
    private final Counter duplicatesDropped;
    private final Counter hoursCompacted;
    private final Counter hoursFailed;
    private final Counter healedMinutes;
    private final Counter healedHours;
    private final Counter runsCompleted;
    private final Counter runsFailed;
    private final Timer runTimer;
    /** False until a run has covered everything within retention (the first run after start does). */
    private volatile boolean swept;
    private volatile boolean stopping;

    public Compaction(ConnectionFactory connections, WriterConfig config, Clock clock, MeterRegistry registry) {
        this(connections, config, clock, registry, Mono::empty);
    }

    Compaction(ConnectionFactory connections, WriterConfig config, Clock clock, MeterRegistry registry,
               Supplier<Mono<Void>> beforeCommit) {
        this.connections = connections;
        this.clock = clock;
        this.maxSamples = config.chunkMaxSamples();
        this.batch = config.compactionBatch();
        this.transactionSamples = config.compactionTransactionSamples();
        this.delay = config.compactionDelay();
        this.lookback = config.compactionLookback();
        this.retention = config.retentionRaw();
        this.deadline = config.compactionInterval();
        this.beforeCommit = beforeCommit;
        String chunks = "Chunks compaction read (and replaced) or wrote";
        this.chunksRead = Counter.builder("sluice_compaction_chunks").tag("result", "read").description(chunks)
                .register(registry);
        this.chunksWritten = Counter.builder("sluice_compaction_chunks").tag("result", "written").description(chunks)
                .register(registry);
        String samples = "Samples compaction rewrote, and duplicates (same series and timestamp) it dropped";
        this.samplesKept = Counter.builder("sluice_compaction_samples").tag("result", "kept").description(samples)
                .register(registry);
        this.duplicatesDropped = Counter.builder("sluice_compaction_samples").tag("result", "duplicate_dropped")
                .description(samples).register(registry);
        String hours = "Series hours compaction merged, or could not (rolled back, tried again next run)";
        this.hoursCompacted = Counter.builder("sluice_compaction_hours").tag("result", "compacted").description(hours)
                .register(registry);
        this.hoursFailed = Counter.builder("sluice_compaction_hours").tag("result", "failed").description(hours)
                .register(registry);
        String healed = "Rollup buckets whose unknown rate counters compaction set from all their samples";
        this.healedMinutes = Counter.builder("sluice_compaction_rollups_healed").tag("resolution", "1m")
                .description(healed).register(registry);
        this.healedHours = Counter.builder("sluice_compaction_rollups_healed").tag("resolution", "1h")
                .description(healed).register(registry);
        String runs = "Compaction runs, by how they ended";
        this.runsCompleted = Counter.builder("sluice_compaction_runs").tag("result", "completed").description(runs)
                .register(registry);
        this.runsFailed = Counter.builder("sluice_compaction_runs").tag("result", "failed").description(runs)
                .register(registry);
        this.runTimer = Timer.builder("sluice_compaction_run").description("One compaction run, end to end")
                .register(registry);
    }

    /** What one run did. */
    public record Report(long hours, long failed, long chunksRead, long chunksWritten, long samples, long duplicates) {
    }

    /** Mutable totals of one run (its steps run one after another). */
    private static final class Totals {
        long hours;
        long failed;
        long chunksRead;
        long chunksWritten;
        long samples;
        long duplicates;

        Report report() {
            return new Report(hours, failed, chunksRead, chunksWritten, samples, duplicates);
        }

        void add(Totals other) {
            hours += other.hours;
            failed += other.failed;
            chunksRead += other.chunksRead;
            chunksWritten += other.chunksWritten;
            samples += other.samples;
            duplicates += other.duplicates;
        }
    }

    /** A keyset position in (hour, series) order; {@code done} when no candidates are left. */
    private record Cursor(Instant hour, long series, boolean done) {
    }

    /** A (series, hour) to compact; hour in ms since the epoch. */
    private record Candidate(long series, long hourMs, long samples) {
    }

    /**
     * Compacts every hour that needs it in this run's range. A run asked to {@link #stop()} ends after the
     * transaction under way.
     */
    public Mono<Report> run() {
        return Mono.defer(() -> {
            long started = System.nanoTime();
            Instant now = clock.instant();
            Instant to = now.minus(delay).truncatedTo(ChronoUnit.HOURS); // hours < to have ended by now - delay
            boolean full = !swept;
            Instant from = full ? now.minus(retention).truncatedTo(ChronoUnit.DAYS)
                    : to.minus(lookback).truncatedTo(ChronoUnit.HOURS);
            Totals totals = new Totals();
            return Mono.just(new Cursor(from.minusSeconds(3600), Long.MIN_VALUE, false))
                    .expand(cursor -> cursor.done() || stopping ? Mono.empty() : step(from, to, cursor, totals))
                    .then(Mono.fromCallable(() -> {
                        if (full && !stopping) {
                            swept = true;
                        }
                        runsCompleted.increment();
                        long took = System.nanoTime() - started;
                        runTimer.record(took, TimeUnit.NANOSECONDS);
                        Report report = totals.report();
                        if (report.hours() > 0 || report.failed() > 0) {
                            log.info("Compaction: {} series hours merged ({} chunks into {}, {} samples) in {} ms{}",
                                    report.hours(), report.chunksRead(), report.chunksWritten(), report.samples(),
                                    TimeUnit.NANOSECONDS.toMillis(took),
                                    report.failed() > 0 ? "; " + report.failed() + " failed, tried again next run" : "");
                        }
                        return report;
                    }))
                    .doOnError(e -> {
                        runsFailed.increment();
                        runTimer.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
                    });
        });
    }

    /** Asks a run under way to end after its current transaction, and later runs to do nothing. */
    public void stop() {
        stopping = true;
    }

    /**
     * One page of candidates after {@code cursor}, compacted in transactions of up to
     * {@code writer.compaction-transaction-samples} samples; completes with the next cursor.
     */
    private Mono<Cursor> step(Instant from, Instant to, Cursor cursor, Totals totals) {
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement(CANDIDATES)
                                .bind("$1", from.atOffset(ZoneOffset.UTC)).bind("$2", to.atOffset(ZoneOffset.UTC))
                                .bind("$3", cursor.hour().atOffset(ZoneOffset.UTC)).bind("$4", cursor.series())
                                .bind("$5", maxSamples).bind("$6", batch).execute())
                        .flatMap(r -> r.map((row, meta) -> new Candidate(row.get(0, Long.class),
                                row.get(1, OffsetDateTime.class).toInstant().toEpochMilli(),
                                ((Number) row.get(2)).longValue())))
                        .collectList()
                        .timeout(deadline)
                        .flatMap(page -> Flux.fromIterable(groups(page, transactionSamples))
                                .concatMap(group -> stopping ? Mono.empty() : compact(c, group, totals))
                                .then(Mono.fromCallable(() -> {
                                    if (page.size() < batch) {
                                        return new Cursor(to, 0, true);
                                    }
                                    Candidate last = page.get(page.size() - 1);
                                    return new Cursor(Instant.ofEpochMilli(last.hourMs()), last.series(), false);
                                }))),
                Connection::close,
                (c, err) -> Transactions.rollbackAndClose(c, deadline),
                c -> Transactions.rollbackAndClose(c, deadline));
    }

    /** Consecutive candidates in groups of at most {@code maxSamples} samples (an hour with more is a group alone). */
    private static List<List<Candidate>> groups(List<Candidate> page, long maxSamples) {
        List<List<Candidate>> groups = new ArrayList<>();
        List<Candidate> group = new ArrayList<>();
        long samples = 0;
        for (Candidate k : page) {
            if (!group.isEmpty() && samples + k.samples() > maxSamples) {
                groups.add(group);
                group = new ArrayList<>();
                samples = 0;
            }
            group.add(k);
            samples += k.samples();
        }
        if (!group.isEmpty()) {
            groups.add(group);
        }
        return groups;
    }

    /**
     * These (series, hour) pairs in one transaction. When it fails for a reason of its own (a damaged chunk, a
     * deadlock with another compaction) it rolls back and its hours are tried one by one, so one bad hour holds up
     * no other; an hour that fails alone is counted and tried again next run.
     */
    private Mono<Void> compact(Connection c, List<Candidate> group, Totals totals) {
        return Mono.defer(() -> compactTogether(c, group, totals))
                .timeout(deadline)
                .onErrorResume(Compaction::isHourLocal, e -> Mono.from(c.rollbackTransaction()).then(Mono.defer(() -> {
                    if (group.size() > 1) {
                        return Flux.fromIterable(group).concatMap(k -> compact(c, List.of(k), totals)).then();
                    }
                    Candidate k = group.get(0);
                    hoursFailed.increment();
                    totals.failed++;
                    log.warn("Compaction of series {} hour {} failed ({}); rolled back, tried again next run",
                            k.series(), Instant.ofEpochMilli(k.hourMs()), e.toString());
                    return Mono.empty();
                })));
    }

    private Mono<Void> compactTogether(Connection c, List<Candidate> group, Totals totals) {
        Long[] series = group.stream().map(Candidate::series).toArray(Long[]::new);
        Long[] hours = group.stream().map(Candidate::hourMs).toArray(Long[]::new);
        return Mono.from(c.beginTransaction())
                .then(Flux.from(c.createStatement(NO_FLUSH_WAIT).execute()).flatMap(r -> r.getRowsUpdated()).then())
                .thenMany(Flux.from(c.createStatement(TAKE).bind("$1", series).bind("$2", hours).execute())
                        .flatMap(r -> r.map((row, meta) -> new Taken(row.get(0, Long.class), row.get(1, Long.class),
                                new StoredChunk(row.get(2, String.class), row.get(3, Long.class),
                                        row.get(4, byte[].class))))))
                .collectList()
                .publishOn(Schedulers.parallel()) // decoding and packing is CPU work, not for I/O threads
                .flatMap(taken -> {
                    Map<List<Long>, List<StoredChunk>> byHour = new LinkedHashMap<>();
                    taken.forEach(t -> byHour.computeIfAbsent(List.of(t.series(), t.hourMs()), x -> new ArrayList<>())
                            .add(t.chunk()));
                    List<Long> s = new ArrayList<>();
                    List<Long> h = new ArrayList<>();
                    List<Long> lo = new ArrayList<>();
                    List<Long> hi = new ArrayList<>();
                    List<Integer> n = new ArrayList<>();
                    List<String> d = new ArrayList<>();
                    Totals done = new Totals();
                    List<String> duplicates = new ArrayList<>();
                    Map<List<Long>, Merged> mergedByHour = new LinkedHashMap<>();
                    byHour.forEach((key, stored) -> {
                        Merged merged = merge(stored, maxSamples);
                        mergedByHour.put(key, merged);
                        for (PackedChunk p : merged.chunks()) {
                            s.add(key.get(0));
                            h.add(key.get(1));
                            lo.add(p.minMs());
                            hi.add(p.maxMs());
                            n.add(p.samples());
                            d.add(Base64.getEncoder().encodeToString(p.data()));
                        }
                        done.hours++;
                        done.chunksRead += stored.size();
                        done.chunksWritten += merged.chunks().size();
                        done.samples += merged.samples();
                        done.duplicates += merged.duplicates();
                        if (merged.duplicates() > 0) {
                            duplicates.add(merged.duplicates() + " of series " + key.get(0) + " hour "
                                    + Instant.ofEpochMilli(key.get(1)));
                        }
                    });
                    Mono<Void> put = s.isEmpty() ? Mono.empty() : Flux.from(c.createStatement(PUT)
                                    .bind("$1", s.toArray(Long[]::new)).bind("$2", h.toArray(Long[]::new))
                                    .bind("$3", lo.toArray(Long[]::new)).bind("$4", hi.toArray(Long[]::new))
                                    .bind("$5", n.toArray(Integer[]::new)).bind("$6", d.toArray(String[]::new))
                                    .execute())
                            .flatMap(r -> r.getRowsUpdated()).then();
                    return put.then(beforeCommit.get())
                            .then(Mono.from(c.commitTransaction()))
                            .then(Mono.fromRunnable(() -> { // committed: counted whatever becomes of the heal
                                chunksRead.increment(done.chunksRead);
                                chunksWritten.increment(done.chunksWritten);
                                samplesKept.increment(done.samples);
                                duplicatesDropped.increment(done.duplicates);
                                hoursCompacted.increment(done.hours);
                                totals.add(done);
                                if (!duplicates.isEmpty()) {
                                    log.warn("Compaction dropped duplicate samples (same timestamp twice; the first "
                                            + "chunk in (min_ms, ctid) order won): {}", duplicates);
                                }
                            }))
                            .then(heal(c, mergedByHour).onErrorResume(e -> !isHourLocal(e) ? Mono.error(e)
                                    : Mono.fromRunnable(() -> log.warn("Compaction could not set the rate counters "
                                    + "of {} merged series hours ({}); they stay unknown", mergedByHour.size(),
                                    e.toString()))));
                })
                .then();
    }

    /**
     * Sets the unknown rate counters ({@code points ... resets} of V12) of the merged hours' rollups from all their
     * samples, where the rows count exactly those samples; counts the buckets set.
     */
    private Mono<Void> heal(Connection c, Map<List<Long>, Merged> merged) {
        if (merged.isEmpty()) {
            return Mono.empty();
        }
        Long[] series = merged.keySet().stream().map(k -> k.get(0)).toArray(Long[]::new);
        Long[] hours = merged.keySet().stream().map(k -> k.get(1)).toArray(Long[]::new);
        return Flux.from(c.createStatement(UNKNOWN_COUNTERS).bind("$1", series).bind("$2", hours).execute())
                .flatMap(r -> r.map((row, meta) -> List.of(row.get(0, Long.class), ((Number) row.get(1)).longValue())))
                .collectList()
                .flatMap(unknown -> {
                    if (unknown.isEmpty()) {
                        return Mono.empty();
                    }
                    List<Long> ids = new ArrayList<>();
                    List<BucketCounters> minutes = new ArrayList<>();
                    List<Long> hourIds = new ArrayList<>();
                    List<BucketCounters> hourly = new ArrayList<>();
                    for (List<Long> key : unknown) {
                        Merged m = merged.get(key);
                        if (m == null || m.hour() == null) {
                            continue;
                        }
                        for (BucketCounters minute : m.minutes()) {
                            ids.add(key.get(0));
                            minutes.add(minute);
                        }
                        hourIds.add(key.get(0));
                        hourly.add(m.hour());
                    }
                    return update(c, "rollups_1m", ids, minutes).doOnNext(healedMinutes::increment)
                            .then(update(c, "rollups_1h", hourIds, hourly).doOnNext(healedHours::increment))
                            .then();
                });
    }

    private static Mono<Long> update(Connection c, String table, List<Long> series, List<BucketCounters> buckets) {
        if (buckets.isEmpty()) {
            return Mono.just(0L);
        }
        return Flux.from(c.createStatement(HEAL.formatted(table))
                        .bind("$1", series.toArray(Long[]::new))
                        .bind("$2", buckets.stream().map(BucketCounters::bucketMs).toArray(Long[]::new))
                        .bind("$3", buckets.stream().map(BucketCounters::count).toArray(Long[]::new))
                        .bind("$4", buckets.stream().map(BucketCounters::points).toArray(Long[]::new))
                        .bind("$5", buckets.stream().map(BucketCounters::firstMs).toArray(Long[]::new))
                        .bind("$6", buckets.stream().map(BucketCounters::first).toArray(Double[]::new))
                        .bind("$7", buckets.stream().map(BucketCounters::lastMs).toArray(Long[]::new))
                        .bind("$8", buckets.stream().map(BucketCounters::last).toArray(Double[]::new))
                        .bind("$9", buckets.stream().map(BucketCounters::resets).toArray(Double[]::new))
                        .execute())
                .flatMap(r -> r.getRowsUpdated())
                .reduce(0L, Long::sum);
    }

    /** A row the DELETE returned. */
    private record Taken(long series, long hourMs, StoredChunk chunk) {
    }

    /**
     * A failure of this hour only, after which the connection is still usable: its data (a damaged chunk), or an
     * answer of PostgreSQL to it (a deadlock with another compaction, a statement timeout, a constraint), but not a
     * lost connection or a server shutting down.
     */
    private static boolean isHourLocal(Throwable e) {
        if (e instanceof SampleChunks.InvalidChunkException || e instanceof IllegalArgumentException) {
            return true;
        }
        String state = PostgresFailures.sqlState(e);
        return state != null && !state.startsWith("08") && !state.startsWith("57P");
    }

    // ---- the merge (pure) -------------------------------------------------------------------------------

    /** A stored chunk as the DELETE returned it: {@code ctid} as text ({@code (block,offset)}), min_ms, data. */
    record StoredChunk(String ctid, long minMs, byte[] data) {

        long block() {
            return Long.parseLong(ctid.substring(1, ctid.indexOf(',')));
        }

        int offset() {
            return Integer.parseInt(ctid.substring(ctid.indexOf(',') + 1, ctid.length() - 1));
        }
    }

    /** A chunk compaction writes. */
    record PackedChunk(long minMs, long maxMs, int samples, byte[] data) {
    }

    /**
     * The merged chunks of an hour, how many samples they hold and how many duplicates were dropped, and the rate
     * counters of its minutes and of the hour over those samples (null hour: no sample).
     */
    record Merged(List<PackedChunk> chunks, long samples, long duplicates, List<BucketCounters> minutes,
                  BucketCounters hour) {
    }

    /** A rollup bucket's sample count (staleness markers included) and its {@link CounterRun}'s figures. */
    record BucketCounters(long bucketMs, long count, long points, long firstMs, double first, long lastMs, double last,
                          double resets) {

        static BucketCounters of(long bucketMs, long count, CounterRun run) {
            return new BucketCounters(bucketMs, count, run.points(), run.firstMs(), run.first(), run.lastMs(),
                    run.last(), run.resets());
        }
    }

    /**
     * The samples of these chunks in timestamp order, each timestamp once (the first chunk in (min_ms, ctid) order
     * wins), split into {@code ceil(n / maxSamples)} packed chunks of nearly equal size.
     */
    static Merged merge(List<StoredChunk> stored, int maxSamples) {
        List<StoredChunk> ordered = new ArrayList<>(stored);
        ordered.sort(Comparator.comparingLong(StoredChunk::minMs).thenComparingLong(StoredChunk::block)
                .thenComparingInt(StoredChunk::offset));
        ChunkMerge merge = new ChunkMerge();
        for (StoredChunk chunk : ordered) {
            merge.add(chunk.data());
        }
        merge.merge();
        int out = merge.size();
        long duplicates = merge.duplicates();
        long[] outTs = merge.timestamps();
        double[] outVs = merge.values();
        List<PackedChunk> chunks = new ArrayList<>();
        List<BucketCounters> minutes = new ArrayList<>();
        CounterRun hourly = new CounterRun();
        for (int i = 0; i < out; ) {
            long minute = Math.floorDiv(outTs[i], 60_000L) * 60_000L;
            CounterRun run = new CounterRun();
            int from = i;
            for (; i < out && outTs[i] < minute + 60_000L; i++) {
                run.add(outTs[i], outVs[i]);
                hourly.add(outTs[i], outVs[i]);
            }
            minutes.add(BucketCounters.of(minute, i - from, run));
        }
        if (out > 0) {
            int parts = (out + maxSamples - 1) / maxSamples;
            int base = out / parts;
            int bigger = out % parts;
            int from = 0;
            for (int p = 0; p < parts; p++) {
                int to = from + base + (p < bigger ? 1 : 0);
                chunks.add(new PackedChunk(outTs[from], outTs[to - 1], to - from,
                        SampleChunks.pack(outTs, outVs, from, to)));
                from = to;
            }
        }
        BucketCounters hour = out == 0 ? null
                : BucketCounters.of(Math.floorDiv(outTs[0], 3_600_000L) * 3_600_000L, out, hourly);
        return new Merged(chunks, out, duplicates, minutes, hour);
    }
}
