package io.sluice.protocol.segment;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.TestFrames;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.error.ProtocolException;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.RecordLimits;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.record.SeriesDefinitions;
import io.sluice.protocol.record.SeriesDictionary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static io.sluice.protocol.TestFrames.concat;
import static io.sluice.protocol.TestFrames.encode;
import static io.sluice.protocol.TestFrames.preface;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SegmentTest {

    /**
     * {@code define} writes a definition without looking the series up (the gateway knows which series a segment
     * defines): ids follow one another, a series may be defined twice, and every id reads back as its series.
     */
    @Test
    void seriesDefinedWithoutLookupReadBackUnderEachId() {
        Series a = Series.of("cpu", "host", "a");
        Series b = Series.of("cpu", "host", "b");
        ByteBuf value;
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, "acme", true)) {
            int first = w.define(a);
            int second = w.define(b);
            int again = w.define(a);
            assertThat(List.of(first, second, again)).containsExactly(0, 1, 2);
            w.addSample(again, 1000, 1.5);
            w.addSample(b, 1001, 2.5); // by value: a lookup finds what define wrote, and defines nothing new
            w.addSample(first, 1002, 3.5);
            value = w.finish();
        }
        try (Segment segment = Segment.decode(value, RecordLimits.DEFAULTS, ByteBufAllocator.DEFAULT)) {
            assertThat(segment.series().size()).as("a, b, a again; b not defined a second time").isEqualTo(3);
            RecordCursor c = segment.cursor();
            List<String> read = new ArrayList<>();
            while (c.next()) {
                read.add(c.series().labels().get("host") + "@" + c.timestampMs() + "=" + c.value());
            }
            assertThat(read).containsExactly("a@1000=1.5", "b@1001=2.5", "a@1002=3.5");
        } finally {
            value.release();
        }
    }

    /**
     * The writer finds a definition met in an earlier segment of its batch by its bytes, read through a view of the
     * block: wherever the block lies (heap, composite, direct, at an offset in a larger buffer, a pooled slice, LZ4 or
     * not), the series found is the one remembered, and the records read after it are the same. (An uncompressed
     * segment in a pooled slice was misread before: Netty's pooled slice answers the no-argument
     * {@code retainedSlice()} of its duplicate with its whole capacity.)
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void definitionsRememberedFromAnEarlierSegmentAreFoundWhereverTheBlockLies(boolean lz4) {
        Series a = Series.of("http.server.requests", "host", "web-1", "method", "GET", "route", "/api/v1/items");
        Series b = Series.of("jvm.memory.used", "area", "heap", "host", "web-1");
        ByteBuf value;
        try (SegmentWriter w = SegmentWriter.create(PooledByteBufAllocator.DEFAULT, "acme", lz4)) {
            w.addSample(a, 1000, 1.5);
            w.addSample(b, 1001, 2.5);
            w.addSample(a, 1002, 3.5);
            value = w.finish();
        }
        byte[] bytes = ByteBufUtil.getBytes(value);
        value.release();
        SeriesDefinitions definitions = new SeriesDefinitions();
        Series firstA;
        try (Segment first = Segment.decode(Unpooled.wrappedBuffer(bytes), RecordLimits.DEFAULTS,
                ByteBufAllocator.DEFAULT, definitions)) {
            firstA = first.series().get(0);
        }
        assertThat(definitions.size()).isEqualTo(2);
        ByteBuf padded = PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length + 2000);
        padded.writeZero(1000).writeBytes(bytes).writeZero(1000);
        ByteBuf[] places = {Unpooled.wrappedBuffer(bytes), Unpooled.wrappedBuffer(new byte[7], bytes).skipBytes(7),
                padded.slice(1000, bytes.length), padded.retainedSlice(1000, bytes.length)};
        try {
            for (ByteBuf place : places) {
                try (Segment again = Segment.decode(place, RecordLimits.DEFAULTS, ByteBufAllocator.DEFAULT,
                        definitions)) {
                    assertThat(again.series().get(0)).isSameAs(firstA);
                    RecordCursor c = again.cursor();
                    List<String> seen = new ArrayList<>();
                    while (c.next()) {
                        seen.add(c.series().name() + "@" + c.timestampMs() + "=" + c.value());
                    }
                    assertThat(seen).containsExactly("http.server.requests@1000=1.5", "jvm.memory.used@1001=2.5",
                            "http.server.requests@1002=3.5");
                }
            }
            assertThat(definitions.size()).isEqualTo(2);
        } finally {
            padded.release();
            places[3].release();
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void writerAndReaderRoundTripSamplesAndEvents(boolean lz4) {
        Series a = Series.of("cpu", "host", "h1", "core", "0");
        Series b = Series.of("cpu", "core", "1", "host", "h1");
        ByteBuf value;
        try (SegmentWriter w = SegmentWriter.create(PooledByteBufAllocator.DEFAULT, "tenant-ü", lz4)) {
            w.addSample(a, 1000, 1.5);
            w.addSample(b, 999, Double.NaN);
            w.addEvent(new Event("e1", "click", 2000, "abc", Map.of("ref", "example.org")));
            w.addSample(a, Long.MAX_VALUE, Double.NEGATIVE_INFINITY);
            w.addSample(a, Long.MIN_VALUE, -0.0);
            assertThat(w.sampleCount()).isEqualTo(4);
            value = w.finish();
        }
        try (Segment s = Segment.decode(value, RecordLimits.DEFAULTS, ByteBufAllocator.DEFAULT)) {
            assertThat(s.tenant()).isEqualTo("tenant-ü");
            assertThat(s.compressed()).isEqualTo(lz4);
            assertThat(s.sampleCount()).isEqualTo(4);
            assertThat(s.eventCount()).isEqualTo(1);
            assertThat(s.series().size()).isEqualTo(2);
            RecordCursor c = s.cursor();
            List<String> seen = new ArrayList<>();
            while (c.next()) {
                if (c.isSample()) {
                    Series series = c.series();
                    seen.add(series.name() + series.labels() + "@" + c.timestampMs() + "=" + c.value());
                } else {
                    seen.add(c.event().toString());
                }
            }
            assertThat(seen).containsExactly(
                    "cpu{core=0, host=h1}@1000=1.5",
                    "cpu{core=1, host=h1}@999=NaN",
                    new Event("e1", "click", 2000, "abc", Map.of("ref", "example.org")).toString(),
                    "cpu{core=0, host=h1}@9223372036854775807=-Infinity",
                    "cpu{core=0, host=h1}@-9223372036854775808=-0.0");
        } finally {
            value.release();
        }
    }

    @Test
    void decodedWireBatchBecomesASegmentWithTheSameRecords() {
        SeriesDictionary clientSide = new SeriesDictionary();
        // Two batches on one connection: the second refers to series defined by the first only.
        byte[] wire = concat(preface(), encode(TestFrames.HELLO),
                encode(Batch.outbound(1, TestFrames.realisticRecords(clientSide, 100, 20), false)),
                encode(Batch.outbound(2, TestFrames.realisticRecords(clientSide, 1000, 20), true)));
        List<Object> decoded = TestFrames.decodeAsServer(wire);
        Batch second = (Batch) decoded.get(2);
        ByteBuf value;
        try (SegmentWriter w = SegmentWriter.create(PooledByteBufAllocator.DEFAULT, "acme", false)) {
            assertThat(w.addBatch(second)).isEqualTo(1000);
            value = w.finish();
        } finally {
            decoded.forEach(io.netty.util.ReferenceCountUtil::release);
        }
        ByteBuf expectedRecords = TestFrames.realisticRecords(new SeriesDictionary(), 1000, 20);
        try (Segment s = Segment.decode(value, RecordLimits.DEFAULTS, ByteBufAllocator.DEFAULT)) {
            assertThat(s.sampleCount()).isEqualTo(1000);
            assertThat(s.series().size()).as("the segment defines its own series").isEqualTo(20);
            // The segment's records block is byte-for-byte what a fresh writer produces: one codec, not two.
            int recordsStart = value.readableBytes() - expectedRecords.readableBytes();
            assertThat(ByteBufUtil.equals(value, recordsStart, expectedRecords, 0, expectedRecords.readableBytes())).isTrue();
            RecordCursor c = s.cursor();
            int n = 0;
            while (c.next()) {
                assertThat(c.series().labelCount()).isEqualTo(5);
                assertThat(c.value()).isEqualTo(n * 0.5);
                n++;
            }
            assertThat(n).isEqualTo(1000);
        } finally {
            value.release();
            expectedRecords.release();
        }
    }

    @Test
    void malformedSegmentsThrowWithTheirCode() {
        byte[] good = segmentBytes(false);
        assertCode(Arrays.copyOf(good, 3), ErrorCode.INVALID_RECORD);
        byte[] badMagic = good.clone();
        badMagic[0] = 'X';
        assertCode(badMagic, ErrorCode.INVALID_RECORD);
        byte[] badVersion = good.clone();
        badVersion[4] = 9;
        assertCode(badVersion, ErrorCode.UNSUPPORTED_VERSION);
        byte[] badFlags = good.clone();
        badFlags[5] = 0x40;
        assertCode(badFlags, ErrorCode.INVALID_RECORD);
        assertCode(Arrays.copyOf(good, good.length - 3), ErrorCode.INVALID_RECORD);
        byte[] lz4 = segmentBytes(true);
        byte[] corrupt = lz4.clone();
        for (int i = 16; i < corrupt.length; i++) {
            corrupt[i] ^= 0x5A;
        }
        assertCode(corrupt, ErrorCode.COMPRESSION_ERROR);
    }

    @Test
    void segmentOverTheSeriesLimitIsRejected() {
        byte[] good = segmentBytes(false);
        ByteBuf in = Unpooled.wrappedBuffer(good);
        assertThatThrownBy(() -> Segment.decode(in, RecordLimits.builder().maxSeriesPerDictionary(1).build(), ByteBufAllocator.DEFAULT))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.LIMIT_EXCEEDED))
                .hasMessageContaining("raise maxSeriesPerDictionary");
        in.release();
    }

    /**
     * Segments decoded with shared definitions: a series defined before is the same instance, read from the first
     * segment's strings; a definition that differs in one byte (another label value) is decoded on its own; and a
     * malformed definition is refused as without them, even when a remembered one starts the same way.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void sharedDefinitionsGiveTheSameSeriesOnceDecoded(boolean lz4) {
        SeriesDefinitions definitions = new SeriesDefinitions();
        Series a = Series.of("cpu", "host", "a", "zone", "z1");
        Series b = Series.of("cpu", "host", "b", "zone", "z1");
        Series first;
        try (Segment s = Segment.decode(segmentOf(lz4, a), definitions)) {
            first = s.series().get(0);
            assertThat(first).isEqualTo(a).isNotSameAs(a);
        }
        assertThat(definitions.size()).isEqualTo(1);
        try (Segment s = Segment.decode(segmentOf(lz4, b, a), definitions)) {
            assertThat(s.series().get(0)).isEqualTo(b);
            assertThat(s.series().get(1)).isSameAs(first);
            RecordCursor c = s.cursor();
            assertThat(c.next()).isTrue();
            assertThat(c.series()).isEqualTo(b);
            assertThat(c.next()).isTrue();
            assertThat(c.series()).isSameAs(first);
        }
        assertThat(definitions.size()).isEqualTo(2);
        Series lastByte = Series.of("cpu", "host", "a", "zone", "z2"); // differs from a in its very last byte
        try (Segment s = Segment.decode(segmentOf(lz4, lastByte), definitions)) {
            assertThat(s.series().get(0)).isEqualTo(lastByte).isNotEqualTo(a);
        }
        byte[] bad = segmentOf(false, a);
        int at = indexOf(bad, "z1".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        bad[at + 1] = (byte) 0xFF; // "z1" becomes "z" + a byte that is not UTF-8
        assertThatThrownBy(() -> Segment.decode(bad, definitions).close())
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_RECORD));
        assertThatThrownBy(() -> Segment.decode(bad).close())
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_RECORD));
    }

    /**
     * Shared definitions recognise a series by the one that followed it last time: segments in the same order give
     * the same instances, and segments in another order (or with a series between) still give each sample its own
     * series, as decoding without shared definitions does.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void sharedDefinitionsFollowTheOrderSeriesCameInAndNeverDependOnIt(boolean lz4) {
        Series a = Series.of("cpu", "host", "a", "zone", "z1");
        Series b = Series.of("cpu", "host", "b", "zone", "z1");
        Series c = Series.of("mem", "host", "a");
        Series longerB = Series.of("cpu", "host", "b", "zone", "z1", "zz", "1"); // b's bytes, then more
        SeriesDefinitions definitions = new SeriesDefinitions();
        List<Series> firstRead;
        try (Segment s = Segment.decode(segmentOf(lz4, a, b, c), definitions)) {
            firstRead = List.of(s.series().get(0), s.series().get(1), s.series().get(2));
        }
        try (Segment s = Segment.decode(segmentOf(lz4, a, b, c), definitions)) {
            for (int i = 0; i < 3; i++) {
                assertThat(s.series().get(i)).isSameAs(firstRead.get(i));
            }
        }
        Series[][] orders = {{c, b, a}, {a, c, b}, {a, longerB, c}, {b, a, b}, {a, b, c}, {longerB, b, a, c}};
        for (Series[] order : orders) {
            byte[] segment = segmentOf(lz4, order);
            try (Segment shared = Segment.decode(segment, definitions); Segment alone = Segment.decode(segment)) {
                assertThat(shared.series().size()).isEqualTo(alone.series().size());
                for (int i = 0; i < alone.series().size(); i++) {
                    assertThat(shared.series().get(i)).as(Arrays.toString(order) + " at " + i)
                            .isEqualTo(alone.series().get(i));
                }
            }
        }
        assertThat(definitions.size()).isEqualTo(4);
    }

    /**
     * A block cut short inside a definition that would be the next one by order is refused as without shared
     * definitions: recognising a series never reads past the block.
     */
    @Test
    void aDefinitionCutShortIsRefusedEvenWhenItWouldFollowInOrder() {
        Series a = Series.of("cpu", "host", "a");
        Series b = Series.of("cpu", "host", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        SeriesDefinitions definitions = new SeriesDefinitions();
        Segment.decode(segmentOf(false, a, b), definitions).close();
        Segment.decode(segmentOf(false, a), definitions).close(); // the next guess after a is b
        byte[] whole = segmentOf(false, a, b);
        int cut = indexOf(whole, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".getBytes(
                java.nio.charset.StandardCharsets.UTF_8)) + 10;
        byte[] truncated = Arrays.copyOf(whole, cut);
        assertThatThrownBy(() -> Segment.decode(truncated, definitions).close())
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_RECORD));
        assertThatThrownBy(() -> Segment.decode(truncated).close())
                .isInstanceOfSatisfying(ProtocolException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_RECORD));
    }

    private static byte[] segmentOf(boolean lz4, Series... series) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, "acme", lz4)) {
            for (int i = 0; i < series.length; i++) {
                w.addSample(series[i], 1_000 + i, i);
            }
            ByteBuf out = w.finish();
            try {
                return ByteBufUtil.getBytes(out);
            } finally {
                out.release();
            }
        }
    }

    private static int indexOf(byte[] in, byte[] what) {
        outer:
        for (int i = 0; i + what.length <= in.length; i++) {
            for (int j = 0; j < what.length; j++) {
                if (in[i + j] != what[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }

    private static void assertCode(byte[] segment, ErrorCode code) {
        assertThatThrownBy(() -> Segment.decode(segment).close())
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.errorCode()).isEqualTo(code));
    }

    private static byte[] segmentBytes(boolean lz4) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, "acme", lz4)) {
            TestFrames.fill(w);
            ByteBuf out = w.finish();
            try {
                return ByteBufUtil.getBytes(out);
            } finally {
                out.release();
            }
        }
    }

    /**
     * {@link SegmentFormat#decodedBytes}: a compressed segment weighs its records block as decoded (what the
     * storage writer's batch budget bounds), an uncompressed one its own length, and a header it cannot read its own
     * length too.
     */
    @Test
    void decodedBytesIsTheRecordsBlockOfACompressedSegment() {
        byte[] compressed = segmentOf(true);
        byte[] plain = segmentOf(false);
        int header = SegmentFormat.FIXED_HEADER_BYTES + 1 + "acme".length();
        assertThat(SegmentFormat.decodedBytes(compressed)).isEqualTo(plain.length - header)
                .isGreaterThan(5L * compressed.length);
        assertThat(SegmentFormat.decodedBytes(plain)).isEqualTo(plain.length);
        for (int cut : new int[] {0, 5, 6, 7, header + 3}) {
            byte[] truncated = java.util.Arrays.copyOf(compressed, cut);
            assertThat(SegmentFormat.decodedBytes(truncated)).as("cut at %d", cut).isEqualTo(cut);
        }
    }

    /** 2,000 samples of 100 series in one segment of tenant "acme", its bytes. */
    private static byte[] segmentOf(boolean compress) {
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, "acme", compress)) {
            for (int i = 0; i < 2000; i++) {
                w.addSample(Series.of("cpu", "host", "h" + i % 100), 1_800_000_000_000L + i / 100, i % 7);
            }
            ByteBuf value = w.finish();
            try {
                return io.netty.buffer.ByteBufUtil.getBytes(value);
            } finally {
                value.release();
            }
        }
    }
}
