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
import io.sluice.storage.embedded.EmbeddedInfrastructure;
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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Future;

/**
 * Benchmark P3: the storage writer's rows/s against {@code psql \copy} of the same rows into the same
 * tables, side by side on one PostgreSQL in one run. Each side gets its own fresh database with the
 * migrations and partitions applied; the writer reads segments from a fresh topic set.
 *
 * <p>Usage: {@code WriterVsCopy [--samples=1000000] [--series=1000] [--endpoints=FILE] [--summary=FILE]}.
 * With {@code --endpoints} (the {@code endpoints.env} of a running {@code bin/sluice dev}) it uses that
 * Kafka and PostgreSQL, otherwise it starts its own. Needs {@code psql} on the PATH (Debian:
 * postgresql-client). Prints one table and writes a JSON summary.
 */
public final class WriterVsCopy {

    /** What one run measured. */
    public record Result(long writerRows, double writerSeconds, long copyRows, double copySeconds) {
        public double writerRate() {
            return writerRows / writerSeconds;
        }

        public double copyRate() {
            return copyRows / copySeconds;
        }

        String json() {
            return String.format(Locale.ROOT, "{\"writer_rows\":%d,\"writer_seconds\":%.3f,\"writer_rows_per_second\":%.0f,"
                            + "\"copy_rows\":%d,\"copy_seconds\":%.3f,\"copy_rows_per_second\":%.0f,\"ratio\":%.3f}",
                    writerRows, writerSeconds, writerRate(), copyRows, copySeconds, copyRate(), writerRate() / copyRate());
        }
    }

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
        int samples = Integer.parseInt(opts.getOrDefault("samples", "1000000"));
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
        System.out.printf("| P3 storage writer vs psql \\copy | rows | seconds | rows/s |%n");
        System.out.printf("|---|---|---|---|%n");
        System.out.printf(Locale.ROOT, "| storage writer (Kafka -> samples + series + rollups 1m/1h + offsets) | %d | %.2f | %.0f |%n",
                result.writerRows(), result.writerSeconds(), result.writerRate());
        System.out.printf(Locale.ROOT, "| psql \\copy (CSV -> samples) | %d | %.2f | %.0f |%n", result.copyRows(),
                result.copySeconds(), result.copyRate());
        System.out.printf(Locale.ROOT, "| ratio writer / copy | | | %.2f (target >= 0.8) |%n",
                result.writerRate() / result.copyRate());
        Files.createDirectories(summary.toAbsolutePath().getParent());
        Files.writeString(summary, result.json() + "\n", StandardCharsets.UTF_8);
    }

    /** Runs both sides against this Kafka and this PostgreSQL server (user without password, trust auth). */
    public static Result run(String bootstrap, String pgHost, int pgPort, String pgUser, int samples, int seriesCount,
                             Path dir) throws Exception {
        int perSegment = 1_000;
        String run = Long.toString(System.currentTimeMillis(), 36);
        String writerDb = "bench_writer_" + run;
        String copyDb = "bench_copy_" + run;
        PostgresConfig server = new PostgresConfig(pgHost, pgPort, "postgres", pgUser, "", 2, Duration.ofSeconds(10), Duration.ofSeconds(10));
        PostgresConfig writerPg = new PostgresConfig(pgHost, pgPort, writerDb, pgUser, "", 16, Duration.ofSeconds(10), Duration.ofSeconds(10));
        PostgresConfig reference = new PostgresConfig(pgHost, pgPort, copyDb, pgUser, "", 4, Duration.ofSeconds(10), Duration.ofSeconds(10));
        KafkaConfig k = SluiceConfig.defaults().kafka().withBootstrapServers(bootstrap);
        SluiceConfig config = SluiceConfig.defaults().withPostgres(writerPg)
                .withKafka(new KafkaConfig(k.bootstrapServers(), k.clientId(), k.requestTimeout(), "bench." + run + ".", 6, 0));
        execute(server, "CREATE DATABASE " + writerDb);
        execute(server, "CREATE DATABASE " + copyDb);
        try {
            Migrations.apply(config.postgres());

            Series[] series = new Series[seriesCount];
            for (int s = 0; s < seriesCount; s++) {
                series[s] = Series.of("bench.metric", "host", "h" + s, "region", "r" + (s % 7), "dc", "d" + (s % 3),
                        "svc", "s" + (s % 11), "env", "prod");
            }
            long baseMs = System.currentTimeMillis() - Duration.ofMinutes(30).toMillis();
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

            // the same rows as segments in Kafka, partitioned as the gateway does
            Topics topics;
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, k.bootstrapString()))) {
                topics = Topics.ensure(admin, config.kafka());
            }
            int partitions = topics.partitions(topics.metrics());
            long records = 0;
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, k.bootstrapString(), ProducerConfig.ACKS_CONFIG, "all",
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

            // 1. the storage writer, Kafka -> PostgreSQL (samples, series, both rollups, offsets)
            ConnectionPool pool = PostgresConnections.pool(config.postgres());
            PartitionMaintenance maintenance = new PartitionMaintenance(pool, config.writer(), Clock.systemUTC());
            maintenance.run().block();
            long began = System.nanoTime();
            StorageWriter writer = StorageWriter.create(config.kafka(), config.writer(), topics, pool, maintenance,
                    new SimpleMeterRegistry()).start();
            long total = records;
            while (writer.appliedOffsets().entrySet().stream()
                    .filter(e -> e.getKey().topic().equals(topics.metrics()))
                    .mapToLong(Map.Entry::getValue).sum() < total) {
                Thread.onSpinWait();
            }
            double writerSeconds = (System.nanoTime() - began) / 1e9;
            writer.close();
            long stored = count(pool, "SELECT count(*) FROM samples");
            pool.dispose();

            // 2. psql \copy of the same rows into the same tables (a second database, same migrations and partitions)
            Migrations.apply(reference);
            ConnectionPool refPool = PostgresConnections.pool(reference);
            new PartitionMaintenance(refPool, config.writer(), Clock.systemUTC()).run().block();
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
            refPool.dispose();
            return new Result(stored, writerSeconds, copied, copySeconds);
        } finally {
            execute(server, "DROP DATABASE IF EXISTS " + writerDb + " WITH (FORCE)");
            execute(server, "DROP DATABASE IF EXISTS " + copyDb + " WITH (FORCE)");
            try (Admin kafka = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
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
