package io.sluice.loadtest.suite;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.KafkaConfig;
import io.sluice.config.PostgresConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.segment.SegmentWriter;
import io.sluice.storage.SeriesIds;
import io.sluice.embedded.EmbeddedInfrastructure;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.Migrations;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.writer.PartitionMaintenance;
import io.sluice.storage.writer.StorageWriter;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import io.sluice.loadtest.Endpoints;

import java.io.BufferedWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Future;

/**
 * Benchmark P3: the storage writer's samples/s against {@code psql \copy} of the same samples as one row
 * each into the row-per-sample {@code samples} table of migration V3 (the ceiling of that layout), side by
 * side on one PostgreSQL in one run, and the bytes each layout takes per sample on disk. The writer gets a
 * fresh database with the migrations and partitions applied and reads segments from a fresh topic set; it
 * stores packed chunks ({@code sample_chunks}, before any compaction). It is timed
 * from the moment the consumer group gives it its partitions until it has applied every record, after a warm-up pass
 * over 1M samples (or all, when fewer) with a database and topics of its own, as a running writer is warm. The
 * reference gets a second fresh database holding only V3's {@code samples} table (V7 dropped it) with the
 * day partitions the rows need.
 *
 * <p>Usage: {@code WriterVsCopy [--samples=5000000] [--series=1000] [--endpoints=FILE] [--summary=FILE]}.
 * With {@code --endpoints} (the {@code endpoints.env} of a running {@code bin/sluice dev}) it uses that
 * Kafka and PostgreSQL, otherwise it starts its own. Needs {@code psql} on the PATH (Debian:
 * postgresql-client). Prints one table and writes a JSON summary.
 */
public final class WriterVsCopy {

    /**
     * What one run measured: samples stored and seconds taken on each side, and the bytes on disk
     * ({@code pg_total_relation_size}, tables with their indexes and TOAST, summed over every partition) of
     * {@code sample_chunks} on the writer's side and of {@code samples} on copy's.
     */
    public record Result(long writerSamples, double joinSeconds, double writerSeconds, long writerBytes, long copyRows,
                         double copySeconds, long copyBytes, double coldRate) {
        /** Samples/s from start-up to caught up: what a run this short gives with the group join counted in. */
        public double writerRateWithJoin() {
            return writerSamples / (joinSeconds + writerSeconds);
        }

        public double writerRate() {
            return writerSamples / writerSeconds;
        }

        public double copyRate() {
            return copyRows / copySeconds;
        }

        public double writerBytesPerSample() {
            return (double) writerBytes / writerSamples;
        }

        public double copyBytesPerSample() {
            return (double) copyBytes / copyRows;
        }

        String json() {
            return String.format(Locale.ROOT, "{\"writer_samples\":%d,\"writer_join_seconds\":%.3f,\"writer_seconds\":%.3f,\"writer_samples_per_second\":%.0f,"
                            + "\"writer_bytes\":%d,\"writer_bytes_per_sample\":%.2f,"
                            + "\"copy_rows\":%d,\"copy_seconds\":%.3f,\"copy_rows_per_second\":%.0f,"
                            + "\"copy_bytes\":%d,\"copy_bytes_per_sample\":%.2f,\"ratio\":%.3f,\"writer_cold_samples_per_second\":%.0f}",
                    writerSamples, joinSeconds, writerSeconds, writerRate(), writerBytes, writerBytesPerSample(), copyRows,
                    copySeconds, copyRate(), copyBytes, copyBytesPerSample(), writerRate() / copyRate(), coldRate);
        }
    }

    /** Today's row-per-sample layout, as migration V3 created it (V7 moved its rows into chunks and dropped it). */
    private static final String V3_SAMPLES = """
            CREATE TABLE samples (
                series_id bigint NOT NULL,
                ts        timestamptz NOT NULL,
                value     double precision NOT NULL,
                PRIMARY KEY (series_id, ts)
            ) PARTITION BY RANGE (ts)""";
    private static final String WRITER_BYTES = """
            SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint FROM pg_partition_tree('sample_chunks')""";
    private static final String COPY_BYTES = """
            SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint FROM pg_partition_tree('samples')""";

