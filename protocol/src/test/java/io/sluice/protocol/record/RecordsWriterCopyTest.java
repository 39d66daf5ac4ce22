package io.sluice.protocol.record;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.buffer.UnpooledHeapByteBuf;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Copying a block into another dictionary with its series looked up once ({@link RecordsWriter#idsOf} then
 * {@link RecordsWriter#copyAll(RecordCursor, int[])}) writes the very bytes that copying record by record does, and
 * leaves the target dictionary the same; a staging block, whose series are in its dictionary only, copies to the same
 * bytes as the block with its definitions.
 */
class RecordsWriterCopyTest {

    @Test
    void copyingWithLookedUpIdsWritesWhatRecordByRecordCopyingWrites() {
        Random random = new Random(20261203L);
        List<Series> series = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            series.add(Series.of("m" + i % 9, "host", "h" + i, "zone", "z" + i % 4));
        }
        for (int round = 0; round < 20; round++) {
            ByteBuf source = heap();
            ByteBuf byRecord = heap();
            ByteBuf byIds = heap();
            try {
                SeriesDictionary sourceSeries = new SeriesDictionary();
                RecordsWriter sourceWriter = new RecordsWriter(source, sourceSeries);
                long ts = 1_700_000_000_000L + random.nextInt(1_000_000);
                int records = 1 + random.nextInt(2_000);
                for (int r = 0; r < records; r++) {
                    ts += random.nextInt(2_000) - 500;
                    if (random.nextInt(40) == 0) {
                        sourceWriter.addEvent("e" + r, "deploy", ts, "k", Map.of("a", "b" + r));
                    } else {
                        sourceWriter.addSample(series.get(random.nextInt(1 + random.nextInt(series.size()))), ts,
                                random.nextGaussian());
                    }
                }
                sourceWriter.finish();

                // two target dictionaries that already define the same random part of the series (a connection's)
                SeriesDictionary a = new SeriesDictionary();
                SeriesDictionary b = new SeriesDictionary();
                for (Series s : series) {
                    if (random.nextInt(3) == 0) {
                        a.add(s);
                        b.add(s);
                    }
                }
                SeriesTable table = sourceSeries.snapshot();

                RecordsWriter one = new RecordsWriter(byRecord, a);
                int copied = one.copyAll(new RecordCursor(source, table));
                one.finish();

                RecordsWriter other = new RecordsWriter(byIds, b);
                int[] ids = other.idsOf(table);
                for (int i = 0; i < ids.length; i++) {
                    assertThat(ids[i]).isEqualTo(b.idOf(table.get(i)) + 1);
                }
                assertThat(other.copyAll(new RecordCursor(source, table), ids)).isEqualTo(copied).isEqualTo(records);
                other.finish();

                assertThat(ByteBufUtil.getBytes(byIds)).isEqualTo(ByteBufUtil.getBytes(byRecord));
                assertThat(b.size()).isEqualTo(a.size());
                for (int i = 0; i < a.size(); i++) {
                    assertThat(b.get(i)).isEqualTo(a.get(i));
                }
                for (int i = 0; i < ids.length; i++) {
                    assertThat(ids[i]).as("every series the block used is defined now")
                            .isEqualTo(b.idOf(table.get(i)) + 1).isPositive();
                }
            } finally {
                source.release();
                byRecord.release();
                byIds.release();
            }
        }
    }

    @Test
    void aStagingBlockCopiesAsTheBlockWithItsDefinitionsDoes() {
        Random random = new Random(20261204L);
        List<Series> series = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            series.add(Series.of("m" + i % 5, "host", "h" + i, "dc", "d\u00e9" + i % 3));
        }
        for (int round = 0; round < 20; round++) {
            ByteBuf full = heap();
            ByteBuf staged = heap();
            ByteBuf fromFull = heap();
            ByteBuf fromStaged = heap();
            try {
                SeriesDictionary fullSeries = new SeriesDictionary();
                SeriesDictionary stagedSeries = new SeriesDictionary();
                RecordsWriter a = new RecordsWriter(full, fullSeries);
                RecordsWriter b = RecordsWriter.staging(staged, stagedSeries);
                long ts = 1_700_000_000_000L;
                int records = 1 + random.nextInt(3_000);
                for (int r = 0; r < records; r++) {
                    ts += random.nextInt(100);
                    if (random.nextInt(30) == 0) {
                        a.addEvent("e" + r, "deploy", ts, "", Map.of());
                        b.addEvent("e" + r, "deploy", ts, "", Map.of());
                    } else {
                        Series s = series.get(random.nextInt(series.size()));
                        double v = random.nextDouble();
                        a.addSample(s, ts, v);
                        b.addSample(s, ts, v);
                    }
                }
                a.finish();
                b.finish();
                assertThat(b.bytesWritten()).as("a staging block counts the definitions it leaves out")
                        .isEqualTo(a.bytesWritten());
                assertThat(staged.readableBytes()).isLessThan(full.readableBytes());

                RecordsWriter one = new RecordsWriter(fromFull, new SeriesDictionary());
                one.copyAll(new RecordCursor(full, fullSeries.snapshot()));
                one.finish();
                RecordsWriter other = new RecordsWriter(fromStaged, new SeriesDictionary());
                other.copyAll(new RecordCursor(staged, stagedSeries.snapshot()),
                        other.idsOf(stagedSeries.snapshot()));
                other.finish();
                assertThat(ByteBufUtil.getBytes(fromStaged)).isEqualTo(ByteBufUtil.getBytes(fromFull));
            } finally {
                full.release();
                staged.release();
                fromFull.release();
                fromStaged.release();
            }
        }
    }

    /** Not from an allocator: under paranoid leak detection every access to a tracked buffer records a trace. */
    private static ByteBuf heap() {
        return new UnpooledHeapByteBuf(UnpooledByteBufAllocator.DEFAULT, 1024, Integer.MAX_VALUE);
    }
}
