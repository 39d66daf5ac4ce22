package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.PooledByteBufAllocator;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.KafkaTopicReader;
import io.sluice.gateway.binary.DecodedBatches;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.record.Series;
import io.sluice.storage.SeriesIds;
import io.sluice.storage.kafka.Placement;
import io.sluice.storage.kafka.ReactorKafkaSink;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import io.sluice.protocol.segment.Segment;
import org.junit.jupiter.api.Test;

import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A binary connection's batches through {@link IngestPipeline#submitBatch} into real Kafka, with the segments the
 * connection keeps ({@link IngestPipeline.ConnectionSegments}): every sample lands once, in the partition
 * {@link Placement} gives its series, under its own series, whichever batch defined the series, however many
 * segments its partition was cut into and however many batches shared a segment; batches submitted before one
 * {@link IngestPipeline#flush} share one segment per partition, each series defined once in it.
 */
@RealInfrastructure
class BinaryBatchSegmentsTest {

    private static final int BATCHES = 30;
    private static final int PER_BATCH = 200;
    /** A segment is cut after about 60 samples: several segments per partition and batch. */
    private static final int CUT_BYTES = 1024;

    @Test
    void everySampleLandsOnceInItsSeriesPartitionUnderItsOwnSeries(TestInfrastructure infra) throws Exception {
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of()));
        String tenant = "segments-" + UUID.randomUUID().toString().substring(0, 8);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Topics topics;
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, infra.bootstrapServers()));
             ReactorKafkaSink sink = new ReactorKafkaSink(config.kafka());
             DecodedBatches connection = new DecodedBatches()) {
            topics = Topics.ensure(admin, config.kafka());
            IngestPipeline pipeline = new IngestPipeline(sink, topics, PooledByteBufAllocator.DEFAULT, registry,
                    CUT_BYTES);
            IngestPipeline.ConnectionSegments segments = new IngestPipeline.ConnectionSegments();
            List<CompletableFuture<Void>> acks = new ArrayList<>();
            for (int b = 0; b < BATCHES; b++) {
                int first = b * PER_BATCH;
                // batch b sends series 0 .. 10 (b + 1): the ones earlier batches defined, and ten new ones
                Batch batch = connection.next(w -> {
                    for (int n = first; n < first + PER_BATCH; n++) {
                        w.addSample(series(n, first), 1_800_000_000_000L + n, n);
                    }
                });
                try {
                    acks.add(pipeline.submitBatch(tenant, batch, segments));
                } finally {
                    batch.release();
                }
                if (b % 3 == 2) { // three batches a turn of the event loop
                    pipeline.flush(segments);
                    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
                    acks.clear();
                }
            }
            assertThat(acks).isEmpty();
            assertThat(segments.hasOpenSegments()).isFalse();
        }

        List<KafkaTopicReader.Item> samples = KafkaTopicReader.readAll(infra.bootstrapServers(), topics.metrics())
                .stream().filter(item -> item.tenant().equals(tenant)).toList();
        assertThat(samples.stream().mapToDouble(KafkaTopicReader.Item::value).sorted().toArray())
                .containsExactly(IntStream.range(0, BATCHES * PER_BATCH).asDoubleStream().toArray());
        int partitions = topics.partitions(topics.metrics());
        long tenantHash = SeriesIds.tenantHash(tenant);
        assertThat(samples).allSatisfy(s -> {
            int n = (int) s.value();
            Series expected = series(n, n / PER_BATCH * PER_BATCH);
            assertThat(s.name()).isEqualTo(expected.name());
            assertThat(s.labels()).isEqualTo(expected.labels());
            assertThat(s.timestampMs()).isEqualTo(1_800_000_000_000L + n);
            assertThat(s.partition()).isEqualTo(Placement.ofSample(tenantHash, expected, partitions));
        });
        assertThat(registry.get("sluice_ingest_segment_items").summary().count())
                .as("segments written: cut within a turn's batches, not only one per partition and flush")
                .isGreaterThan((long) BATCHES / 3 * partitions);
    }

    @Test
    void batchesSubmittedBeforeOneFlushShareOneSegmentPerPartition(TestInfrastructure infra) throws Exception {
        String tenant = "shared-" + UUID.randomUUID().toString().substring(0, 8);
        int batches = 4;
        int series = 60;
        Topics topics;
        try (Connection c = new Connection(infra)) {
            topics = c.topics;
            IngestPipeline pipeline = c.pipeline;
            DecodedBatches connection = c.batches;
            IngestPipeline.ConnectionSegments segments = new IngestPipeline.ConnectionSegments();
            List<CompletableFuture<Void>> acks = new ArrayList<>();
            for (int b = 0; b < batches; b++) {
                long ts = 1_800_000_000_000L + b;
                Batch batch = connection.next(w -> {
                    for (int n = 0; n < series; n++) {
                        w.addSample(Series.of("shared.metric", "host", "h" + n), ts, n);
                    }
                });
                try {
                    acks.add(pipeline.submitBatch(tenant, batch, segments));
                } finally {
                    batch.release();
                }
            }
            assertThat(segments.hasOpenSegments()).isTrue();
            assertThat(acks).as("nothing is sent before the flush").noneMatch(CompletableFuture::isDone);
            pipeline.flush(segments);
            assertThat(segments.hasOpenSegments()).isFalse();
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        }

        List<Segment> written = KafkaTopicReader.segments(infra.bootstrapServers(), topics.metrics(), tenant);
        try {
            assertThat(written.stream().mapToInt(Segment::sampleCount).sum()).isEqualTo(batches * series);
            assertThat(written.stream().mapToInt(s -> s.series().size()).sum())
                    .as("each series defined once, not once per batch").isEqualTo(series);
            assertThat(written.size()).as("one segment per partition").isLessThanOrEqualTo(
                    topics.partitions(topics.metrics()));
        } finally {
            written.forEach(Segment::close);
        }
    }

    @Test
    void discardedSegmentsFailTheBatchesThatWaitedInThemAndSendNothing(TestInfrastructure infra) throws Exception {
        String tenant = "discarded-" + UUID.randomUUID().toString().substring(0, 8);
        Topics topics;
        try (Connection c = new Connection(infra)) {
            topics = c.topics;
            IngestPipeline pipeline = c.pipeline;
            DecodedBatches connection = c.batches;
            IngestPipeline.ConnectionSegments segments = new IngestPipeline.ConnectionSegments();
            Batch batch = connection.next(w -> {
                for (int n = 0; n < 20; n++) {
                    w.addSample(Series.of("discarded.metric", "host", "h" + n), 1_800_000_000_000L, n);
                }
            });
            CompletableFuture<Void> ack;
            try {
                ack = pipeline.submitBatch(tenant, batch, segments);
            } finally {
                batch.release();
            }
            ClosedChannelException gone = new ClosedChannelException();
            pipeline.discard(segments, gone);
            assertThat(ack).failsWithin(Duration.ZERO).withThrowableOfType(ExecutionException.class)
                    .withCause(gone);
            assertThat(segments.hasOpenSegments()).isFalse();
            pipeline.flush(segments); // nothing left to send
        }
        assertThat(KafkaTopicReader.segments(infra.bootstrapServers(), topics.metrics(), tenant)).isEmpty();
    }

    /** A pipeline on real Kafka, and a connection's decoded batches. */
    private static final class Connection implements AutoCloseable {
        final Topics topics;
        final IngestPipeline pipeline;
        final DecodedBatches batches = new DecodedBatches();
        private final ReactorKafkaSink sink;

        Connection(TestInfrastructure infra) {
            SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of()));
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                    infra.bootstrapServers()))) {
                topics = Topics.ensure(admin, config.kafka());
            }
            sink = new ReactorKafkaSink(config.kafka());
            pipeline = new IngestPipeline(sink, topics, PooledByteBufAllocator.DEFAULT, new SimpleMeterRegistry());
        }

        @Override
        public void close() {
            batches.close();
            sink.close();
        }
    }

    /** The series of sample {@code n} of the batch whose first sample is {@code first}. */
    private static Series series(int n, int first) {
        int seriesOfBatch = 10 * (first / PER_BATCH + 1);
        return Series.of("segments.metric", "host", "h" + n % seriesOfBatch);
    }
}