    private WriterVsCopy() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new HashMap<>();
        for (String a : args) {
            if (!a.startsWith("--") || !a.contains("=")) {
                throw new IllegalArgumentException(a + " (expected: --name=value)");
            }
            opts.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
        }
        int samples = Integer.parseInt(opts.getOrDefault("samples", "5000000"));
        int seriesCount = Integer.parseInt(opts.getOrDefault("series", "1000"));
        Path summary = Path.of(opts.getOrDefault("summary", "loadtest/target/writer-vs-copy.json"));
        Path dir = Files.createTempDirectory("sluice-bench-");
        Result result;
        if (opts.containsKey("endpoints")) {
            Endpoints env = Endpoints.read(Path.of(opts.get("endpoints")));
            URI pg = env.postgres();
            String bootstrap = env.get("KAFKA_BOOTSTRAP", null);
            if (bootstrap == null) {
                throw new IllegalStateException("endpoints.env has no KAFKA_BOOTSTRAP; is bin/sluice dev running?");
            }
            result = run(bootstrap, pg.getHost(), pg.getPort(), pg.getUserInfo(), samples, seriesCount, dir);
        } else {
            try (EmbeddedInfrastructure infra = EmbeddedInfrastructure.start(dir, true)) {
                result = run(infra.kafka().bootstrapServers(), "127.0.0.1", infra.postgres().port(), "postgres",
                        samples, seriesCount, dir);
            }
        }
        System.out.println();
        System.out.printf("| P3 storage writer vs psql \\copy | samples | seconds | samples/s | bytes/sample |%n");
        System.out.printf("|---|---|---|---|---|%n");
        System.out.printf(Locale.ROOT, "| storage writer (Kafka -> sample_chunks + series + rollups 1m/1h + offsets) "
                        + "| %d | %.2f | %.0f | %.2f |%n", result.writerSamples(), result.writerSeconds(),
                result.writerRate(), result.writerBytesPerSample());
        System.out.printf(Locale.ROOT, "| psql \\copy (CSV -> V3 samples, one row each) | %d | %.2f | %.0f | %.2f |%n",
                result.copyRows(), result.copySeconds(), result.copyRate(), result.copyBytesPerSample());
        System.out.printf(Locale.ROOT, "| ratio writer / copy | | | %.2f (target >= 3) | %.2f |%n",
                result.writerRate() / result.copyRate(), result.writerBytesPerSample() / result.copyBytesPerSample());
        System.out.printf(Locale.ROOT, "(the writer joined its consumer group in %.2f s before that: %.0f samples/s with the join; "
                + "its warm-up pass, cold: %.0f samples/s)%n", result.joinSeconds(), result.writerRateWithJoin(), result.coldRate());
        Files.createDirectories(summary.toAbsolutePath().getParent());
        Files.writeString(summary, result.json() + "\n", StandardCharsets.UTF_8);
    }

    /** Runs both sides against this Kafka and this PostgreSQL server (user without password, trust auth). */
    public static Result run(String bootstrap, String pgHost, int pgPort, String pgUser, int samples, int seriesCount,
                             Path dir) throws Exception {
        return run(bootstrap, pgHost, pgPort, pgUser, samples, Math.min(samples, 1_000_000), seriesCount, dir);
    }

    /**
     * The same, the measured writer pass after a warm-up pass of {@code warmupSamples} (its own database and topics,
     * in this JVM): a writer runs for days, so the measured pass is one whose code the JIT has already compiled, as
     * PostgreSQL's is; the warm-up's own rate is in {@link Result#coldRate()}.
     */
    public static Result run(String bootstrap, String pgHost, int pgPort, String pgUser, int samples, int warmupSamples,
                             int seriesCount, Path dir) throws Exception {
        String run = Long.toString(System.currentTimeMillis(), 36);
        String copyDb = "bench_copy_" + run;
        PostgresConfig server = SluiceConfig.defaults().postgres()
                .withServer(pgHost, pgPort, "postgres", pgUser, "").withDatabase("postgres", 2);
        PostgresConfig reference = server.withDatabase(copyDb, 4);
        KafkaConfig k = SluiceConfig.defaults().kafka().withBootstrapServers(bootstrap);
        execute(server, "CREATE DATABASE " + copyDb);
        try {
            Series[] series = new Series[seriesCount];
            for (int s = 0; s < seriesCount; s++) {
                series[s] = Series.of("bench.metric", "host", "h" + s, "region", "r" + (s % 7), "dc", "d" + (s % 3),
                        "svc", "s" + (s % 11), "env", "prod");
            }
            long baseMs = System.currentTimeMillis() - Duration.ofMinutes(30).toMillis();
            long lastMs = baseMs + ((samples - 1) / seriesCount) * 10L;
            String tenant = "bench";
            // the rows, once, as CSV for psql
            Path csv = dir.resolve("samples.csv");
            try (BufferedWriter out = Files.newBufferedWriter(csv, StandardCharsets.UTF_8)) {
                for (int i = 0; i < samples; i++) {
                    int s = i % seriesCount;
                    long ts = baseMs + (i / seriesCount) * 10L;
                    out.write(Long.toString(SeriesIds.of(tenant, series[s])));
                    out.write(',');
                    out.write(Instant.ofEpochMilli(ts).toString());
                    out.write(',');
                    out.write(Double.toString(i));
                    out.write('\n');
                }
            }

            // 1. the storage writer, Kafka -> PostgreSQL (chunks, heads, series, both rollups, offsets): warmed up, then
            //    measured
            WriterPass cold = warmupSamples > 0
                    ? writerPass(server, k, run + "w", series, tenant, baseMs, warmupSamples) : null;
            WriterPass pass = writerPass(server, k, run, series, tenant, baseMs, samples);

            // 2. psql \copy of the same samples, one row each, into V3's samples table (a second database)
            execute(reference, V3_SAMPLES);
            for (LocalDate day = utcDay(baseMs); !day.isAfter(utcDay(lastMs)); day = day.plusDays(1)) {
                execute(reference, String.format(Locale.ROOT,
                        "CREATE TABLE samples_p%s PARTITION OF samples FOR VALUES FROM ('%s 00:00:00+00') TO ('%s 00:00:00+00')",
                        day.format(DateTimeFormatter.BASIC_ISO_DATE), day, day.plusDays(1)));
            }
            ConnectionPool refPool = PostgresConnections.pool(reference);
            long copyBegan = System.nanoTime();
            Process psql = new ProcessBuilder("psql", "-X", "-q", "-h", pgHost, "-p",
                    Integer.toString(pgPort), "-U", pgUser, "-d", copyDb, "-c",
                    "\\copy samples (series_id, ts, value) FROM '" + csv + "' WITH (FORMAT csv)")
                    .inheritIO().start();
            if (psql.waitFor() != 0) {
                throw new IllegalStateException("psql \\copy failed");
            }
            double copySeconds = (System.nanoTime() - copyBegan) / 1e9;
            long copied = count(refPool, "SELECT count(*) FROM samples");
            long copyBytes = count(refPool, COPY_BYTES);
            refPool.dispose();
            return new Result(pass.samples(), pass.joinSeconds(), pass.seconds(), pass.bytes(), copied, copySeconds, copyBytes,
                    cold == null ? 0 : cold.samples() / cold.seconds());
        } finally {
            execute(server, "DROP DATABASE IF EXISTS " + copyDb + " WITH (FORCE)");
        }
    }

    /** What one writer pass stored, how long it took to join its group and then to apply, and its bytes on disk. */
    private record WriterPass(long samples, double joinSeconds, double seconds, long bytes) {
    }

    /**
     * One writer pass: a fresh database with the migrations and partitions, a fresh topic set holding {@code samples}
     * samples as segments of 1,000 partitioned as the gateway does, and a writer from start to caught up (its applied
     * offsets reach the records sent; what compaction later does to the chunks is not waited for). Drops both after.
     */
    private static WriterPass writerPass(PostgresConfig server, KafkaConfig k, String name, Series[] series,
                                         String tenant, long baseMs, int samples) throws Exception {
        int perSegment = 1_000;
        int seriesCount = series.length;
        String writerDb = "bench_writer_" + name;
        SluiceConfig config = SluiceConfig.defaults().withPostgres(server.withDatabase(writerDb, 16))
                .withKafka(new KafkaConfig(k.bootstrapServers(), k.clientId(), k.requestTimeout(), "bench." + name + ".", 6, 0));
        execute(server, "CREATE DATABASE " + writerDb);
        try {
            Migrations.apply(config.postgres());
            // the same rows as segments in Kafka, partitioned as the gateway does
            Topics topics;
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, k.bootstrapString()))) {
                topics = Topics.ensure(admin, config.kafka());
            }
            int partitions = topics.partitions(topics.metrics());
            long records = 0;
            // one request in flight: the topics are brand new, and a request refused because the broker had not yet
            // applied a new partition, overtaken by the next one, is then retried forever as out of order (KAFKA-15591)
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, k.bootstrapString(), ProducerConfig.ACKS_CONFIG, "all",
                    ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1,
                    ProducerConfig.LINGER_MS_CONFIG, 5, ProducerConfig.BATCH_SIZE_CONFIG, 1 << 20,
                    ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class,
                    ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class))) {
                SegmentWriter[] writers = new SegmentWriter[partitions];
                int[] counts = new int[partitions];
                List<Future<?>> acks = new ArrayList<>();
                for (int i = 0; i < samples; i++) {
                    int s = i % seriesCount;
                    int p = SeriesIds.partition(SeriesIds.of(tenant, series[s]), partitions);
                    if (writers[p] == null) {
                        writers[p] = SegmentWriter.create(ByteBufAllocator.DEFAULT, tenant, true);
                    }
                    writers[p].addSample(series[s], baseMs + (i / seriesCount) * 10L, i);
                    if (++counts[p] == perSegment) {
                        acks.add(send(producer, topics.metrics(), p, writers[p]));
                        writers[p] = null;
                        counts[p] = 0;
                        records++;
                    }
                }
                for (int p = 0; p < partitions; p++) {
                    if (writers[p] != null) {
                        acks.add(send(producer, topics.metrics(), p, writers[p]));
                        records++;
                    }
                }
                for (Future<?> ack : acks) {
                    ack.get();
                }
            }

            ConnectionPool pool = PostgresConnections.pool(config.postgres());
            PartitionMaintenance maintenance = new PartitionMaintenance(pool, config.writer(), Clock.systemUTC());
            maintenance.run().block();
            // The clock starts once the consumer group has given the writer its partitions: joining the group is a
            // start-up cost (about 0.5-2 s here, whatever the samples), reported beside the rate, not part of it.
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            int owned = partitions + topics.partitions(topics.events()) + topics.partitions(topics.clicks());
            long began = System.nanoTime();
            StorageWriter writer = StorageWriter.create(config.kafka(), config.writer(), topics, pool, maintenance,
                    registry).start();
            // polled every 2 ms, not spun: the writer and PostgreSQL need both cores
            Flux.interval(Duration.ofMillis(2))
                    .filter(i -> registry.get("sluice_writer_partitions").gauge().value() >= owned)
                    .blockFirst(Duration.ofMinutes(2));
            long assigned = System.nanoTime();
            long total = records;
            Flux.interval(Duration.ofMillis(2))
                    .filter(i -> writer.appliedOffsets().entrySet().stream()
                            .filter(e -> e.getKey().topic().equals(topics.metrics()))
                            .mapToLong(Map.Entry::getValue).sum() >= total)
                    .blockFirst();
            double joinSeconds = (assigned - began) / 1e9;
            double writerSeconds = (System.nanoTime() - assigned) / 1e9;
            writer.close();
            long stored = count(pool, "SELECT coalesce(sum(samples), 0)::bigint FROM sample_chunks");
            long writerBytes = count(pool, WRITER_BYTES);
            pool.dispose();
            return new WriterPass(stored, joinSeconds, writerSeconds, writerBytes);
        } finally {
            execute(server, "DROP DATABASE IF EXISTS " + writerDb + " WITH (FORCE)");
            try (Admin kafka = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, k.bootstrapString()))) {
                kafka.deleteTopics(kafka.listTopics().names().get().stream()
                        .filter(t -> t.startsWith(config.kafka().topicPrefix())).toList()).all().get();
            }
        }
    }

    private static Future<?> send(KafkaProducer<byte[], byte[]> producer, String topic, int partition, SegmentWriter w) {
        ByteBuf buf = w.finish();
        try {
            return producer.send(new ProducerRecord<>(topic, partition, null, ByteBufUtil.getBytes(buf)));
        } finally {
            buf.release();
        }
    }

    private static LocalDate utcDay(long epochMs) {
        return Instant.ofEpochMilli(epochMs).atZone(ZoneOffset.UTC).toLocalDate();
    }

    private static long count(ConnectionPool pool, String sql) {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(), Connection::close).block();
    }

    private static void execute(PostgresConfig config, String sql) {
        ConnectionPool pool = PostgresConnections.pool(config);
        try {
            Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                    .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block();
        } finally {
            pool.dispose();
        }
    }
}
