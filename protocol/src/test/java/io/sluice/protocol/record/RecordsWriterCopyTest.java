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
 * leaves the target dictionary the same.
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
                    assertThat(ids[i]).as("every series the block used is defined now").isEqualTo(b.idOf(table.get(i)) + 1)
                            .isPositive();
                }
            } finally {
                source.release();
                byRecord.release();
                byIds.release();
            }
        }
    }

    /** Not from an allocator: under paranoid leak detection every access to a tracked buffer records a trace. */
    private static ByteBuf heap() {
        return new UnpooledHeapByteBuf(UnpooledByteBufAllocator.DEFAULT, 1024, Integer.MAX_VALUE);
    }
}
