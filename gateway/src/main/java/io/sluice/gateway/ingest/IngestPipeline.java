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
     * One binary connection's segments: what its earlier batches settled about its series, by their id in the
     * connection's dictionary (a series keeps its id for the connection's life: SPEC.md, "Series dictionary"), and
     * the segments its batches fill until {@link #flush} sends them. A series sent in every batch is placed once
     * ({@link Placement}) and defined once per segment without a lookup by value; batches the connection's event
     * loop handles in one turn share one segment per partition, so a series they all send is defined once for
     * all of them rather than once per batch. Used by the connection's event loop only.
     */
    public static final class ConnectionSegments {

        private String tenant;
        /** Per dictionary id: its partition + 1 (0: not placed yet). */
        private int[] partitionOf = new int[0];
        /** Per dictionary id: the serial of the segment it was last defined in (high 32 bits) and its id there. */
        private long[] segmentIdOf = new long[0];
        /** Segments started for this connection; the serial of each, from 1 (0 in {@link #segmentIdOf}: none). */
        private long segments;
        /** Batches submitted; the number of each, from 1. */
        private int batches;
        private Open samples = new Open(0);
        private Open events = new Open(0);
        /** Walks each batch submitted (kept, not made per batch: see {@link RecordCursor#reset}). */
        private final RecordCursor cursor = new RecordCursor();

        /** Whether a submitted batch's records wait in a segment that {@link #flush} has not sent yet. */
        public boolean hasOpenSegments() {
            return samples.open > 0 || events.open > 0;
        }
    }

    /** The open segments of one topic's partitions, and the acknowledgement each one's batches wait for. */
    private static final class Open {
        final SegmentWriter[] writers;
        final CompletableFuture<Void>[] acks;
        /** Per partition: the serial of its open segment. */
        final long[] serials;
        /** Per partition: the last batch whose acknowledgement waits for the open segment. */
        final int[] batchOf;
        int open;

        @SuppressWarnings("unchecked")
        Open(int partitions) {
            writers = new SegmentWriter[partitions];
            acks = new CompletableFuture[partitions];
            serials = new long[partitions];
            batchOf = new int[partitions];
        }
    }

    /**
     * Adds every sample and event of a decoded binary batch, copied record by record (no object per sample), to
     * the connection's open segments, one per partition, and sends a segment once it reaches
     * {@link #SEGMENT_CUT_BYTES}. The rest is sent by {@link #flush}, which the connection's event loop must call
     * once it has handled what it read (the returned future completes only then). The batch is not released: its
     * bytes are copied before this returns, so the caller may release it at once. If this throws, the batch is not
     * sent, and neither are the other batches waiting in the open segments: their futures fail.
     */
    public CompletableFuture<Void> submitBatch(String tenant, Batch batch, ConnectionSegments connection) {
        long tenantHash = SeriesIds.tenantHash(tenant);
        String metricsTopic = topics.metrics();
        String eventsTopic = topics.events();
        prepare(connection, tenant, topics.partitions(metricsTopic), topics.partitions(eventsTopic),
                batch.series() == null ? 0 : batch.series().size());
        Open samples = connection.samples;
        Open events = connection.events;
        int batchNumber = ++connection.batches;
        List<CompletableFuture<Void>> acks = new ArrayList<>(4);
        int[] partitionOf = connection.partitionOf;
        long[] segmentIdOf = connection.segmentIdOf;
        try {
            RecordCursor cursor = batch.cursor(connection.cursor);
            while (cursor.next()) {
                if (cursor.isSample()) {
                    int id = cursor.seriesId();
                    int partition = partitionOf[id] - 1;
                    if (partition < 0) {
                        partition = Placement.ofSample(tenantHash, cursor.series(), samples.writers.length);
                        partitionOf[id] = partition + 1;
                    }
                    SegmentWriter w = writer(connection, samples, partition, batchNumber, acks);
                    long serial = samples.serials[partition];
                    int segmentId;
                    if (segmentIdOf[id] >>> 32 == serial) {
                        segmentId = (int) segmentIdOf[id];
                    } else {
                        segmentId = w.define(cursor.series()); // not in this segment yet: no lookup by value
                        segmentIdOf[id] = serial << 32 | segmentId;
                    }
                    w.addSample(segmentId, cursor.timestampMs(), cursor.value());
                    if (w.recordBytes() >= segmentCutBytes) {
                        sendOpen(metricsTopic, samples, partition);
                    }
                } else {
                    int partition = Placement.ofEvent(tenantHash, cursor.event().id(), events.writers.length);
                    SegmentWriter w = writer(connection, events, partition, batchNumber, acks);
                    w.copy(cursor);
                    if (w.recordBytes() >= segmentCutBytes) {
                        sendOpen(eventsTopic, events, partition);
                    }
                }
            }
        } catch (RuntimeException e) {
            // Segments already handed to the sink stay there; the caller NACKs, the client resends.
            discard(connection, e);
            throw e;
        }
        return acks.size() == 1 ? acks.get(0) : CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new));
    }

    /** Sends the connection's open segments: every batch submitted so far is on its way to Kafka. */
    public void flush(ConnectionSegments connection) {
        sendAll(topics.metrics(), connection.samples);
        sendAll(topics.events(), connection.events);
    }

    /**
     * Releases the connection's open segments without sending them (the connection is gone): the futures of the
     * batches that waited in them fail with {@code cause}.
     */
    public void discard(ConnectionSegments connection, Throwable cause) {
        for (Open o : new Open[] {connection.samples, connection.events}) {
            for (int partition = 0; partition < o.writers.length; partition++) {
                SegmentWriter w = o.writers[partition];
                if (w != null) {
                    o.writers[partition] = null;
                    o.open--;
                    w.close();
                    o.acks[partition].completeExceptionally(cause);
                }
            }
        }
    }

    /**
     * Ready for a batch of {@code tenant} with {@code series} dictionary ids: segments of another tenant, or placed
     * among another number of partitions (the topics became known), are sent first.
     */
    private void prepare(ConnectionSegments c, String tenant, int metricsPartitions, int eventsPartitions,
                         int series) {
        boolean otherTenant = !tenant.equals(c.tenant);
        if (otherTenant || metricsPartitions != c.samples.writers.length) {
            sendAll(topics.metrics(), c.samples);
            c.samples = new Open(metricsPartitions);
            Arrays.fill(c.partitionOf, 0);
        }
        if (otherTenant || eventsPartitions != c.events.writers.length) {
            sendAll(topics.events(), c.events);
            c.events = new Open(eventsPartitions);
        }
        c.tenant = tenant;
        if (series > c.partitionOf.length) {
            int length = Math.max(series, 2 * c.partitionOf.length);
            c.partitionOf = Arrays.copyOf(c.partitionOf, length);
            c.segmentIdOf = Arrays.copyOf(c.segmentIdOf, length);
        }
    }

    /**
     * The open segment of {@code partition}, started if there is none; the first time a batch writes to it, its
     * acknowledgement joins the batch's.
     */
    private SegmentWriter writer(ConnectionSegments c, Open o, int partition, int batchNumber,
                                 List<CompletableFuture<Void>> acks) {
        SegmentWriter w = o.writers[partition];
        if (w == null) {
            w = SegmentWriter.create(alloc, c.tenant, true);
            o.writers[partition] = w;
            o.acks[partition] = new CompletableFuture<>();
            o.serials[partition] = ++c.segments;
            o.batchOf[partition] = batchNumber;
            o.open++;
            acks.add(o.acks[partition]);
        } else if (o.batchOf[partition] != batchNumber) {
            o.batchOf[partition] = batchNumber;
            acks.add(o.acks[partition]);
        }
        return w;
    }

    private void sendAll(String topic, Open o) {
        for (int partition = 0; o.open > 0 && partition < o.writers.length; partition++) {
            if (o.writers[partition] != null) {
                sendOpen(topic, o, partition);
            }
        }
    }

    /** Hands the partition's open segment to the sink; the batches in it learn the outcome. */
    private void sendOpen(String topic, Open o, int partition) {
        SegmentWriter w = o.writers[partition];
        CompletableFuture<Void> ack = o.acks[partition];
        o.writers[partition] = null;
        o.acks[partition] = null;
        o.open--;
        CompletableFuture<Void> sent;
        try {
            sent = sendOne(topic, partition, o.writers.length, w);
        } catch (RuntimeException e) {
            ack.completeExceptionally(e);
            return;
        }
        sent.whenComplete((ok, err) -> {
            if (err != null) {
                ack.completeExceptionally(err);
            } else {
                ack.complete(null);
            }
        });
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
