package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.netty.buffer.ByteBufAllocator;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.segment.SegmentWriter;
import io.sluice.storage.SeriesIds;
import io.sluice.storage.kafka.Placement;
import io.sluice.storage.kafka.SegmentSink;
import io.sluice.storage.kafka.Topics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Turns accepted items into segments, one per Kafka partition they belong to ({@link Placement}: a series
 * always lands in the partition of its id; an event in the partition of its tenant and id), and hands them to
 * the sink. Before the topics are known (Kafka unreachable since start) items are placed among
 * {@code kafka.partitions}; the sink spools them and places them again if the topic has another count.
 * The returned future completes only when every segment of the batch has been acknowledged, which is
 * what an ingest ack waits for.
 */
public final class IngestPipeline {

    /**
     * Uncompressed record bytes at which a binary batch's segment for one partition is cut and a new one
     * started, so that a large batch never makes a Kafka record over the producer's request size.
     */
    public static final int SEGMENT_CUT_BYTES = 256 * 1024;

    private final SegmentSink sink;
    private final Topics topics;
    private final ByteBufAllocator alloc;
    private final int segmentCutBytes;
    private final Timer sendLatency;
    private final DistributionSummary segmentItems;

    public IngestPipeline(SegmentSink sink, Topics topics, ByteBufAllocator alloc, MeterRegistry registry) {
        this(sink, topics, alloc, registry, SEGMENT_CUT_BYTES);
    }

    /** @param segmentCutBytes where a binary batch's segments are cut; {@link #SEGMENT_CUT_BYTES} outside tests */
    IngestPipeline(SegmentSink sink, Topics topics, ByteBufAllocator alloc, MeterRegistry registry,
                   int segmentCutBytes) {
        this.sink = sink;
        this.topics = topics;
        this.alloc = alloc;
        this.segmentCutBytes = segmentCutBytes;
        this.sendLatency = Timer.builder("sluice_kafka_send_latency")
                .description("Time from handing a segment to Kafka to its acknowledgement")
                .publishPercentiles(0.5, 0.99).register(registry);
        this.segmentItems = DistributionSummary.builder("sluice_ingest_segment_items")
                .description("Samples or events per segment written to Kafka").register(registry);
    }

    public CompletableFuture<Void> submitSamples(String tenant, List<ParsedBatch.Sample> samples) {
        String topic = topics.metrics();
        int partitions = topics.partitions(topic);
        long tenantHash = SeriesIds.tenantHash(tenant);
        SegmentWriter[] writers = new SegmentWriter[partitions];
        try {
            for (ParsedBatch.Sample s : samples) {
                int partition = Placement.ofSample(tenantHash, s.series(), partitions);
                writer(writers, partition, tenant).addSample(s.series(), s.timestampMs(), s.value());
            }
            return send(topic, writers);
        } catch (RuntimeException e) {
            closeAll(writers);
            throw e;
        }
    }

    public CompletableFuture<Void> submitEvents(String tenant, List<Event> events) {
        String topic = topics.events();
        int partitions = topics.partitions(topic);
        long tenantHash = SeriesIds.tenantHash(tenant);
        SegmentWriter[] writers = new SegmentWriter[partitions];
        try {
            for (Event e : events) {
                writer(writers, Placement.ofEvent(tenantHash, e.id(), partitions), tenant).addEvent(e);
            }
            return send(topic, writers);
        } catch (RuntimeException e) {
            closeAll(writers);
            throw e;
        }
    }

    /**
     * What one binary connection's earlier batches settled about its series, by their id in the connection's
     * dictionary (a series keeps its id for the connection's life: SPEC.md, "Series dictionary"): the partition
     * {@link Placement} gives it, and its id in the segment last written for that partition. So a series sent in every
     * batch is placed once, and defined once per segment without a lookup by value. Used by the connection's event
     * loop only.
     */
    public static final class SeriesRoutes {

        private String tenant;
        private int partitions = -1;
        /** Per dictionary id: its partition + 1 (0: not placed yet). */
        private int[] partitionOf = new int[0];
        /** Per dictionary id: the serial of the segment it was last defined in (high 32 bits) and its id there. */
        private long[] segmentIdOf = new long[0];
        /** Segments started for this connection; the serial of each, from 1 (0 in {@link #segmentIdOf}: none). */
        private long segments;

