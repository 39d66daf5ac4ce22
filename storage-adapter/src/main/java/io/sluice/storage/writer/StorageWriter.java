package io.sluice.storage.writer;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.reactor.circuitbreaker.operator.CircuitBreakerOperator;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.Statement;
import io.r2dbc.spi.Wrapped;
import io.sluice.config.KafkaConfig;
import io.sluice.config.WriterConfig;
import io.sluice.protocol.segment.SegmentFormat;
import io.sluice.storage.SeriesIds;
import io.sluice.storage.chunks.SampleChunks;
import io.sluice.storage.invalidation.WriteAnnouncer;
import io.sluice.storage.kafka.ControlPublisher;
import io.sluice.storage.kafka.KafkaClients;
import io.sluice.storage.kafka.ReactorKafkaSink;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.GracefulStop;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.PostgresFailures;
import io.sluice.storage.postgres.Transactions;
import org.apache.kafka.common.TopicPartition;
import org.reactivestreams.Publisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.kafka.receiver.KafkaReceiver;
import reactor.kafka.receiver.ReceiverPartition;
import reactor.kafka.receiver.ReceiverRecord;
import reactor.core.scheduler.Schedulers;
import reactor.util.retry.Retry;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * The storage writer: moves segments from the metrics and events topics into PostgreSQL exactly once.
 *
 * <p>For each partition, a run of records is applied in ONE transaction that locks the partition's row
 * in {@code writer_offsets}, skips records below the stored offset (so a redelivery is a no-op), COPYs new series
 * and events into staging tables, and stores the run's samples as chunks: a sample after its series' head (the newest
 * stored timestamp, which the writer remembers per partition or looks up: {@link #heads}) is new, one at or before it
 * is new only if the chunks of its hour do not hold its timestamp (the first write wins), and the new samples go in as
 * one packed chunk per series and UTC hour ({@code sample_chunks}) with their 1-minute summaries computed here
 * ({@link io.sluice.storage.chunks.Summary}) and merged into the rollups (and their 1-hour ones, for hours already
 * folded: {@link RollupFold} makes the others' from the minutes once they ended); then the next offset moves.
 * Writers share the partitions through a Kafka consumer group; a partition given to a writer is sought to its stored
 * offset. A crash at any point, or a partition moving between writers, therefore
 * neither loses nor double counts anything.
 *
 * <p>Records of the clicks topic are events of type {@code click} keyed by link code; they are added to the
 * per-minute counters in {@code link_clicks} in the same kind of transaction.
 *
 * <p>Transient PostgreSQL failures go through a circuit breaker and are retried with backoff; while a batch is
 * retried its partition takes no more records, so no offset moves until PostgreSQL is back. A failure that
 * will recur ({@link PostgresFailures#isPermanent}) makes the writer apply the run record by record, and a
 * record that still fails alone (or is not a valid segment) goes to {@code dead_letters} in the transaction that
 * moves the offset past it: one bad record never blocks its partition.
 */
public final class StorageWriter implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(StorageWriter.class);

    static final String STAGING = """
            CREATE TEMP TABLE IF NOT EXISTS stage_series (id bigint, tenant text, name text, labels text) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS stage_rollups (res int, series_id bigint, bucket timestamptz,
                min float8, max float8, sum float8, count bigint, points bigint, first_ms bigint, first_val float8,
                last_ms bigint, last_val float8, resets float8) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS stage_events (tenant text, event_id text, type text, ts_ms bigint, key text,
                attributes text, seq bigint) ON COMMIT DELETE ROWS""";
    private static final String INSERT_SERIES = """
            INSERT INTO series (id, tenant, name, labels, first_seen, last_seen)
            SELECT id, tenant, name, labels::jsonb, now(), now() FROM stage_series
            ON CONFLICT (id) DO UPDATE SET last_seen = now() WHERE series.last_seen < now() - interval '1 hour'""";
    /**
     * The heads of the series of a batch that the writer does not remember ({@code $1}): per series, the newest
     * timestamp stored since the raw horizon ({@code $2}), from its newest 1-minute rollup, which the transaction that
     * stored its samples merged. The rollup's {@code last_ms} is that timestamp when its counter run is known and holds
     * every sample of the minute ({@code points = count}: no staleness marker); otherwise the minute's last millisecond
     * stands for it (the batch's samples of that minute are then looked up in the chunks). The minute the horizon
     * falls in counts (a sample at or after the horizon may lie in it), and the one before (the batch was encoded
     * against the horizon of a moment ago). A head kept in {@code series_heads} by a writer
     * before V15 counts too: it covers what was stored before rollups had to outlive raw samples. A series with
     * neither has nothing stored that a batch could repeat: it is left out. The transaction holds the partition's
     * offset and the placement first (see {@link #holdPlacement}), so no other transaction stores samples of these
     * series until it ends.
     */
    private static final String LOOK_UP_HEADS = """
            SELECT l.id, greatest(CASE WHEN r.points = r.count AND r.last_ms IS NOT NULL THEN r.last_ms
                                       ELSE (extract(epoch FROM r.bucket) * 1000)::bigint + 59999 END, h.max_ms)
            FROM unnest($1::bigint[]) AS l(id)
            LEFT JOIN LATERAL (
                SELECT bucket, count, points, last_ms FROM rollups_1m
                WHERE series_id = l.id AND bucket >= date_trunc('minute', $2::timestamptz, 'UTC') - interval '1 minute'
                ORDER BY bucket DESC LIMIT 1) r ON true
            LEFT JOIN series_heads h ON h.series_id = l.id
            WHERE r.bucket IS NOT NULL OR h.series_id IS NOT NULL""";
    /** See migration V15: holds the metrics topic's placement, shared or exclusively, and answers its epoch. */
    private static final String HOLD_PLACEMENT = "SELECT sluice_hold_placement($1, $2, $3, $4)";
    /** The chunks that may hold samples at or before a series' head: only for samples that come late. */
    private static final String STORED_CHUNKS = """
            SELECT c.series_id, c.data
            FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS l(id, lo, hi)
            JOIN sample_chunks c ON c.series_id = l.id
             AND c.hour >= date_trunc('hour', timestamptz 'epoch' + l.lo * interval '1 millisecond', 'UTC')
             AND c.hour <= timestamptz 'epoch' + l.hi * interval '1 millisecond'
             AND c.max_ms >= l.lo AND c.min_ms <= l.hi""";
    /**
     * Holds the batch's hours against a fold until commit and answers which hours are folded (migration V14): the batch
     * merges 1-hour rows for those only, and a fold of any other hour waits for this transaction and sees its
     * 1-minute rows.
     */
    private static final String HOLD_HOURS = "SELECT sluice_hold_rollup_hours($1::bigint[])";
    private static final String COPY_CHUNKS =
            "COPY sample_chunks (series_id, hour, min_ms, max_ms, samples, data) FROM STDIN (FORMAT binary)";
    static final String COPY_ROLLUPS = "COPY stage_rollups FROM STDIN (FORMAT binary)";
    /**
     * The batch's 1-minute summaries (and 1-hour ones, for folded hours) merged into the rollups: counts add, sums add as IEEE doubles
     * ({@code sluice_add}: an overflow is ±Infinity), min and max combine skipping NaN (see {@code Summary}); the
     * counter columns join as {@code CounterRun} says ({@code sluice_resets}, migration V12). The resolutions are
     * bound ({@link #mergeRollups}), so the driver prepares the statement once per connection and PostgreSQL reuses its
     * plan: parsed and planned in every transaction (the sluice_* functions inlined each time), it cost PostgreSQL about
     * 3 ms more per transaction of 1,400 rollup rows (pgbench, simple protocol against prepared).
     */
    private static final String MERGE_ROLLUPS = """
            WITH m AS (
                INSERT INTO rollups_1m AS r (%1$s)
                SELECT %1$s FROM stage_rollups WHERE res = $1
                ON CONFLICT (series_id, bucket) DO UPDATE SET %2$s
                RETURNING 1
            )
            INSERT INTO rollups_1h AS r (%1$s)
            SELECT %1$s FROM stage_rollups WHERE res = $2
            ON CONFLICT (series_id, bucket) DO UPDATE SET %2$s""".formatted(
            "series_id, bucket, min, max, sum, count, points, first_ms, first_val, last_ms, last_val, resets", """
            min = sluice_min(r.min, EXCLUDED.min), max = sluice_max(r.max, EXCLUDED.max),
                sum = sluice_add(r.sum, EXCLUDED.sum), count = r.count + EXCLUDED.count,
                points = r.points + EXCLUDED.points,
                resets = sluice_resets(r.points, r.resets, r.first_ms, r.first_val, r.last_ms, r.last_val,
                    EXCLUDED.points, EXCLUDED.resets, EXCLUDED.first_ms, EXCLUDED.first_val, EXCLUDED.last_ms,
                    EXCLUDED.last_val),
                first_ms = CASE WHEN EXCLUDED.points = 0 THEN r.first_ms
                    WHEN r.points = 0 OR EXCLUDED.first_ms < r.first_ms THEN EXCLUDED.first_ms ELSE r.first_ms END,
                first_val = CASE WHEN EXCLUDED.points = 0 THEN r.first_val
                    WHEN r.points = 0 OR EXCLUDED.first_ms < r.first_ms THEN EXCLUDED.first_val ELSE r.first_val END,
                last_ms = CASE WHEN EXCLUDED.points = 0 THEN r.last_ms
                    WHEN r.points = 0 OR EXCLUDED.last_ms > r.last_ms THEN EXCLUDED.last_ms ELSE r.last_ms END,
                last_val = CASE WHEN EXCLUDED.points = 0 THEN r.last_val
                    WHEN r.points = 0 OR EXCLUDED.last_ms > r.last_ms THEN EXCLUDED.last_val ELSE r.last_val END""");

    /**
     * Events are unique per tenant by id, whatever their timestamp: the first copy in log order of an id not yet
     * in {@code event_ids} is inserted, every later copy (in this batch or any later one) is dropped.
     */
    private static final String INSERT_EVENTS = """
            WITH firsts AS (
                SELECT DISTINCT ON (tenant, event_id) tenant, event_id, type,
                       timestamptz 'epoch' + ts_ms * interval '1 millisecond' AS ts, key, attributes
                FROM stage_events ORDER BY tenant, event_id, seq
            ), fresh AS (
                INSERT INTO event_ids (tenant, event_id, ts)
                SELECT tenant, event_id, ts FROM firsts
                ON CONFLICT DO NOTHING
                RETURNING tenant, event_id
            )
            INSERT INTO events (tenant, event_id, type, ts, key, attributes)
            SELECT f.tenant, f.event_id, f.type, f.ts, f.key, f.attributes::jsonb
            FROM firsts f JOIN fresh USING (tenant, event_id)
            ON CONFLICT DO NOTHING""";

    /** How often partitions are created ahead and expired ones dropped. */
    public static final Duration MAINTENANCE_EVERY = Duration.ofHours(1);

    /**
     * Clicks (events of type click, key = link code, attribute {@code count}: how many clicks the event
     * stands for; 1 when absent or not a number) become per-minute counters.
     */
    private static final String UPSERT_CLICKS = """
            INSERT INTO link_clicks AS l (code, minute, clicks, bots)
            SELECT key, date_bin('1 minute', timestamptz 'epoch' + ts_ms * interval '1 millisecond',
                                 timestamptz '2000-01-01 00:00:00+00'),
                   sum(n), coalesce(sum(n) FILTER (WHERE bot), 0)
            FROM (SELECT key, ts_ms, a ->> 'bot' = 'true' AS bot, CASE WHEN a ->> 'count' ~ '^[0-9]{1,18}$' THEN (a ->> 'count')::bigint ELSE 1 END AS n
                  FROM (SELECT key, ts_ms, attributes::jsonb AS a FROM stage_events) e) c
            GROUP BY 1, 2
            ON CONFLICT (code, minute) DO UPDATE SET clicks = l.clicks + EXCLUDED.clicks, bots = l.bots + EXCLUDED.bots""";

    private final KafkaConfig kafka;
    private final WriterConfig config;
    private final Topics topics;
    private final ConnectionFactory connections;
    private final PartitionMaintenance partitions;
    private final Compaction compaction;
    private final RollupFold fold;
    /** The newest {@code rollup_folds.folded_before} a transaction of this writer saw (ms): its guess for the next batch. */
    private final AtomicLong foldedBefore = new AtomicLong(Long.MIN_VALUE);
    private final ByteBufAllocator alloc;
    private final CircuitBreaker breaker;
    private final Map<TopicPartition, AtomicLong> applied = new ConcurrentHashMap<>();
    private final Map<TopicPartition, AtomicLong> ends = new ConcurrentHashMap<>();
    /** The partitions the consumer group gives this writer now. */
    private final Set<TopicPartition> owned = ConcurrentHashMap.newKeySet();
    /** Per metrics partition this writer applies, the heads of its series as far as it knows them. */
    private final Map<TopicPartition, PartitionHeads> partitionHeads = new ConcurrentHashMap<>();
    /**
     * Set when an attempt failed for want of an answer from PostgreSQL (no connection, a passed deadline); cleared by
     * the next attempt or check that PostgreSQL answers. While set, attempts check first ({@link #applyWithRetry}).
     */
    private volatile boolean silent;
    /** Set once a shared hold of the placement found another partition count: then every batch holds it exclusively. */
    private volatile boolean placementStale;
    private final Counter headsLookedUp;
    private final Counter headsForgotten;
    /** How long an assignment waits for PostgreSQL's stored offsets. */
    static final Duration OFFSETS_TIMEOUT = Duration.ofSeconds(10);
    private final Counter samplesInserted;
    private final Counter samplesDuplicate;
    private final Counter seriesUpserted;
    /** Series known to be in the series table this hour: batches upsert only the others. */
    private final KnownSeries knownSeries;
    private final Counter eventsWritten;
    private final Counter clicksWritten;
    private final Counter skippedExpired;
    private final Counter deadlineExceeded;
    private final Counter runsDecoded;
    private final DeadLetters.Counters deadLetters;
    private final Timer batchTimer;
    private final MeterRegistry registry;
    /** Test seam: runs inside the transaction just before COMMIT. */
    private final Function<TopicPartition, Mono<Void>> beforeCommit;
    private Disposable running;
    /** Announces committed writes on the control topic; set by {@link #start()}. */
    private volatile WriteAnnouncer announcer;
    private ReactorKafkaSink announcements;
    /** Stopped by {@link #close()}: no new batch starts; the ones under way may finish. */
    private final GracefulStop stop = new GracefulStop();
    /** How long {@link #close()} lets in-flight batches finish before it cancels (rolls back) them. */
    static final Duration STOP_GRACE = Duration.ofSeconds(5);

    StorageWriter(KafkaConfig kafka, WriterConfig config, Topics topics, ConnectionFactory connections,
                  PartitionMaintenance partitions, ByteBufAllocator alloc, MeterRegistry registry,
                  Function<TopicPartition, Mono<Void>> beforeCommit) {
        this.kafka = kafka;
        this.config = config;
        this.topics = topics;
        this.connections = connections;
        this.partitions = partitions;
        this.compaction = new Compaction(connections, config, partitions.clock(), registry);
        this.fold = new RollupFold(connections, config, partitions.clock(), registry);
        this.alloc = alloc;
        this.registry = registry;
        this.beforeCommit = beforeCommit;
        this.breaker = CircuitBreaker.of("postgres-writer", CircuitBreakerConfig.custom()
                .slidingWindowSize(10).minimumNumberOfCalls(3).failureRateThreshold(50)
                .waitDurationInOpenState(Duration.ofSeconds(2)).permittedNumberOfCallsInHalfOpenState(1)
                .build());
        io.sluice.storage.health.BreakerGauge.register(registry, "sluice_writer_breaker_state",
                "Storage writer's PostgreSQL", breaker);
        this.samplesInserted = Counter.builder("sluice_writer_rows").tag("table", "samples")
                .description("Rows the storage writer inserted").register(registry);
        this.seriesUpserted = Counter.builder("sluice_writer_series_upserted")
                .description("Series rows the storage writer upserted: those of its batches it did not know to be "
                        + "stored already this hour (writer.known-series)").register(registry);
        this.knownSeries = new KnownSeries(config.knownSeries(), partitions.clock());
        this.headsLookedUp = Counter.builder("sluice_writer_heads_looked_up")
                .description("Series whose newest stored timestamp a batch looked up in PostgreSQL (the writer did not "
                        + "remember it: first seen since the partition came to this writer, or forgotten)")
                .register(registry);
        Gauge.builder("sluice_writer_placement_stale", this, w -> w.placementStale ? 1 : 0)
                .description("1 once this writer found the metrics topic's series placed by a partition count other "
                        + "than its own (another writer started since with another count): each of its batches then "
                        + "holds the placement exclusively, and it should be restarted").register(registry);
        this.headsForgotten = Counter.builder("sluice_writer_heads_forgotten")
                .description("Series whose newest stored timestamp the writer forgot to make room for others (a "
                        + "partition had more series than its share of writer.known-series); the next batch of each "
                        + "looks it up again").register(registry);
        this.eventsWritten = Counter.builder("sluice_writer_rows").tag("table", "events")
                .description("Rows the storage writer inserted").register(registry);
        this.clicksWritten = Counter.builder("sluice_writer_rows").tag("table", "link_clicks")
                .description("Rows the storage writer inserted").register(registry);
        this.samplesDuplicate = Counter.builder("sluice_writer_duplicates").tag("table", "samples")
                .description("Rows already stored (a resent batch), skipped").register(registry);
        this.skippedExpired = Counter.builder("sluice_writer_skipped").tag("reason", "past_retention")
                .description("Rows the writer could not store").register(registry);
        this.deadLetters = new DeadLetters.Counters(registry);
        this.deadlineExceeded = Counter.builder("sluice_writer_deadline_exceeded")
                .description("Writer transactions cancelled (rolled back, retried) after writer.transaction-timeout, "
                        + "and checks that PostgreSQL answers (before a retry, or any attempt while it is not answering) "
                        + "that passed it")
                .register(registry);
        this.runsDecoded = Counter.builder("sluice_writer_runs_decoded")
                .description("Runs of records the storage writer decoded into rows: one per attempt to apply a run (a "
                        + "retry decodes its run again, once PostgreSQL answers)").register(registry);
        Gauge.builder("sluice_writer_partitions", owned, Set::size)
                .description("Partitions the writers' consumer group gives this writer now").register(registry);
        this.batchTimer = Timer.builder("sluice_writer_batch").description("One partition batch, end to end")
                .publishPercentiles(0.5, 0.99).register(registry);
    }

    /** A writer for the metrics and events topics; call {@link #start()}. */
    public static StorageWriter create(KafkaConfig kafka, WriterConfig config, Topics topics,
                                       ConnectionFactory connections, PartitionMaintenance partitions,
                                       MeterRegistry registry) {
        return new StorageWriter(kafka, config, topics, connections, partitions, COPY_BUFFERS, registry,
                tp -> Mono.empty());
    }

    /**
     * COPY payloads live in plain heap buffers, not pooled ones: r2dbc-postgresql 1.1.3 does not release a
     * buffer given to {@code copyIn} when the connection is closed under it (PostgreSQL restarting), and a
     * heap buffer it forgets is simply garbage collected.
     */
    static final ByteBufAllocator COPY_BUFFERS = new io.netty.buffer.UnpooledByteBufAllocator(false, true);

    /**
     * Joins the writers' consumer group on the metrics, events and clicks topics and starts applying what it is
     * assigned. Each partition it is given (at start, and at every rebalance: another writer joined or left) is sought
     * to the offset stored in PostgreSQL, so a partition that moves between writers is neither lost nor applied twice
     * (the transaction's offset lock makes a run another writer applied meanwhile a no-op). Blocking: call at start-up.
     */
    public StorageWriter start() {
        // the gateways' metrics segments are LZ4 blocks: the native decompressor is about 7x the Java one; loading it
        // may write a file, so here, at start-up
        if (!io.sluice.protocol.codec.Lz4Blocks.useNative()) {
            log.info("LZ4: no native lz4-java library for this platform; segments are decompressed in Java");
        }
        List<String> subscribed = List.of(topics.metrics(), topics.events(), topics.clicks());
        int partitionCount = subscribed.stream().mapToInt(topics::partitions).sum();
        partitions.run().block(Duration.ofMinutes(2));
        place().block(OFFSETS_TIMEOUT);
        KafkaClients clients = new KafkaClients(kafka);
        announcements = new ReactorKafkaSink(clients);
        announcer = new WriteAnnouncer(new ControlPublisher(announcements, topics), kafka.requestTimeout(), registry);
        KafkaReceiver<byte[], byte[]> receiver = clients.writerReceiver(config, options -> options
                .subscription(subscribed)
                .addAssignListener(given -> {
                    // on the consumer's own thread, inside poll: the seek must happen before its next fetch
                    Map<TopicPartition, Long> stored = offsetsToSeek();
                    for (ReceiverPartition p : given) {
                        TopicPartition tp = p.topicPartition();
                        AtomicLong next = track(tp);
                        owned.add(tp);
                        Long offset = stored.get(tp);
                        if (offset != null) {
                            next.accumulateAndGet(offset, Math::max);
                            p.seek(offset);
                        } else {
                            p.seekToBeginning();
                        }
                    }
                    log.info("Storage writer assigned {} partition(s): {}", given.size(),
                            given.stream().map(p -> p.topicPartition().toString()).sorted().toList());
                })
                .addRevokeListener(taken -> taken.forEach(p -> {
                    owned.remove(p.topicPartition());
                    partitionHeads.remove(p.topicPartition());
                })));
        Disposable lag = Flux.interval(Duration.ofSeconds(5))
                .flatMap(i -> receiver.doOnConsumer(c -> c.endOffsets(c.assignment())).onErrorResume(e -> Mono.empty()))
                .subscribe(endOffsets -> endOffsets.forEach((tp, end) -> {
                    track(tp);
                    ends.get(tp).set(end);
                }));
        Disposable work = receiver.receive()
                .groupBy(r -> r.receiverOffset().topicPartition(), partitionCount)
                .flatMap(group -> inBatches(group, StorageWriter::bytes, 2 * config.maxBatchBytes(),
                        config.maxBatchRecords(), config.maxBatchWait(),
                        batch -> Flux.fromIterable(byBytes(batch, config.maxBatchBytes()))
                                .concatMap(run -> applyUnlessStopping(group.key(), run), 0)), partitionCount)
                .subscribe(v -> { }, e -> log.error("Storage writer stopped", e));
        Disposable maintenance = Flux.interval(MAINTENANCE_EVERY, MAINTENANCE_EVERY)
                .concatMap(i -> partitions.run().onErrorResume(e -> {
                    log.warn("Partition maintenance failed; next try in {}", MAINTENANCE_EVERY, e);
                    return Mono.empty();
                }))
                .subscribe();
        Disposable compacting = Flux.interval(config.compactionInterval(), config.compactionInterval())
                .onBackpressureDrop()
                .concatMap(i -> tracked(compaction.run().onErrorResume(e -> {
                    log.warn("Chunk compaction failed; next try in {}", config.compactionInterval(), e);
                    return Mono.empty();
                })), 1)
                .subscribe();
        Duration foldEvery = foldInterval(config.rollupFoldDelay());
        Disposable folding = Flux.interval(foldEvery, foldEvery)
                .onBackpressureDrop()
                .concatMap(i -> tracked(fold.run().onErrorResume(e -> {
                    log.warn("Folding 1-hour rollups failed; next try in {}", foldEvery, e);
                    return Mono.empty();
                })), 1)
                .subscribe();
        running = () -> {
            work.dispose();
            lag.dispose();
            maintenance.dispose();
            compacting.dispose();
            folding.dispose();
        };
        log.info("Storage writer joined consumer group {} for the {} partitions of {}, {} and {}",
                kafka.clientId() + "-writer", partitionCount, topics.metrics(), topics.events(), topics.clicks());
        return this;
    }

    /** What this writer remembers of a partition's heads: only of the metrics topic's partitions. */
    private PartitionHeads heads(TopicPartition tp) {
        if (!tp.topic().equals(topics.metrics())) {
            return null;
        }
        return partitionHeads.computeIfAbsent(tp, k -> new PartitionHeads(
                config.knownSeries() / Math.max(1, topics.partitions(topics.metrics()))));
    }

    /**
     * Sets the metrics topic's placement to this writer's partition count, holding it exclusively. A new count moves
     * the epoch (every writer forgets the heads it remembered) and makes a writer that places series by another count
     * hold it exclusively for every batch; the count it already is changes nothing (V16).
     */
    Mono<Void> place() {
        int count = topics.partitions(topics.metrics());
        return Mono.usingWhen(connections.create(),
                c -> Mono.from(c.beginTransaction())
                        .then(holdPlacement(c, count, true, true))
                        .then(Mono.from(c.commitTransaction())),
                Connection::close,
                (c, err) -> Transactions.rollbackAndClose(c, config.transactionTimeout()),
                c -> Transactions.rollbackAndClose(c, config.transactionTimeout()));
    }

    /** How often folds are looked for: half of {@code writer.rollup-fold-delay}, from 1 s to 1 min. */
    static Duration foldInterval(Duration delay) {
        Duration half = delay.dividedBy(2);
        return half.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1)
                : half.compareTo(Duration.ofMinutes(1)) > 0 ? Duration.ofMinutes(1) : half;
    }

    /**
     * A partition's records applied batch after batch: a batch is taken only once {@code apply} finished the one
     * before, and holds everything that arrived meanwhile, up to {@code maxRecords} (after {@code maxWait} when
     * fewer came), so a record waits for at most the transaction under way and its own, and batches grow with the
     * load. Fair windows ask upstream for one batch at a time: a partition the writer is behind on holds at most
     * two batches of records (the one applied and the next), and reactor-kafka pauses it for the rest. (A fair
     * {@code bufferTimeout} prefetches four batches, so it would hold five.)
     */
    static <T> Flux<Object> inBatches(Flux<T> records, int maxRecords, Duration maxWait,
                                      Function<List<T>, ? extends Publisher<?>> apply) {
        return records.windowTimeout(maxRecords, maxWait, true)
                .concatMap(window -> window.collectList().filter(batch -> !batch.isEmpty()).flatMapMany(apply), 0);
    }

    /**
     * {@link #inBatches(Flux, int, Duration, Function)} within a budget in bytes as well: a record is let through
     * while the records taken and not yet applied weigh at most {@code maxBytes} with it (or when there are none: a
     * record heavier than the budget goes alone), and waits upstream otherwise; a batch gives its bytes back once
     * {@code apply} is done with it. The writer gives each partition {@code 2 * writer.max-batch-bytes}: the batch
     * applied and the next one, whatever their records weigh.
     */
    static <T> Flux<Object> inBatches(Flux<T> records, ToLongFunction<T> weight, long maxBytes, int maxRecords,
                                      Duration maxWait, Function<List<T>, ? extends Publisher<?>> apply) {
        return Flux.defer(() -> {
            ByteGate gate = new ByteGate(maxBytes);
            return inBatches(records.concatMap(r -> gate.take(weight.applyAsLong(r)).thenReturn(r), 0), maxRecords,
                    maxWait, batch -> {
                        long bytes = 0;
                        for (T r : batch) {
                            bytes += weight.applyAsLong(r);
                        }
                        long taken = bytes;
                        return Flux.from(apply.apply(batch)).doFinally(signal -> gate.give(taken));
                    });
        });
    }

    /**
     * A record's weight in a partition's byte budget: what its value decodes to (a compressed segment's records
     * block), so that the budget bounds the batches' decoded size however densely their records compress.
     */
    private static long bytes(ReceiverRecord<byte[], byte[]> record) {
        return record.value() == null ? 0 : SegmentFormat.decodedBytes(record.value());
    }

    /**
     * Bytes a partition holds against its budget. One record at a time asks ({@code concatMap} without prefetch), so
     * at most one waits; a batch applied gives its bytes back from whichever thread finished it.
     */
    static final class ByteGate {
        private final long max;
        private long held;
        private Runnable waiting;
        private long waitingFor;

        ByteGate(long max) {
            this.max = max;
        }

        /** Completes once {@code bytes} more fit (at once when they do, or when nothing is held). */
        Mono<Void> take(long bytes) {
            return Mono.create(sink -> {
                synchronized (this) {
                    if (held == 0 || held + bytes <= max) {
                        held += bytes;
                    } else {
                        waiting = sink::success;
                        waitingFor = bytes;
                        return;
                    }
                }
                sink.success();
            });
        }

        /** Gives back bytes taken, and lets the waiting record through when it now fits. */
        void give(long bytes) {
            Runnable wake = null;
            synchronized (this) {
                held -= bytes;
                if (waiting != null && (held == 0 || held + waitingFor <= max)) {
                    held += waitingFor;
                    wake = waiting;
                    waiting = null;
                }
            }
            if (wake != null) {
                wake.run();
            }
        }

        synchronized long held() {
            return held;
        }
    }

    /**
     * Splits a run of records into runs of at most {@code maxBytes} of decoded record values ({@link #bytes}; a
     * record larger than that alone), in order: each becomes one transaction, so what a transaction decodes stays
     * bounded in bytes.
     */
    static List<List<ReceiverRecord<byte[], byte[]>>> byBytes(List<ReceiverRecord<byte[], byte[]>> records,
                                                             long maxBytes) {
        List<List<ReceiverRecord<byte[], byte[]>>> runs = new ArrayList<>();
        List<ReceiverRecord<byte[], byte[]>> run = new ArrayList<>();
        long bytes = 0;
        for (ReceiverRecord<byte[], byte[]> r : records) {
            long size = bytes(r);
            if (!run.isEmpty() && bytes + size > maxBytes) {
                runs.add(run);
                run = new ArrayList<>();
                bytes = 0;
            }
            run.add(r);
            bytes += size;
        }
        if (!run.isEmpty()) {
            runs.add(run);
        }
        return runs;
    }

    /**
     * The offsets to seek newly assigned partitions to: those stored in PostgreSQL, or — when it does not answer in
     * time — the ones this writer applied up to (never beyond what is stored, so a redelivery at worst).
     */
    private Map<TopicPartition, Long> offsetsToSeek() {
        return storedOffsets().timeout(OFFSETS_TIMEOUT).onErrorResume(e -> {
            log.warn("PostgreSQL did not give the stored offsets within {} ({}); seeking to the ones applied here",
                    OFFSETS_TIMEOUT, e.toString());
            return Mono.just(appliedOffsets());
        }).block();
    }

    /** The partition's applied offset, and its lag gauge from the first time this writer is given it. */
    private AtomicLong track(TopicPartition tp) {
        return applied.computeIfAbsent(tp, key -> {
            AtomicLong next = new AtomicLong();
            AtomicLong end = ends.computeIfAbsent(key, k -> new AtomicLong());
            Gauge.builder("sluice_writer_lag", () -> owned.contains(key) ? Math.max(0, end.get() - next.get()) : 0)
                    .description("Records in Kafka the storage writer has not applied yet (0 for a partition "
                            + "another writer of the group holds)")
                    .tag("topic", key.topic()).tag("partition", Integer.toString(key.partition())).register(registry);
            return next;
        });
    }

    private Mono<Map<TopicPartition, Long>> storedOffsets() {
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("SELECT topic, partition, next_offset FROM writer_offsets").execute())
                        .flatMap(r -> r.map((row, meta) -> Map.entry(
                                new TopicPartition(row.get(0, String.class), row.get(1, Integer.class)),
                                row.get(2, Long.class))))
                        .collectMap(Map.Entry::getKey, Map.Entry::getValue),
                Connection::close);
    }

    /**
     * Applies a batch unless the writer is stopping (then its records stay unapplied: the next writer reads them
     * again from the stored offsets), and tracks it so that {@link #close()} can let it finish.
     */
    private Mono<Void> applyUnlessStopping(TopicPartition tp, List<ReceiverRecord<byte[], byte[]>> run) {
        return tracked(Mono.defer(() -> applyWithRetry(tp, run)));
    }

    /** Work {@link #close()} lets finish (up to {@link #STOP_GRACE}) rather than cancel; nothing once stopping. */
    private <T> Mono<T> tracked(Mono<T> work) {
        return stop.track(work);
    }

    /**
     * Applies a run, retrying transient failures; each attempt decodes the run afresh. An attempt after a failure,
     * and any attempt while PostgreSQL is not answering ({@link #silent}), first waits for PostgreSQL to answer
     * {@code SELECT 1} ({@link #answers}): during an outage an attempt then costs a round trip that does not come
     * back, not the decoding of its whole run. Decoding runs of a few hundred records every few seconds, as
     * partitions a frozen PostgreSQL held up retried or took their next run, took the CPU the gateway's event loops
     * needed: their acknowledgements were up to 311 ms late each time.
     */
    Mono<Void> applyWithRetry(TopicPartition tp, List<ReceiverRecord<byte[], byte[]>> records) {
        long started = System.nanoTime();
        AtomicBoolean failedBefore = new AtomicBoolean();
        Mono<Void> attempt = Mono.defer(() -> apply(tp, records))
                .onErrorResume(PostgresFailures::isPermanent, e -> applyOneByOne(tp, records, e))
                .doOnSuccess(v -> silent = false);
        return Mono.defer(() -> failedBefore.get() || silent ? answers().then(attempt) : attempt)
                // PostgreSQL that does not answer (frozen, a lost network): the transaction is cancelled (rolled back)
                // and tried again; if its COMMIT did reach PostgreSQL, the stored offset makes the retry a no-op
                .timeout(config.transactionTimeout())
                // off the database connection's event loop before the bookkeeping: the breaker's sliding window takes
                // a ReentrantLock and the batch timer's percentile rotation (HdrHistogram) may sleep, and with many
                // partitions committing at once either can park; BlockHound caught both, and its error ended the writer
                .publishOn(Schedulers.boundedElastic())
                .doOnError(java.util.concurrent.TimeoutException.class, e -> deadlineExceeded.increment())
                .transformDeferred(CircuitBreakerOperator.of(breaker))
                .doOnError(e -> {
                    failedBefore.set(true);
                    if (PostgresCalls.isUnreachable(e)) {
                        silent = true;
                    }
                    log.warn("Writing {} records of {} failed ({}); retrying", records.size(), tp, e.toString());
                })
                .retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofMillis(100)).maxBackoff(Duration.ofSeconds(5)))
                .doOnSuccess(v -> batchTimer.record(System.nanoTime() - started, TimeUnit.NANOSECONDS));
    }

    /** Completes once PostgreSQL answers {@code SELECT 1} on a connection of the pool (then it is not silent). */
    private Mono<Void> answers() {
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("SELECT 1").execute()).flatMap(r -> r.map((row, meta) -> 1)).then(),
                Connection::close,
                (c, err) -> Transactions.rollbackAndClose(c, config.transactionTimeout()),
                c -> Transactions.rollbackAndClose(c, config.transactionTimeout()))
                .doOnSuccess(v -> silent = false);
    }

    /**
     * One transaction for one run of records of one partition. The rows are decoded and encoded on the parallel
     * scheduler (CPU work kept off the event loops of the database connections, which queries share), and their day
     * partitions made sure of, before the transaction begins, so the transaction holds its locks only for the
     * database work.
     */
    Mono<Void> apply(TopicPartition tp, List<ReceiverRecord<byte[], byte[]>> records) {
        long first = records.get(0).offset();
        long next = records.get(records.size() - 1).offset() + 1;
        Mono<WriteBatch> encoding = Mono.fromCallable(() -> encode(tp, records, next)).subscribeOn(Schedulers.parallel());
        return encoding.flatMap(all -> partitions.ensureDays(all.days)
                    .then(Mono.usingWhen(connections.create(),
                            c -> Mono.from(c.beginTransaction())
                                    .then(lockOffset(c, tp, first))
                                    .flatMap(stored -> {
                                        if (stored <= first) {
                                            return write(c, tp, all, from(records, first), next, stored);
                                        }
                                        all.release();
                                        List<ReceiverRecord<byte[], byte[]>> unapplied = from(records, stored);
                                        if (unapplied.isEmpty()) {
                                            return Mono.from(c.commitTransaction()); // all applied before: a redelivery
                                        }
                                        return write(c, tp, encode(tp, unapplied, next), unapplied, next, stored);
                                    })
                                    .doOnSuccess(v -> track(tp).accumulateAndGet(next, Math::max)),
                            Connection::close,
                            (c, err) -> Transactions.rollbackAndClose(c, config.transactionTimeout()),
                            c -> Transactions.rollbackAndClose(c, config.transactionTimeout())))
                    .doFinally(signal -> all.release()));
    }

    private static List<ReceiverRecord<byte[], byte[]>> from(List<ReceiverRecord<byte[], byte[]>> records,
                                                             long fromOffset) {
        List<ReceiverRecord<byte[], byte[]>> out = new ArrayList<>(records.size());
        for (ReceiverRecord<byte[], byte[]> r : records) {
            if (r.offset() >= fromOffset) {
                out.add(r);
            }
        }
        return out;
    }

    private WriteBatch encode(TopicPartition tp, List<ReceiverRecord<byte[], byte[]>> records, long next) {
        runsDecoded.increment();
        List<byte[]> values = new ArrayList<>(records.size());
        records.forEach(r -> values.add(r.value()));
        WriteBatch batch = WriteBatch.of(values, partitions.rawHorizon(), alloc, knownSeries);
        try {
            batch.prepare(foldedBefore.get());
        } catch (RuntimeException e) {
            batch.release();
            throw e;
        }
        if (!batch.undecodable.isEmpty()) {
            log.error("{} record(s) of {} below offset {} are not valid segments; they go to dead_letters",
                    batch.undecodable.size(), tp, next);
        }
        return batch;
    }

    /**
     * After a run of records failed for a permanent reason: each record is applied alone, and one that fails
     * permanently alone is set aside in {@code dead_letters}, so the rest of the partition moves on.
     */
    private Mono<Void> applyOneByOne(TopicPartition tp, List<ReceiverRecord<byte[], byte[]>> records, Throwable failure) {
        if (records.size() == 1) {
            return deadLetter(tp, records.get(0), failure);
        }
        log.warn("{} records of {} from offset {} failed for a permanent reason ({}); applying them one by one",
                records.size(), tp, records.get(0).offset(), failure.toString());
        return Flux.fromIterable(records)
                .concatMap(r -> apply(tp, List.of(r))
                        .onErrorResume(PostgresFailures::isPermanent, e -> deadLetter(tp, r, e)))
                .then();
    }

    /** Sets one record aside and moves the partition's offset past it, in one transaction. */
    private Mono<Void> deadLetter(TopicPartition tp, ReceiverRecord<byte[], byte[]> record, Throwable failure) {
        long offset = record.offset();
        String state = PostgresFailures.sqlState(failure);
        String reason = state == null ? DeadLetters.REASON_ERROR : DeadLetters.reasonOf(state);
        return Mono.usingWhen(connections.create(),
                c -> Mono.from(c.beginTransaction())
                        .then(lockOffset(c, tp, offset))
                        .flatMap(stored -> stored > offset
                                ? Mono.from(c.commitTransaction())
                                : DeadLetters.insert(c, tp, offset, reason, state, failure.getMessage(), record.value())
                                        .then(storeOffset(c, tp, offset + 1))
                                        .then(Mono.from(c.commitTransaction()))
                                        .doOnSuccess(v -> {
                                            deadLetters.counter(reason).increment();
                                            log.error("Record {} of {} was refused by PostgreSQL for a permanent "
                                                    + "reason ({}); it is in dead_letters, the partition moves on",
                                                    offset, tp, failure.toString());
                                        }))
                        .doOnSuccess(v -> track(tp).accumulateAndGet(offset + 1, Math::max)),
                Connection::close,
                (c, err) -> Transactions.rollbackAndClose(c, config.transactionTimeout()),
                c -> Transactions.rollbackAndClose(c, config.transactionTimeout()));
    }

    private static Mono<Void> storeOffset(Connection c, TopicPartition tp, long next) {
        return Flux.from(c.createStatement("UPDATE writer_offsets SET next_offset = $3, updated_at = now() "
                        + "WHERE topic = $1 AND partition = $2")
                .bind("$1", tp.topic()).bind("$2", tp.partition()).bind("$3", next).execute())
                .flatMap(r -> r.getRowsUpdated()).then();
    }

    /** Creates the partition's offset row if needed, locks it for this transaction and returns the stored offset. */
    private static Mono<Long> lockOffset(Connection c, TopicPartition tp, long first) {
        return Flux.from(c.createStatement("INSERT INTO writer_offsets AS w (topic, partition, next_offset) "
                                + "VALUES ($1, $2, $3) ON CONFLICT (topic, partition) DO UPDATE SET next_offset = w.next_offset "
                                + "RETURNING next_offset")
                        .bind("$1", tp.topic()).bind("$2", tp.partition()).bind("$3", first).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single();
    }

    private Mono<Void> write(Connection c, TopicPartition tp, WriteBatch batch,
                             List<ReceiverRecord<byte[], byte[]>> records, long next, long stored) {
        return writeRows(c, batch, tp.topic().equals(topics.clicks()), new HeadsAt(tp, stored, heads(tp)))
                .flatMap(written -> Flux.fromIterable(batch.undecodable).concatMap(u -> DeadLetters.insert(c, tp,
                                records.get(u.index()).offset(), DeadLetters.REASON_UNDECODABLE, null, u.error(),
                                records.get(u.index()).value())).then()
                        .then(storeOffset(c, tp, next))
                        .then(beforeCommit.apply(tp))
                        .then(Mono.from(c.commitTransaction()))
                        .doOnSuccess(v -> { // counted once committed: a rolled-back attempt is retried and counted then
                            batch.rememberStagedSeries(); // before the counts: a test that saw them sees this
                            headsForgotten.increment(batch.headsCommitted(next));
                            seriesUpserted.increment(batch.stagedSeries());
                            count(written);
                            announce(written, batch);
                            skippedExpired.increment(batch.expired);
                            if (!batch.undecodable.isEmpty()) {
                                deadLetters.counter(DeadLetters.REASON_UNDECODABLE).increment(batch.undecodable.size());
                            }
                        }))
                .doFinally(signal -> batch.release());
    }

    /**
     * Applies a dead letter again (after whatever refused it was fixed): its rows are written as the writer would
     * have, and it is marked replayed, in one transaction. Completes with false when the id is unknown or already
     * replayed; fails with PostgreSQL's error when the record is still refused (it then stays as it was).
     */
    public Mono<Boolean> replayDeadLetter(long id) {
        return Mono.usingWhen(connections.create(),
                c -> Mono.from(c.beginTransaction())
                        .then(DeadLetters.lockPending(c, id))
                        .flatMap(letter -> {
                            WriteBatch batch = WriteBatch.of(List.of(letter.payload()), partitions.rawHorizon(), alloc);
                            if (!batch.undecodable.isEmpty()) {
                                batch.release();
                                return Mono.error(new IllegalStateException("dead letter " + id
                                        + " is not a valid segment (" + batch.undecodable.get(0).error() + ")"));
                            }
                            return partitions.ensureDays(batch.days)
                                    .then(writeRows(c, batch, letter.topic().equals(topics.clicks()), null))
                                    .doFinally(signal -> batch.release())
                                    .flatMap(written -> DeadLetters.markReplayed(c, id)
                                            .then(Mono.from(c.commitTransaction()))
                                            .doOnSuccess(v -> {
                                                count(written);
                                                announce(written, batch);
                                            }))
                                    .thenReturn(true);
                        })
                        .switchIfEmpty(Mono.from(c.rollbackTransaction()).thenReturn(false)),
                Connection::close,
                (c, err) -> Transactions.rollbackAndClose(c, config.transactionTimeout()),
                c -> Transactions.rollbackAndClose(c, config.transactionTimeout()));
    }

    /** What one batch's statements wrote, counted once its transaction committed. */
    private record Written(long samples, long sampleRows, long eventRows, boolean clicks) {
    }

    /**
     * Tells the gateways (control topic) which tenants, metrics and minutes a committed batch stored samples in, so
     * that they drop the cached answers it changes; only once this writer was started (a writer made for replaying
     * dead letters from the command line announces nothing: the gateways' TTL backstop covers that).
     */
    private void announce(Written written, WriteBatch batch) {
        WriteAnnouncer to = announcer;
        if (to != null && written.samples() > 0) {
            to.announce(batch.written);
        }
    }

    private void count(Written written) {
        samplesInserted.increment(written.samples());
        samplesDuplicate.increment(written.sampleRows() - written.samples());
        (written.clicks() ? clicksWritten : eventsWritten).increment(written.eventRows());
    }

    /** The rows of a batch, through the staging tables, inside the caller's transaction. */
    private Mono<Written> writeRows(Connection c, WriteBatch batch, boolean clicks, HeadsAt at) {
        PostgresqlConnection pg = unwrap(c);
        return execute(c, STAGING)
                .then(copy(pg, "COPY stage_series FROM STDIN", batch.series))
                .then(copy(pg, "COPY stage_events FROM STDIN", batch.events))
                .then(batch.stagedSeries() == 0 ? Mono.empty() : execute(c, INSERT_SERIES))
                .then(batch.sampleCount == 0 ? Mono.just(0L) : writeSamples(c, pg, batch, at))
                .flatMap(inserted -> {
                    String events = clicks ? UPSERT_CLICKS : INSERT_EVENTS;
                    return (batch.eventCount == 0 ? Mono.just(0L) : Flux.from(c.createStatement(events).execute())
                            .flatMap(r -> r.getRowsUpdated()).reduce(0L, Long::sum))
                            .map(rows -> new Written(inserted, batch.sampleCount, rows, clicks));
                });
    }

    /**
     * The batch's samples that are not stored yet, as chunks, with their rollups. A sample after its series' head is
     * new without a look at any chunk; one at or before it (late, or sent again) is looked up in the chunks of its
     * hour. The heads come from what this writer remembers of the partition ({@code at}) or, for the series it does
     * not remember, from their rollups ({@link #LOOK_UP_HEADS}). Completes with how many samples were stored.
     */
    private Mono<Long> writeSamples(Connection c, PostgresqlConnection pg, WriteBatch batch, HeadsAt at) {
        return heads(c, batch, at)
                .flatMap(heads -> {
                    List<WriteBatch.Late> late = batch.late(heads);
                    return late.isEmpty() ? Mono.empty() : storedTimestamps(c, late).doOnNext(batch::dropStored).then();
                })
                .then(Mono.defer(() -> batch.rows().samples() == 0 ? Mono.just(0L)
                        : Flux.from(c.createStatement(HOLD_HOURS).bind("$1", batch.hours()).execute())
                                .flatMap(r -> r.map((row, meta) -> row.get(0, OffsetDateTime.class)))
                                .single()
                                .flatMap(folded -> {
                                    long foldedBeforeMs = folded.toInstant().toEpochMilli();
                                    foldedBefore.accumulateAndGet(foldedBeforeMs, Math::max);
                                    WriteBatch.ChunkRows rows = batch.rows(foldedBeforeMs);
                                    return copy(pg, COPY_CHUNKS, rows.chunks())
                                            .then(copy(pg, COPY_ROLLUPS, rows.rollups()))
                                            .then(mergeRollups(c))
                                            .thenReturn(rows.samples());
                                })));
    }

    /**
     * Where a batch's transaction stands: its partition, the offset stored for it when the transaction locked it, and
     * what this writer remembers of the partition's heads. None for a dead letter replayed.
     */
    record HeadsAt(TopicPartition tp, long storedOffset, PartitionHeads heads) {
    }

    /**
     * The heads of the batch's series, once the transaction holds the metrics topic's placement: shared when every
     * series of the batch is placed in the transaction's partition by the count this writer places them by, and that
     * is the topic's count; exclusively otherwise (a record placed by another count, a replayed dead letter, a
     * writer whose count is not the topic's), which makes every writer forget the topic's heads. Remembered heads are
     * used only in a shared hold, and only if nothing else stored samples of the partition since this writer's last
     * commit ({@link PartitionHeads#check}); the rest are looked up. Notes on the batch what its commit teaches.
     */
    private Mono<long[]> heads(Connection c, WriteBatch batch, HeadsAt at) {
        Long[] ids = batch.headIds();
        int count = topics.partitions(topics.metrics());
        boolean exclusive = at == null || placementStale || !at.tp().topic().equals(topics.metrics())
                || !placedIn(ids, at.tp().partition(), count);
        return holdPlacement(c, count, exclusive, false)
                .map(epoch -> new Placement(epoch, exclusive))
                .switchIfEmpty(Mono.defer(() -> {
                    placementStale = true; // until restart: another writer places series by another count
                    log.warn("The metrics topic's series are placed by a partition count other than this writer's ({});"
                            + " its batches now hold the placement exclusively (restart it)", count);
                    // rolled back and tried again exclusively: asking for it exclusively while holding it shared would
                    // deadlock with this writer's other batches doing the same
                    return Mono.error(new PlacementChanged(count));
                }))
                .flatMap(placement -> {
                    PartitionHeads remembered = placement.exclusive() ? null : at.heads();
                    long[] heads = new long[ids.length];
                    List<Long> unknown = new ArrayList<>();
                    if (remembered != null) {
                        remembered.check(at.storedOffset(), placement.epoch());
                    }
                    for (int i = 0; i < ids.length; i++) {
                        heads[i] = remembered == null ? PartitionHeads.UNKNOWN : remembered.head(ids[i]);
                        if (heads[i] == PartitionHeads.UNKNOWN) {
                            unknown.add(ids[i]);
                        }
                    }
                    headsLookedUp.increment(unknown.size());
                    return lookUpHeads(c, unknown).map(found -> {
                        if (!found.isEmpty()) {
                            for (int i = 0; i < ids.length; i++) {
                                if (heads[i] == PartitionHeads.UNKNOWN) {
                                    heads[i] = found.getOrDefault(ids[i], PartitionHeads.UNKNOWN);
                                }
                            }
                        }
                        batch.heads = remembered == null ? null
                                : new WriteBatch.HeadsNoted(remembered, placement.epoch(), heads);
                        return heads;
                    });
                });
    }

    /** A shared hold found the topic placed by another count: the batch is tried again holding it exclusively. */
    static final class PlacementChanged extends IllegalStateException {
        PlacementChanged(int count) {
            super("the metrics topic's series are placed by another partition count than this writer's " + count);
        }
    }

    /** The metrics topic's placement, held by the transaction: its epoch, and whether it is held exclusively. */
    private record Placement(long epoch, boolean exclusive) {
    }

    /** Whether every series is placed in {@code partition} among {@code count}, as the gateways place them. */
    private static boolean placedIn(Long[] ids, int partition, int count) {
        for (Long id : ids) {
            if (SeriesIds.partition(id, count) != partition) {
                return false;
            }
        }
        return true;
    }

    /** Holds the metrics topic's placement (migration V15); the epoch, or empty when shared finds another count. */
    private Mono<Long> holdPlacement(Connection c, int count, boolean exclusive, boolean place) {
        return Flux.from(c.createStatement(HOLD_PLACEMENT).bind("$1", topics.metrics()).bind("$2", count)
                        .bind("$3", exclusive).bind("$4", place).execute())
                .flatMap(r -> r.map((row, meta) -> java.util.Optional.ofNullable(row.get(0, Long.class))))
                .single()
                .flatMap(Mono::justOrEmpty);
    }

    /** Per series of {@code ids} with samples stored since the raw horizon, its head (see {@link #LOOK_UP_HEADS}). */
    private Mono<Map<Long, Long>> lookUpHeads(Connection c, List<Long> ids) {
        if (ids.isEmpty()) {
            return Mono.just(Map.of());
        }
        return Flux.from(c.createStatement(LOOK_UP_HEADS).bind("$1", ids.toArray(Long[]::new))
                        .bind("$2", partitions.rawHorizon().atOffset(java.time.ZoneOffset.UTC)).execute())
                .flatMap(r -> r.map((row, meta) -> Map.entry(row.get(0, Long.class), row.get(1, Long.class))))
                .collectMap(Map.Entry::getKey, Map.Entry::getValue);
    }

    /** Per late series, the timestamps its chunks already hold within the late range. */
    private static Mono<Map<Long, Set<Long>>> storedTimestamps(Connection c, List<WriteBatch.Late> late) {
        Map<Long, WriteBatch.Late> byId = new HashMap<>();
        late.forEach(l -> byId.put(l.seriesId(), l));
        return Flux.from(c.createStatement(STORED_CHUNKS)
                        .bind("$1", late.stream().map(WriteBatch.Late::seriesId).toArray(Long[]::new))
                        .bind("$2", late.stream().map(WriteBatch.Late::fromMs).toArray(Long[]::new))
                        .bind("$3", late.stream().map(WriteBatch.Late::toMs).toArray(Long[]::new))
                        .execute())
                .flatMap(r -> r.map((row, meta) -> Map.entry(row.get(0, Long.class), row.get(1, byte[].class))))
                .collect(HashMap::new, (Map<Long, Set<Long>> stored, Map.Entry<Long, byte[]> chunk) -> {
                    WriteBatch.Late range = byId.get(chunk.getKey());
                    Set<Long> timestamps = stored.computeIfAbsent(chunk.getKey(), k -> new java.util.HashSet<>());
                    SampleChunks.decode(chunk.getValue(), (ts, v) -> {
                        if (ts >= range.fromMs() && ts <= range.toMs()) {
                            timestamps.add(ts);
                        }
                    });
                });
    }

    private static Mono<Void> mergeRollups(Connection c) {
        return execute(c.createStatement(MERGE_ROLLUPS).bind("$1", WriteBatch.ROLLUP_MINUTE)
                .bind("$2", WriteBatch.ROLLUP_HOUR));
    }

    private static Mono<Void> execute(Connection c, String sql) {
        return execute(c.createStatement(sql));
    }

    static Mono<Void> execute(Statement statement) {
        return Flux.from(statement.execute()).flatMap(r -> r.getRowsUpdated()).then();
    }

    static Mono<Void> copy(PostgresqlConnection pg, String sql, ByteBuf rows) {
        if (rows.readableBytes() == 0) {
            return Mono.empty();
        }
        return Mono.defer(() -> pg.copyIn(sql, Mono.just(rows.retain()))).then();
    }

    @SuppressWarnings("unchecked")
    static PostgresqlConnection unwrap(Connection c) {
        Connection current = c;
        while (!(current instanceof PostgresqlConnection) && current instanceof Wrapped<?> wrapped) {
            current = ((Wrapped<Connection>) wrapped).unwrap();
        }
        if (current instanceof PostgresqlConnection pg) {
            return pg;
        }
        throw new IllegalStateException("the storage writer needs r2dbc-postgresql connections, got " + c.getClass());
    }

    /** The next offset applied per partition, as seen by this writer. */
    public Map<TopicPartition, Long> appliedOffsets() {
        Map<TopicPartition, Long> copy = new HashMap<>();
        applied.forEach((tp, v) -> copy.put(tp, v.get()));
        return copy;
    }

    /**
     * Stops consuming: no new batch starts, batches under way get {@link #STOP_GRACE} to commit, then whatever is
     * left is cancelled (rolled back), never half-applied. Blocking: not for event loops.
     */
    @Override
    public void close() {
        compaction.stop(); // a run under way ends after its current hour
        fold.stop();
        if (running == null) {
            stop.stop(Duration.ZERO);
            return;
        }
        // Let the transactions under way commit (they are short) rather than cancel them mid-statement (see
        // GracefulStop). One that retries (PostgreSQL down) or hangs is cancelled after STOP_GRACE and rolls back.
        if (!stop.stop(STOP_GRACE)) {
            log.warn("Storage writer batches still running after {}; cancelling them (rolled back)", STOP_GRACE);
        }
        running.dispose();
        running = null;
        announcer.close();
        announcements.close();
    }
}
