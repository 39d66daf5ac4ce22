package io.sluice.storage.writer;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.collection.LongObjectHashMap;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.record.SeriesDefinitions;
import io.sluice.protocol.segment.Segment;
import io.sluice.storage.SeriesIds;
import io.sluice.storage.chunks.CounterRun;
import io.sluice.storage.chunks.Summary;

import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a run of Kafka records of one partition holds: new series and events as COPY text for the writer's staging
 * tables ({@code stage_series(id, tenant, name, labels)} and {@code stage_events(tenant, event_id, type, ts_ms, key,
 * attributes, seq)}, seq being the event's place in the batch, so that the first copy of an id wins), and the
 * samples gathered per series, which {@link #prepare()} encodes as chunks and rollups as if all were new, and
 * {@link #dropStored} again once the transaction found some of them stored already. Owns one reference to each of its buffers until {@link #release()}; COPY is handed a retained
 * reference, which the driver releases once it has written it.
 */
final class WriteBatch {

    final ByteBuf series;
    final ByteBuf events;
    /** The batch's samples per series id (keyed by the id itself: looked up for every series of every segment). */
    private final LongObjectHashMap<SeriesSamples> samplesById = new LongObjectHashMap<>();
    /** The same, in the order the series first appear. */
    private final List<SeriesSamples> samples = new ArrayList<>();
    final Set<LocalDate> days = new HashSet<>();
    /** Per tenant and metric, the time range of the batch's samples: what the writer announces once committed. */
    final io.sluice.storage.invalidation.WrittenRanges written = new io.sluice.storage.invalidation.WrittenRanges();
    int sampleCount;
    int eventCount;
    int expired;
    /** The values that are not valid segments: their place in the list given to {@link #of} and why. */
    final List<Undecodable> undecodable = new ArrayList<>();

    record Undecodable(int index, String error) {
    }
    private boolean released;

    private final ByteBufAllocator alloc;
    /** Binary COPY for {@code sample_chunks} and {@code stage_rollups}, made by {@link #chunkRows}. */
    private ByteBuf chunks;
    private ByteBuf rollups;
    private final KnownSeries knownSeries;
    /** Walks each segment added (kept, not made per segment: see {@link RecordCursor#reset}). */
    private final RecordCursor cursor = new RecordCursor();
    /** The ids of the series rows in {@link #series}, the first {@link #stagedCount} of them. */
    private long[] stagedIds = new long[64];
    private int stagedCount;
    /** Samples dropped because they were already stored or came twice in this batch (the first write wins). */
    long duplicates;

    private WriteBatch(ByteBufAllocator alloc, KnownSeries known) {
        this.alloc = alloc;
        this.knownSeries = known;
        this.series = alloc.buffer(4096);
        this.events = alloc.buffer(1024);
    }

    /**
     * Decodes the record values; rows older than {@code horizon} (past raw retention, their partition
     * is gone) are skipped and counted. A value that is not a valid segment is listed in {@link #undecodable}
     * (the writer sets it aside): it can never become valid, and stopping the partition for it would stop every
     * tenant.
     */
    static WriteBatch of(List<byte[]> values, Instant horizon, ByteBufAllocator alloc) {
        return of(values, horizon, alloc, KnownSeries.none());
    }

    /**
     * The same, staging only the series {@code known} does not hold (their ids are in {@link #stagedSeries}, to be
     * remembered once the batch committed).
     */
    static WriteBatch of(List<byte[]> values, Instant horizon, ByteBufAllocator alloc, KnownSeries known) {
        WriteBatch batch = new WriteBatch(alloc, known);
        try {
            // the records of a batch define the same series again and again: each is decoded into strings once
            SeriesDefinitions definitions = new SeriesDefinitions();
            long horizonMs = horizon.toEpochMilli();
            for (int i = 0; i < values.size(); i++) {
                Segment segment;
                try {
                    segment = Segment.decode(values.get(i), definitions);
                } catch (RuntimeException e) {
                    batch.undecodable.add(new Undecodable(i, "not a valid segment: " + e.getMessage()));
                    continue;
                }
                try (segment) {
                    batch.add(segment, horizonMs);
                }
            }
            return batch;
        } catch (RuntimeException e) {
            batch.release();
            throw e;
        }
    }

    private void add(Segment segment, long horizonMs) {
        String tenant = segment.tenant();
        long tenantHash = SeriesIds.tenantHash(tenant);
        SeriesSamples[] bySeries = new SeriesSamples[segment.series().size()];
        long lastDay = Long.MIN_VALUE;
        RecordCursor cursor = segment.cursor(this.cursor);
        while (cursor.next()) {
            long ts = cursor.timestampMs();
            if (ts < horizonMs) {
                expired++;
                continue;
            }
            long day = Math.floorDiv(ts, DAY_MS);
            if (day != lastDay) {
                days.add(LocalDate.ofEpochDay(day));
                lastDay = day;
            }
            if (cursor.isSample()) {
                int local = cursor.seriesId();
                SeriesSamples of = bySeries[local];
                if (of == null) {
                    of = seriesSamples(tenant, tenantHash, cursor.series());
                    bySeries[local] = of;
                }
                of.add(ts, cursor.value());
                io.sluice.storage.invalidation.WrittenRanges.touch(of.writtenRange, ts);
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

    /**
     * The samples of series {@code s} in this batch, made on its first sample in the batch (in any segment): the series
     * is then staged unless {@link KnownSeries} holds it, and its metric's written range looked up once.
     */
    private SeriesSamples seriesSamples(String tenant, long tenantHash, Series s) {
        long id = SeriesIds.of(tenantHash, s);
        SeriesSamples of = samplesById.get(id);
        if (of != null) {
            return of;
        }
        of = new SeriesSamples(id, written.slot(tenant, s.name()));
        samplesById.put(id, of);
        samples.add(of);
        if (!knownSeries.contains(id)) {
            if (stagedCount == stagedIds.length) {
                stagedIds = Arrays.copyOf(stagedIds, stagedCount * 2);
            }
            stagedIds[stagedCount++] = id;
            CopyText.number(series, id);
            CopyText.tab(series);
            CopyText.text(series, tenant);
            CopyText.tab(series);
            CopyText.text(series, s.name());
            CopyText.tab(series);
            CopyText.jsonObject(series, s.labels());
            CopyText.endRow(series);
        }
        return of;
    }

    /** How many series rows the batch stages (the series it holds that were not known). */
    int stagedSeries() {
        return stagedCount;
    }

    /** Remembers the staged series as stored: call once the transaction that upserted them committed. */
    void rememberStagedSeries() {
        knownSeries.rememberAll(stagedIds, stagedCount);
    }

    /** What the transaction learnt of its partition's heads, for the writer to remember once it committed. */
    HeadsNoted heads;

    /**
     * The partition's memory of heads, the placement's epoch the transaction held, and the heads it found (per series
     * of {@link #headIds()}, {@link PartitionHeads#UNKNOWN} for one with nothing stored).
     */
    record HeadsNoted(PartitionHeads partition, long epoch, long[] before) {
    }

    /**
     * Once the transaction committed (its partition's next offset {@code nextOffset}): each series' head is now its
     * newest sample here or the head before, whichever is later (a sample dropped as stored already is stored).
     * Answers how many series the partition's memory forgot to make room for them.
     */
    int headsCommitted(long nextOffset) {
        HeadsNoted noted = heads;
        if (noted == null) {
            return 0;
        }
        long[] after = new long[headIds.length];
        for (int i = 0; i < headIds.length; i++) {
            after[i] = Math.max(noted.before()[i], headMaxMs[i]);
        }
        return noted.partition().committed(nextOffset, noted.epoch(), headIds, after);
    }

    /** A series with samples at or before its head (the newest timestamp stored): they are checked against its chunks. */
    record Late(long seriesId, long fromMs, long toMs) {
    }

    private boolean prepared;
    /** 1-hour rows are encoded for the hours before this (ms): those folded, as far as the writer last saw. */
    private long hourRowsBefore = Long.MIN_VALUE;
    /** The UTC hours (ms) the batch's samples to store fall in, ascending, as {@link #chunkRows} last found them. */
    private long[] hours = new long[0];
    private Long[] headIds;
    /** The newest timestamp of each series of {@link #headIds()}. */
    private long[] headMaxMs;
    private ChunkRows rows;

    /**
     * Orders each series' samples by timestamp, keeps the first of equal timestamps, and encodes the chunks and
     * rollups as if every sample were new (the common case, decided in the transaction by {@link #late}); done
     * before the transaction, so that the transaction holds its locks only for the database work. Idempotent.
     */
    void prepare() {
        prepare(hourRowsBefore);
    }

    /**
     * {@link #prepare()}, encoding 1-hour rows for the hours before {@code foldedBeforeMs} (the writer's last sight of
     * {@code rollup_folds}: usually past the batch's hours, so none are); {@link #rows(long)} encodes again if the
     * transaction finds that the hours folded are others.
     */
    void prepare(long foldedBeforeMs) {
        if (prepared) {
            return;
        }
        prepared = true;
        hourRowsBefore = foldedBeforeMs;
        headIds = new Long[samples.size()];
        headMaxMs = new long[samples.size()];
        for (int i = 0; i < samples.size(); i++) {
            SeriesSamples s = samples.get(i);
            duplicates += s.sortKeepingFirst();
            headIds[i] = s.id;
            headMaxMs[i] = s.timestamps[s.size - 1];
        }
        rows = chunkRows();
    }

    /** The batch's series ids, in the order they first appear. */
    Long[] headIds() {
        prepare();
        return headIds;
    }

    /**
     * The series with samples at or before their head ({@code heads}: per series of {@link #headIds()}, the newest
     * timestamp stored before this batch, or {@link PartitionHeads#UNKNOWN} for one with nothing stored).
     */
    List<Late> late(long[] heads) {
        prepare();
        List<Late> late = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) {
            SeriesSamples s = samples.get(i);
            long head = heads[i];
            if (s.size > 0 && s.timestamps[0] <= head) {
                late.add(new Late(s.id, s.timestamps[0], Math.min(head, s.timestamps[s.size - 1])));
            }
        }
        return late;
    }

    /**
     * Drops the samples already stored ({@code stored}: per series, the timestamps its chunks have) and encodes the
     * chunks and rollups of the rest again.
     */
    void dropStored(Map<Long, Set<Long>> stored) {
        prepare();
        stored.forEach((id, timestamps) -> {
            SeriesSamples s = samplesById.get((long) id);
            if (s != null) {
                duplicates += s.retain(ts -> !timestamps.contains(ts));
            }
        });
        rows = chunkRows();
    }

    /** The chunks and rollups of the samples to store (see {@link #prepare()} and {@link #dropStored}). */
    ChunkRows rows() {
        prepare();
        return rows;
    }

    /** The UTC hours (ms) of the samples to store, ascending: the hours the transaction holds against a fold. */
    Long[] hours() {
        prepare();
        Long[] out = new Long[hours.length];
        for (int i = 0; i < hours.length; i++) {
            out[i] = hours[i];
        }
        return out;
    }

    /**
     * {@link #rows()} with 1-hour rows for exactly the hours before {@code foldedBeforeMs} (those already folded, whose
     * 1-hour rows are whole and take this batch's samples too); the other hours get only 1-minute rows, and their
     * 1-hour rows are folded from those once the hour has ended. Encodes again only when that changes which hours
     * get 1-hour rows.
     */
    ChunkRows rows(long foldedBeforeMs) {
        prepare();
        if (hoursBefore(foldedBeforeMs) != hoursBefore(hourRowsBefore)) {
            hourRowsBefore = foldedBeforeMs;
            rows = chunkRows();
        }
        return rows;
    }

    private int hoursBefore(long limitMs) {
        int n = 0;
        while (n < hours.length && hours[n] < limitMs) {
            n++;
        }
        return n;
    }

    /** Binary COPY rows of chunks and rollups, and how many samples they hold. */
    record ChunkRows(ByteBuf chunks, ByteBuf rollups, long samples) {
    }

    private static final long DAY_MS = 86_400_000;
    static final int ROLLUP_MINUTE = 1;
    static final int ROLLUP_HOUR = 60;
    private static final long MINUTE_MS = 60_000;
    private static final long HOUR_MS = 3_600_000;

    /**
     * The samples left as one packed chunk per series and UTC hour ({@code sample_chunks} binary COPY) and their
     * 1-minute summaries ({@code stage_rollups(res, series_id, bucket, min, max, sum, count, points,
     * first_ms, first_val, last_ms, last_val, resets)} binary COPY, res 1), each summing its samples one by one in
     * timestamp order, with their {@link CounterRun}s; and, for the hours before {@link #hourRowsBefore} (folded
     * already), their 1-hour summaries (res 60), each summing its minutes' sums in minute order, as
     * {@link io.sluice.storage.chunks.HourFold} does.
     */
    private ChunkRows chunkRows() {
        if (chunks != null) {
            chunks.release();
            rollups.release();
        }
        // sized for what they will hold: growing a heap buffer copies it, and these are the writer's largest
        long minutes = 0;
        long hours = 0;
        long samplesLeft = 0;
        long[] distinctHours = new long[4]; // a batch's samples span an hour or two: no boxing, no tree per series
        int distinct = 0;
        for (SeriesSamples s : samples) {
            long lastMinute = Long.MIN_VALUE;
            long lastHour = Long.MIN_VALUE;
            for (int i = 0; i < s.size; i++) {
                long minute = Math.floorDiv(s.timestamps[i], MINUTE_MS);
                if (minute != lastMinute) {
                    minutes++;
                    lastMinute = minute;
                    long hour = Math.floorDiv(minute, 60);
                    if (hour != lastHour) {
                        hours++;
                        lastHour = hour;
                        long hourMs = hour * HOUR_MS;
                        if (!contains(distinctHours, distinct, hourMs)) {
                            if (distinct == distinctHours.length) {
                                distinctHours = java.util.Arrays.copyOf(distinctHours, distinct * 2);
                            }
                            distinctHours[distinct++] = hourMs;
                        }
                    }
                }
            }
            samplesLeft += s.size;
        }
        chunks = alloc.buffer(capacity(CopyBinary.FRAME_BYTES + hours * CHUNK_ROW_BYTES
                + samplesLeft * PACKED_BYTES_PER_SAMPLE));
        rollups = alloc.buffer(capacity(CopyBinary.FRAME_BYTES + (minutes + hours) * ROLLUP_ROW_BYTES));
        CopyBinary.header(chunks);
        CopyBinary.header(rollups);
        this.hours = java.util.Arrays.copyOf(distinctHours, distinct);
        java.util.Arrays.sort(this.hours);
        long stored = 0;
        for (SeriesSamples s : samples) {
            if (s.size == 0) {
                continue;
            }
            stored += s.size;
            int i = 0;
            while (i < s.size) {
                long hour = Math.floorDiv(s.timestamps[i], HOUR_MS) * HOUR_MS;
                int end = i;
                Summary hourly = new Summary();
                CounterRun hourlyRun = new CounterRun();
                while (end < s.size && s.timestamps[end] < hour + HOUR_MS) {
                    long minute = Math.floorDiv(s.timestamps[end], MINUTE_MS) * MINUTE_MS;
                    Summary minutely = new Summary();
                    CounterRun minutelyRun = new CounterRun();
                    while (end < s.size && s.timestamps[end] < minute + MINUTE_MS) {
                        minutely.add(s.values[end]); // value by value: IEEE sums depend on order
                        minutelyRun.add(s.timestamps[end], s.values[end]);
                        hourlyRun.add(s.timestamps[end], s.values[end]);
                        end++;
                    }
                    hourly.add(minutely); // an hour sums its minutes' sums, in minute order, as a fold does
                    rollupRow(ROLLUP_MINUTE, s.id, minute, minutely, minutelyRun);
                }
                if (hour < hourRowsBefore) {
                    rollupRow(ROLLUP_HOUR, s.id, hour, hourly, hourlyRun);
                }
                CopyBinary.row(chunks, 6);
                CopyBinary.int8(chunks, s.id);
                CopyBinary.timestampMs(chunks, hour);
                CopyBinary.int8(chunks, s.timestamps[i]);
                CopyBinary.int8(chunks, s.timestamps[end - 1]);
                CopyBinary.int4(chunks, end - i);
                CopyBinary.packedChunk(chunks, s.timestamps, s.values, i, end);
                i = end;
            }
        }
        CopyBinary.trailer(chunks);
        CopyBinary.trailer(rollups);
        return new ChunkRows(chunks, rollups, stored);
    }

    /** A {@code stage_rollups} row's bytes: the field count, then an int4 and twelve 8-byte fields, each after its length. */
    private static final int ROLLUP_ROW_BYTES = Short.BYTES + (Integer.BYTES + Integer.BYTES) + 12 * (Integer.BYTES + Long.BYTES);
    /** A {@code sample_chunks} row's bytes without its data: four 8-byte fields, an int4 and the data's length. */
    private static final int CHUNK_ROW_BYTES = Short.BYTES + 4 * (Integer.BYTES + Long.BYTES) + 2 * Integer.BYTES + Integer.BYTES;
    /** Packed bytes per sample to reserve: a steady interval and a value whose bits all change (the most common worst). */
    private static final int PACKED_BYTES_PER_SAMPLE = 10;

    private static boolean contains(long[] values, int size, long value) {
        for (int i = 0; i < size; i++) {
            if (values[i] == value) {
                return true;
            }
        }
        return false;
    }

    private static int capacity(long bytes) {
        return (int) Math.min(bytes, 64L << 20); // beyond that, let the buffer grow as it fills
    }

    private void rollupRow(int resolution, long seriesId, long bucketMs, Summary s, CounterRun run) {
        rollupRow(rollups, resolution, seriesId, bucketMs, s, run);
    }

    /** A {@code stage_rollups} row; the counter columns of an unknown run are NULL, as the rollup tables keep them. */
    static void rollupRow(ByteBuf out, int resolution, long seriesId, long bucketMs, Summary s, CounterRun run) {
        CopyBinary.row(out, 13);
        CopyBinary.int4(out, resolution);
        CopyBinary.int8(out, seriesId);
        CopyBinary.timestampMs(out, bucketMs);
        CopyBinary.float8(out, s.min());
        CopyBinary.float8(out, s.max());
        CopyBinary.float8(out, s.sum());
        CopyBinary.int8(out, s.count());
        if (!run.known()) {
            for (int i = 0; i < 6; i++) {
                CopyBinary.nul(out);
            }
            return;
        }
        CopyBinary.int8(out, run.points());
        CopyBinary.int8(out, run.firstMs());
        CopyBinary.float8(out, run.first());
        CopyBinary.int8(out, run.lastMs());
        CopyBinary.float8(out, run.last());
        CopyBinary.float8(out, run.resets());
    }

    /** Drops this batch's own reference to its buffers (COPY takes and releases a reference of its own); idempotent. */
    void release() {
        if (!released) {
            released = true;
            series.release();
            events.release();
            if (chunks != null) {
                chunks.release();
                rollups.release();
            }
        }
    }
}
