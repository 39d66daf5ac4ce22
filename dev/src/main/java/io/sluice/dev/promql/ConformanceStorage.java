package io.sluice.dev.promql;

import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.PooledByteBufAllocator;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.KafkaConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.config.WriterConfig;
import io.sluice.dev.promql.Script.LoadedSeries;
import io.sluice.gateway.ingest.IngestPipeline;
import io.sluice.gateway.ingest.ParsedBatch;
import io.sluice.protocol.record.Series;
import io.sluice.storage.kafka.KafkaClusterCheck;
import io.sluice.storage.kafka.ReactorKafkaSink;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.writer.WriterRole;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Script data through Sluice's real storage path: samples are encoded and placed in Kafka partitions by the gateway's
 * {@link IngestPipeline} (the code every ingest format ends in), produced to the real metrics topic, and applied to
 * PostgreSQL by a real storage writer ({@link WriterRole}: chunks, rollups, day partitions made as the data needs
 * them). What is left out is the gateway's admission (late window, future limit, rate and series limits): script data
 * starts at t=0 (1970) by design. The writer keeps everything for {@link #RETENTION}, so that neither its horizon
 * nor its partition maintenance drops 1970's samples.
 */
public final class ConformanceStorage implements AutoCloseable {

    /** Raw and rollup retention of this writer: long enough to keep 1970. */
    public static final Duration RETENTION = Duration.ofDays(200 * 365L);
    /** Samples per segment batch handed to the pipeline (an HTTP ingest body's worth). */
    static final int SAMPLES_PER_SUBMIT = 10_000;
    /** How long one load may take to reach Kafka and then PostgreSQL. */
    static final Duration LOAD_TIMEOUT = Duration.ofMinutes(2);

    private final WriterRole writer;
    private final KafkaClusterCheck kafka;
    private final ReactorKafkaSink sink;
    private final IngestPipeline pipeline;
    private final ConnectionPool pool;

    private ConformanceStorage(WriterRole writer, KafkaClusterCheck kafka, ReactorKafkaSink sink,
                               IngestPipeline pipeline, ConnectionPool pool) {
        this.writer = writer;
        this.kafka = kafka;
        this.sink = sink;
        this.pipeline = pipeline;
        this.pool = pool;
    }

    /**
     * {@code config} with the writer retention of {@link #RETENTION}, and topics and a writer consumer group of this
     * run's own (prefix and client id {@code sluice-promql-<random>}): a writer of another process on the same Kafka
     * and PostgreSQL, with the usual retention, would otherwise share the partitions and skip 1970's samples.
     */
    public static SluiceConfig configure(SluiceConfig config) {
        WriterConfig w = config.writer();
        KafkaConfig k = config.kafka();
        String own = "sluice-promql-" + Long.toHexString(System.nanoTime());
        config = config.withKafka(new KafkaConfig(k.bootstrapServers(), own, k.requestTimeout(), own + ".",
                k.partitions(), k.replicationFactor(), k.adminTimeout()));
        return config.withWriter(new WriterConfig(w.maxBatchRecords(), w.maxBatchBytes(), w.maxBatchWait(), RETENTION,
                RETENTION, RETENTION, w.partitionsAhead(), w.chunkMaxSamples(), w.compactionInterval(),
                w.compactionDelay(), w.compactionLookback(), w.compactionBatch(), w.compactionTransactionSamples(),
                w.transactionTimeout(), w.sessionTimeout(), w.knownSeries(), w.rollupFoldDelay()));
    }

    /**
     * Starts a writer and a producer on the (migrated) PostgreSQL and the Kafka of {@code config}, which must come
     * from {@link #configure}. Blocking.
     */
    public static ConformanceStorage start(SluiceConfig config, MeterRegistry registry) {
        if (!config.writer().retentionRaw().equals(RETENTION)) {
            throw new IllegalArgumentException("configure the writer's retention with ConformanceStorage.configure");
        }
        List<AutoCloseable> started = new ArrayList<>();
        try {
            WriterRole writer = WriterRole.start(config, registry);
            started.add(writer);
            KafkaClusterCheck kafka = new KafkaClusterCheck(config.kafka());
            started.add(kafka);
            Topics topics = Topics.ensure(kafka.admin(), config.kafka());
            ReactorKafkaSink sink = new ReactorKafkaSink(config.kafka());
            started.add(sink);
            IngestPipeline pipeline = new IngestPipeline(sink, topics, PooledByteBufAllocator.DEFAULT, registry);
            ConnectionPool pool = PostgresConnections.pool(config.postgres());
            return new ConformanceStorage(writer, kafka, sink, pipeline, pool);
        } catch (RuntimeException e) {
            for (int i = started.size() - 1; i >= 0; i--) {
                try {
                    started.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /**
     * Produces the series' points for the tenant and waits until the writer has stored all of them (counted in the
     * tenant's chunks). A point at a timestamp the series already has is dropped by the writer (the first write
     * wins), as for any ingest. Blocking.
     */
    public void load(String tenant, List<LoadedSeries> series) {
        long expected = storedCount(tenant);
        Map<Series, Set<Long>> distinct = new java.util.HashMap<>();
        List<ParsedBatch.Sample> batch = new ArrayList<>(SAMPLES_PER_SUBMIT);
        List<CompletableFuture<Void>> acks = new ArrayList<>();
        for (LoadedSeries s : series) {
            String name = s.labels().get("__name__");
            if (name == null) {
                throw new IllegalArgumentException("line " + s.line() + ": a series without a metric name cannot be "
                        + "stored in Sluice");
            }
            Map<String, String> labels = new TreeMap<>(s.labels());
            labels.remove("__name__");
            Series key = Series.of(name, labels);
            Set<Long> times = distinct.computeIfAbsent(key, k -> new HashSet<>());
            for (int i = 0; i < s.timestamps().length; i++) {
                times.add(s.timestamps()[i]);
                batch.add(new ParsedBatch.Sample(batch.size(), key, s.timestamps()[i], s.values()[i]));
                if (batch.size() == SAMPLES_PER_SUBMIT) {
                    acks.add(pipeline.submitSamples(tenant, batch));
                    batch = new ArrayList<>(SAMPLES_PER_SUBMIT);
                }
            }
        }
        if (!batch.isEmpty()) {
            acks.add(pipeline.submitSamples(tenant, batch));
        }
        try {
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
                    .get(LOAD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while producing tenant " + tenant + "'s samples", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("Kafka did not take tenant " + tenant + "'s samples: " + e, e);
        }
        for (Set<Long> times : distinct.values()) {
            expected += times.size();
        }
        awaitStored(tenant, expected);
    }

    /** Polls the tenant's stored count (every 20 ms) until it reaches {@code expected}, at most LOAD_TIMEOUT. */
    private void awaitStored(String tenant, long expected) {
        Long stored = count(tenant).filter(n -> n >= expected)
                .repeatWhenEmpty(polls -> polls.delayElements(Duration.ofMillis(20)))
                .timeout(LOAD_TIMEOUT, Mono.fromSupplier(() -> -1L))
                .block();
        if (stored == null || stored < 0) {
            throw new IllegalStateException("the storage writer did not store tenant " + tenant + "'s " + expected
                    + " samples within " + LOAD_TIMEOUT + " (it has " + storedCount(tenant) + ")");
        }
    }

    /** Samples the tenant's chunks hold. */
    long storedCount(String tenant) {
        return count(tenant).block(Duration.ofSeconds(30));
    }

    private Mono<Long> count(String tenant) {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(
                                "SELECT coalesce(sum(c.samples), 0)::bigint FROM sample_chunks c "
                                        + "JOIN series s ON s.id = c.series_id WHERE s.tenant = $1")
                        .bind("$1", tenant).execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(),
                Connection::close);
    }

    /** The PostgreSQL pool this store reads counts with. */
    public ConnectionPool connections() {
        return pool;
    }

    @Override
    public void close() {
        try {
            sink.close();
        } finally {
            try {
                writer.close();
            } finally {
                kafka.close();
                pool.dispose();
            }
        }
    }
}