        /** Ready for a batch of {@code tenant} with {@code series} dictionary ids, placed among {@code partitions}. */
        private void prepare(String tenant, int partitions, int series) {
            if (partitions != this.partitions || !tenant.equals(this.tenant)) {
                this.tenant = tenant;
                this.partitions = partitions;
                Arrays.fill(partitionOf, 0);
            }
            if (series > partitionOf.length) {
                int length = Math.max(series, 2 * partitionOf.length);
                partitionOf = Arrays.copyOf(partitionOf, length);
                segmentIdOf = Arrays.copyOf(segmentIdOf, length);
            }
        }
    }

    /**
     * Submits every sample and event of a decoded binary batch, copied record by record (no object per
     * sample) into one segment per partition, cut at {@link #SEGMENT_CUT_BYTES}. The batch is not released:
     * its bytes are copied before this returns, so the caller may release it at once. {@code routes} is the
     * connection's.
     */
    public CompletableFuture<Void> submitBatch(String tenant, Batch batch, SeriesRoutes routes) {
        long tenantHash = SeriesIds.tenantHash(tenant);
        String metricsTopic = topics.metrics();
        String eventsTopic = topics.events();
        SegmentWriter[] samples = new SegmentWriter[topics.partitions(metricsTopic)];
        long[] serialOf = new long[samples.length];
        SegmentWriter[] events = new SegmentWriter[topics.partitions(eventsTopic)];
        List<CompletableFuture<Void>> acks = new ArrayList<>();
        routes.prepare(tenant, samples.length, batch.series() == null ? 0 : batch.series().size());
        int[] partitionOf = routes.partitionOf;
        long[] segmentIdOf = routes.segmentIdOf;
        try {
            RecordCursor cursor = batch.cursor();
            while (cursor.next()) {
                if (cursor.isSample()) {
                    int id = cursor.seriesId();
                    int partition = partitionOf[id] - 1;
                    if (partition < 0) {
                        partition = Placement.ofSample(tenantHash, cursor.series(), samples.length);
                        partitionOf[id] = partition + 1;
                    }
                    SegmentWriter w = samples[partition];
                    if (w == null) {
                        w = writer(samples, partition, tenant);
                        serialOf[partition] = ++routes.segments;
                    }
                    long serial = serialOf[partition];
                    int segmentId;
                    if (segmentIdOf[id] >>> 32 == serial) {
                        segmentId = (int) segmentIdOf[id];
                    } else {
                        segmentId = w.define(cursor.series()); // not in this segment yet: no lookup by value
                        segmentIdOf[id] = serial << 32 | segmentId;
                    }
                    w.addSample(segmentId, cursor.timestampMs(), cursor.value());
                    cut(samples, partition, metricsTopic, acks);
                } else {
                    int partition = Placement.ofEvent(tenantHash, cursor.event().id(), events.length);
                    writer(events, partition, tenant).copy(cursor);
                    cut(events, partition, eventsTopic, acks);
                }
            }
            acks.add(send(metricsTopic, samples));
            acks.add(send(eventsTopic, events));
        } catch (RuntimeException e) {
            closeAll(samples);
            closeAll(events);
            // Segments already handed to the sink stay there; the caller NACKs, the client resends.
            throw e;
        }
        return CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new));
    }

    /** Sends the partition's segment once it reached the cut; its next record starts a new one. */
    private void cut(SegmentWriter[] writers, int partition, String topic, List<CompletableFuture<Void>> acks) {
        SegmentWriter w = writers[partition];
        if (w.recordBytes() >= segmentCutBytes) {
            writers[partition] = null;
            acks.add(sendOne(topic, partition, writers.length, w));
        }
    }

    private SegmentWriter writer(SegmentWriter[] writers, int partition, String tenant) {
        SegmentWriter w = writers[partition];
        if (w == null) {
            w = SegmentWriter.create(alloc, tenant, true);
            writers[partition] = w;
        }
        return w;
    }

    private CompletableFuture<Void> send(String topic, SegmentWriter[] writers) {
        List<CompletableFuture<Void>> acks = new ArrayList<>();
        for (int partition = 0; partition < writers.length; partition++) {
            SegmentWriter w = writers[partition];
            if (w == null) {
                continue;
            }
            writers[partition] = null;
            acks.add(sendOne(topic, partition, writers.length, w));
        }
        return CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new));
    }

    private CompletableFuture<Void> sendOne(String topic, int partition, int partitions, SegmentWriter w) {
        segmentItems.record(w.sampleCount() + w.eventCount());
        long started = System.nanoTime();
        return sink.send(topic, partition, partitions, w.finish())
                .whenComplete((ok, err) -> sendLatency.record(System.nanoTime() - started, TimeUnit.NANOSECONDS));
    }

    private static void closeAll(SegmentWriter[] writers) {
        for (SegmentWriter w : writers) {
            if (w != null) {
                w.close();
            }
        }
    }

}
