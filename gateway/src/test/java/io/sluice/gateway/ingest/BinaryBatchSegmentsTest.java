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
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A binary connection's batches through {@link IngestPipeline#submitBatch} into real Kafka, with the routes the
 * connection keeps ({@link IngestPipeline.SeriesRoutes}) and segments cut small: every sample lands once, in the
 * partition {@link Placement} gives its series, under its own series, whichever batch defined the series and however
 * many segments its partition was cut into.
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
            IngestPipeline.SeriesRoutes routes = new IngestPipeline.SeriesRoutes();
            for (int b = 0; b < BATCHES; b++) {
                int first = b * PER_BATCH;
                // batch b sends series 0 .. 10 (b + 1): the ones earlier batches defined, and ten new ones
                Batch batch = connection.next(w -> {
                    for (int n = first; n < first + PER_BATCH; n++) {
                        w.addSample(series(n, first), 1_800_000_000_000L + n, n);
                    }
                });
                try {
                    pipeline.submitBatch(tenant, batch, routes).get(30, TimeUnit.SECONDS);
                } finally {
                    batch.release();
                }
            }
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
                .as("segments written: cut within batches, not only one per partition and batch")
                .isGreaterThan((long) BATCHES * partitions);
    }

    /** The series of sample {@code n} of the batch whose first sample is {@code first}. */
    private static Series series(int n, int first) {
        int seriesOfBatch = 10 * (first / PER_BATCH + 1);
        return Series.of("segments.metric", "host", "h" + n % seriesOfBatch);
    }
}
