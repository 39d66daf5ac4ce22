package io.sluice.protocol.record;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cursor reads back every record the writer wrote, whatever the buffer the block sits in: varints of one to ten
 * bytes (series ids past 2^14, timestamp steps of hours and backwards), values of every bit pattern, definitions and
 * events between samples, and records that end within the block's last eight bytes. A cursor kept and reset from
 * block to block, some left midway, reads each as a new one does.
 */
class RecordCursorTest {

    /** Where the block is read from: each gives the cursor's view another shape (offset, heap or direct, copied). */
    enum Holder {
        HEAP(block -> Unpooled.wrappedBuffer(bytes(block))),
        DIRECT(block -> new UnpooledDirectByteBuf(UnpooledByteBufAllocator.DEFAULT, block.readableBytes(),
                block.readableBytes()).writeBytes(block, block.readerIndex(), block.readableBytes())),
        POOLED_SLICE(block -> {
            ByteBuf big = PooledByteBufAllocator.DEFAULT.directBuffer(block.readableBytes() + 100);
            big.writeZero(37).writeBytes(block, block.readerIndex(), block.readableBytes()).writeZero(11);
            ByteBuf slice = big.retainedSlice(37, block.readableBytes());
            big.release();
            return slice;
        }),
        COMPOSITE(block -> {
            byte[] all = bytes(block);
            int cut = all.length / 3;
            CompositeByteBuf c = new CompositeByteBuf(UnpooledByteBufAllocator.DEFAULT, false, 2);
            c.addComponent(true, Unpooled.wrappedBuffer(all, 0, cut));
            c.addComponent(true, Unpooled.wrappedBuffer(all, cut, all.length - cut).asReadOnly());
            return c;
        });

        final Function<ByteBuf, ByteBuf> copy;

        Holder(Function<ByteBuf, ByteBuf> copy) {
            this.copy = copy;
        }

        private static byte[] bytes(ByteBuf b) {
            byte[] out = new byte[b.readableBytes()];
            b.getBytes(b.readerIndex(), out);
            return out;
        }
    }

    /** One record as written: a sample (series, timestamp, value bits) or an event. */
    private record Written(Series series, long timestampMs, long valueBits, Event event) {
    }

    @ParameterizedTest
    @EnumSource(Holder.class)
    void readsBackWhatTheWriterWrote(Holder holder) {
        Random random = new Random(20261202L + holder.ordinal());
        RecordCursor kept = new RecordCursor();
        assertThat(kept.next()).as("a cursor over no block").isFalse();
        for (int round = 0; round < 8; round++) {
            int seriesCount = round % 4 == 0 ? 20_000 : 1 + random.nextInt(300); // 20,000: ids of three bytes
            List<Series> series = new ArrayList<>(seriesCount);
            for (int i = 0; i < seriesCount; i++) {
                series.add(Series.of("m" + i % 7, "host", "h" + i, "zone", "z" + (i % 3)));
            }
            // not from an allocator: under paranoid leak detection every access to a tracked buffer records a trace
            ByteBuf out = new UnpooledHeapByteBuf(UnpooledByteBufAllocator.DEFAULT, 1024, Integer.MAX_VALUE);
            List<Written> written = new ArrayList<>();
            try {
                RecordsWriter writer = new RecordsWriter(out, new SeriesDictionary());
                long ts = random.nextLong() >> 20;
                int records = seriesCount == 20_000 ? 25_000 : 1 + random.nextInt(3_000);
                for (int r = 0; r < records; r++) {
                    ts += step(random);
                    if (random.nextInt(50) == 0) {
                        Event e = new Event("e" + r, "deploy", ts, random.nextBoolean() ? "" : "k" + r,
                                random.nextBoolean() ? Map.of() : Map.of("a", "b", "c", "d".repeat(random.nextInt(300))));
                        writer.addEvent(e);
                        written.add(new Written(null, ts, 0, e));
                    } else {
                        Series s = series.get(r < seriesCount && seriesCount == 20_000 ? r : random.nextInt(seriesCount));
                        long bits = random.nextInt(4) == 0 ? Double.doubleToRawLongBits(random.nextDouble())
                                : random.nextLong();
                        writer.addSample(s, ts, Double.longBitsToDouble(bits));
                        written.add(new Written(s, ts, bits, null));
                    }
                }
                writer.finish();

                ByteBuf block = holder.copy.apply(out);
                try {
                    SeriesDictionary dictionary = new SeriesDictionary();
                    RecordBlocks.validate(block, dictionary, RecordLimits.DEFAULTS);
                    int readerIndex = block.readerIndex();
                    SeriesTable table = dictionary.snapshot();
                    assertThat(readAll(new RecordCursor(block, table), written.size())).isEqualTo(written);
                    // the kept cursor: first left after half the records, then reset and read whole
                    kept.reset(block, table);
                    for (int r = 0; r < written.size() / 2; r++) {
                        assertThat(kept.next()).isTrue();
                    }
                    assertThat(readAll(kept.reset(block, table), written.size())).isEqualTo(written);
                    assertThat(block.readerIndex()).as("the cursor never moves the block's indices").isEqualTo(readerIndex);
                } finally {
                    block.release();
                }
            } finally {
                out.release();
            }
        }
    }

    private static List<Written> readAll(RecordCursor cursor, int expected) {
        List<Written> read = new ArrayList<>(expected);
        while (cursor.next()) {
            assertThat(cursor.isSample()).isNotEqualTo(cursor.isEvent());
            read.add(cursor.isEvent() ? new Written(null, cursor.timestampMs(), 0, cursor.event())
                    : new Written(cursor.series(), cursor.timestampMs(), Double.doubleToRawLongBits(cursor.value()), null));
        }
        assertThat(cursor.isSample() || cursor.isEvent()).as("past the end").isFalse();
        return read;
    }

    /** Timestamp steps: mostly small, some of hours or years (varints of up to ten bytes), some backwards. */
    private static long step(Random random) {
        return switch (random.nextInt(8)) {
            case 0 -> -random.nextInt(100_000);
            case 1 -> random.nextInt(10_000_000);
            case 2 -> random.nextLong() >> 24;
            default -> random.nextInt(60);
        };
    }
}
