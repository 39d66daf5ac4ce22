package io.sluice.storage.kafka;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.segment.Segment;
import io.sluice.protocol.segment.SegmentWriter;
import io.sluice.storage.SeriesIds;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which partition an ingested item belongs to: a sample to the partition of its series id, an event to the
 * partition of its tenant and id. One series (one event id) always lands in one partition, which is what lets
 * each partition's writer resolve duplicates alone. The ingest pipeline places items with it, and the spool's
 * replay re-places what was spooled for a partition count the topic turned out not to have.
 */
public final class Placement {

    private Placement() {
    }

    public static int ofSample(long tenantHash, Series series, int partitions) {
        return SeriesIds.partition(SeriesIds.of(tenantHash, series), partitions);
    }

    public static int ofEvent(long tenantHash, String eventId, int partitions) {
        return SeriesIds.partition(SeriesIds.of(tenantHash, Series.of(eventId)), partitions);
    }

    /**
     * Splits one segment into one segment per partition among {@code partitions}, in record order. The
     * returned buffers are the caller's to release (or to hand to a sink).
     */
    public static Map<Integer, ByteBuf> split(byte[] value, int partitions, ByteBufAllocator alloc) {
        Map<Integer, SegmentWriter> writers = new LinkedHashMap<>();
        try (Segment segment = Segment.decode(value)) {
            long tenantHash = SeriesIds.tenantHash(segment.tenant());
            RecordCursor cursor = segment.cursor();
            while (cursor.next()) {
                int partition = cursor.isSample() ? ofSample(tenantHash, cursor.series(), partitions)
                        : ofEvent(tenantHash, cursor.event().id(), partitions);
                writers.computeIfAbsent(partition,
                        p -> SegmentWriter.create(alloc, segment.tenant(), segment.compressed())).copy(cursor);
            }
        } catch (RuntimeException e) {
            writers.values().forEach(SegmentWriter::close);
            throw e;
        }
        Map<Integer, ByteBuf> split = new LinkedHashMap<>();
        writers.forEach((partition, writer) -> split.put(partition, writer.finish()));
        return split;
    }
}
