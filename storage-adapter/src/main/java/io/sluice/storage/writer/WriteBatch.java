package io.sluice.storage.writer;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.segment.Segment;
import io.sluice.storage.SeriesIds;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The rows of a run of Kafka records of one partition, as COPY text for the writer's staging tables:
 * {@code stage_series(id, tenant, name, labels)}, {@code stage_samples(series_id, ts_ms, value)} and
 * {@code stage_events(tenant, event_id, type, ts_ms, key, attributes, seq)} (seq: the event's place in the
 * batch, so that the first copy of an id wins). Owns one reference to each of its three buffers until {@link #release()}; COPY is handed a retained duplicate reference, which the driver
 * releases once it has written it.
 */
final class WriteBatch {

    final ByteBuf series;
    final ByteBuf samples;
    final ByteBuf events;
    final Set<LocalDate> days = new HashSet<>();
    int sampleCount;
    int eventCount;
    int expired;
    /** The values that are not valid segments: their place in the list given to {@link #of} and why. */
    final List<Undecodable> undecodable = new ArrayList<>();

    record Undecodable(int index, String error) {
    }
    private boolean released;

    private WriteBatch(ByteBufAllocator alloc) {
        this.series = alloc.buffer(4096);
        this.samples = alloc.buffer(64 * 1024);
        this.events = alloc.buffer(1024);
    }

    /**
     * Decodes the record values; rows older than {@code horizon} (past raw retention, their partition
     * is gone) are skipped and counted. A value that is not a valid segment is listed in {@link #undecodable}
     * (the writer sets it aside): it can never become valid, and stopping the partition for it would stop every
     * tenant.
     */
    static WriteBatch of(List<byte[]> values, Instant horizon, ByteBufAllocator alloc) {
        WriteBatch batch = new WriteBatch(alloc);
        try {
            Set<Long> seenSeries = new HashSet<>();
            long horizonMs = horizon.toEpochMilli();
            for (int i = 0; i < values.size(); i++) {
                Segment segment;
                try {
                    segment = Segment.decode(values.get(i));
                } catch (RuntimeException e) {
                    batch.undecodable.add(new Undecodable(i, "not a valid segment: " + e.getMessage()));
                    continue;
                }
                try (segment) {
                    batch.add(segment, seenSeries, horizonMs);
                }
            }
            return batch;
        } catch (RuntimeException e) {
            batch.release();
            throw e;
        }
    }

    private void add(Segment segment, Set<Long> seenSeries, long horizonMs) {
        String tenant = segment.tenant();
        long[] ids = new long[segment.series().size()];
        boolean[] known = new boolean[ids.length];
        RecordCursor cursor = segment.cursor();
        while (cursor.next()) {
            long ts = cursor.timestampMs();
            if (ts < horizonMs) {
                expired++;
                continue;
            }
            days.add(LocalDate.ofInstant(Instant.ofEpochMilli(ts), ZoneOffset.UTC));
            if (cursor.isSample()) {
                int local = cursor.seriesId();
                if (!known[local]) {
                    Series s = cursor.series();
                    ids[local] = SeriesIds.of(tenant, s);
                    known[local] = true;
                    if (seenSeries.add(ids[local])) {
                        CopyText.number(series, ids[local]);
                        CopyText.tab(series);
                        CopyText.text(series, tenant);
                        CopyText.tab(series);
                        CopyText.text(series, s.name());
                        CopyText.tab(series);
                        CopyText.jsonObject(series, s.labels());
                        CopyText.endRow(series);
                    }
                }
                CopyText.number(samples, ids[local]);
                CopyText.tab(samples);
                CopyText.number(samples, ts);
                CopyText.tab(samples);
                CopyText.number(samples, cursor.value());
                CopyText.endRow(samples);
                sampleCount++;
            } else {
                Event e = cursor.event();
                CopyText.text(events, tenant);
                CopyText.tab(events);
                CopyText.text(events, e.id());
                CopyText.tab(events);
                CopyText.text(events, e.type());
                CopyText.tab(events);
                CopyText.number(events, ts);
                CopyText.tab(events);
                CopyText.text(events, e.key());
                CopyText.tab(events);
                CopyText.jsonObject(events, e.attributes());
                CopyText.tab(events);
                CopyText.number(events, eventCount);
                CopyText.endRow(events);
                eventCount++;
            }
        }
    }

    /** Drops this batch's own reference to its buffers (COPY takes and releases a reference of its own); idempotent. */
    void release() {
        if (!released) {
            released = true;
            series.release();
            samples.release();
            events.release();
        }
    }
}
