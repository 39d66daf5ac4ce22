package io.sluice.storage.chunks;

import io.sluice.protocol.codec.Varints;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The chunk codec: every sample comes back bit-exact in both formats (NaN payloads, ±Inf, ±0, subnormals, the
 * extremes, any bit pattern; irregular, huge and negative timestamps), and damaged data is refused with
 * {@link SampleChunks.InvalidChunkException} and nothing else. Property-style: each random case names its seed.
 */
class SampleChunksTest {

    /** Prometheus' staleness marker: a signalling NaN with payload 2. */
    static final double STALE_NAN = Double.longBitsToDouble(0x7ff0000000000002L);
    static final double[] SPECIALS = {
            Double.NaN, STALE_NAN, Double.longBitsToDouble(0xfff8000000000001L), Double.longBitsToDouble(0x7fffffffffffffffL),
            Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0,
            Double.MIN_VALUE, -Double.MIN_VALUE, Double.MIN_NORMAL, Math.nextDown(Double.MIN_NORMAL),
            -Math.nextDown(Double.MIN_NORMAL), Double.MAX_VALUE, -Double.MAX_VALUE, 1.0, -1.0, 0.1, Math.PI};

    @Test
    void specialValuesComeBackBitExactInBothFormats() {
        long[] ts = new long[SPECIALS.length];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = 1_700_000_000_000L + i * 15_000L;
        }
        assertRoundTrip(ts, SPECIALS, "specials");
        // each special next to each other one: every XOR shape between them
        double[] pairs = new double[SPECIALS.length * SPECIALS.length * 2];
        long[] pairTs = new long[pairs.length];
        for (int i = 0; i < SPECIALS.length; i++) {
            for (int j = 0; j < SPECIALS.length; j++) {
                int k = (i * SPECIALS.length + j) * 2;
                pairs[k] = SPECIALS[i];
                pairs[k + 1] = SPECIALS[j];
            }
        }
        for (int i = 0; i < pairTs.length; i++) {
            pairTs[i] = -5_000L + i;
        }
        assertRoundTrip(pairTs, pairs, "special pairs");
    }

    @Test
    void aRepeatedValueAndASteadyIntervalTakeOneByteEach() {
        int n = 1000;
        long[] ts = new long[n];
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            ts[i] = 1_700_000_000_000L + i * 10_000L;
            values[i] = STALE_NAN;
        }
        byte[] packed = SampleChunks.pack(ts, values, 0, n);
        assertRoundTrip(ts, values, "steady");
        // format byte + count + first ts + first delta: the rest is one byte per timestamp and per value
        assertThat(packed.length).isLessThan(2 * n + 24);
    }

    @Test
    void timestampsWithHugeIrregularAndNegativeGaps() {
        long[][] cases = {
                {Long.MIN_VALUE},
                {Long.MAX_VALUE},
                {Long.MIN_VALUE, Long.MIN_VALUE + 1, -1, 0, 1},
                {-1, 0, Long.MAX_VALUE - 1, Long.MAX_VALUE},
                {Long.MIN_VALUE, -1},
                {0, Long.MAX_VALUE},
                {-62_135_596_800_000L, -1, 1, 253_402_300_799_999L}, // year 1 to year 9999
                {1, 2, 1_000_000_000_000L, 1_000_000_000_001L, 3_000_000_000_000L, 3_000_000_000_002L},
                {-3_600_000L, -3_599_999L, -1_000L, -999L, -998L, 5L},
        };
        Random random = new Random(7);
        for (long[] ts : cases) {
            double[] values = new double[ts.length];
            for (int i = 0; i < ts.length; i++) {
                values[i] = Double.longBitsToDouble(random.nextLong());
            }
            assertRoundTrip(ts, values, Arrays.toString(ts));
        }
    }

    @Test
    void aChunkSpanningMoreThanLongMaxMillisecondsIsRefusedNotMisencoded() {
        assertThatThrownBy(() -> SampleChunks.pack(new long[] {Long.MIN_VALUE, Long.MAX_VALUE}, new double[] {1, 2}, 0, 2))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void packTakesTheRangeAskedForAndRefusesWhatIsNotStrictlyIncreasing() {
        long[] ts = {10, 20, 30, 40, 50};
        double[] values = {1, 2, 3, 4, 5};
        List<String> seen = new ArrayList<>();
        assertThat(SampleChunks.decode(SampleChunks.pack(ts, values, 1, 4), (t, v) -> seen.add(t + "=" + v))).isEqualTo(3);
        assertThat(seen).containsExactly("20=2.0", "30=3.0", "40=4.0");
        assertThatThrownBy(() -> SampleChunks.pack(ts, values, 2, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SampleChunks.pack(new long[] {5, 5}, new double[] {1, 2}, 0, 2))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SampleChunks.pack(new long[] {5, 4}, new double[] {1, 2}, 0, 2))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /** Packing into a buffer writes the same bytes as {@code pack}, after what the buffer holds, and says how many. */
    @Test
    void packIntoAppendsThePackedBytesAndCountsThem() {
        for (long seed = 1; seed <= 50; seed++) {
            Random random = new Random(seed);
            int n = 1 + random.nextInt(300);
            long[] ts = randomTimestamps(random, n);
            double[] values = randomValues(random, n);
            byte[] packed = SampleChunks.pack(ts, values, 0, n);
            io.netty.buffer.ByteBuf out = io.netty.buffer.Unpooled.buffer(4); // grows as it is written
            out.writeBytes(new byte[] {7, 7, 7});
            int written = SampleChunks.packInto(out, ts, values, 0, n);
            assertThat(written).as("seed " + seed).isEqualTo(packed.length);
            assertThat(io.netty.buffer.ByteBufUtil.getBytes(out, 3, written)).isEqualTo(packed);
            assertThat(io.netty.buffer.ByteBufUtil.getBytes(out, 0, 3)).containsExactly(7, 7, 7);
            assertThat(out.readableBytes()).isEqualTo(3 + written);
        }
    }

    /** Random sizes, random timestamp gaps (steady, jittered, huge, negative start), values of every kind. */
    @Test
    void randomChunksRoundTripBitExact() {
        for (long seed = 1; seed <= 400; seed++) {
            Random random = new Random(seed);
            int n = 1 + random.nextInt(random.nextBoolean() ? 8 : 600);
            long[] ts = randomTimestamps(random, n);
            double[] values = randomValues(random, n);
            assertRoundTrip(ts, values, "seed " + seed);
        }
    }

    @Test
    void damagedChunksAreRefusedWithInvalidChunkExceptionOnly() {
        List<byte[]> chunks = new ArrayList<>();
        for (long seed = 1; seed <= 60; seed++) {
            Random random = new Random(seed);
            int n = 1 + random.nextInt(50);
            long[] ts = randomTimestamps(random, n);
            double[] values = randomValues(random, n);
            chunks.add(SampleChunks.pack(ts, values, 0, n));
            chunks.add(plain(ts, values, 0, n));
        }
        int refused = 0;
        for (int c = 0; c < chunks.size(); c++) {
            byte[] chunk = chunks.get(c);
            // every truncation of a packed chunk loses data; of a plain one, all but whole-sample cuts
            for (int len = 0; len < chunk.length; len++) {
                boolean mustFail = chunk[0] == SampleChunks.PACKED || len == 0 || (len - 1) % 16 != 0;
                refused += decodeOrRefuse(Arrays.copyOf(chunk, len), mustFail, "chunk " + c + " cut to " + len);
            }
            // trailing garbage
            byte[] longer = Arrays.copyOf(chunk, chunk.length + 1 + c % 15);
            refused += decodeOrRefuse(longer, true, "chunk " + c + " with trailing bytes");
            // single byte flips: may still decode (to other samples), but nothing else may happen
            Random random = new Random(c);
            for (int k = 0; k < 200; k++) {
                byte[] flipped = chunk.clone();
                flipped[random.nextInt(flipped.length)] ^= (byte) (1 + random.nextInt(255));
                refused += decodeOrRefuse(flipped, false, "chunk " + c + " flip " + k);
            }
        }
        for (long seed = 1; seed <= 2000; seed++) {
            Random random = new Random(seed);
            byte[] junk = new byte[random.nextInt(80)];
            random.nextBytes(junk);
            if (junk.length > 0 && random.nextBoolean()) {
                junk[0] = (byte) random.nextInt(2);
            }
            refused += decodeOrRefuse(junk, false, "random bytes, seed " + seed);
        }
        assertThat(refused).isGreaterThan(1000);
    }

    /**
     * The decoder reads bytes from the array itself; it must read exactly what a reference reading through the
     * protocol's {@link Varints} (the spec's varint rules: at most 10 bytes, no overflow, no overlong form) on a
     * {@code ByteBuf} reads, and refuse exactly what that refuses: checked on packed chunks, their byte flips,
     * cuts, and hand-made varints at the edges.
     */
    @Test
    void packedChunksDecodeAsAByteBufReaderWithTheProtocolsVarintsDoes() {
        List<byte[]> inputs = new ArrayList<>();
        for (long seed = 1; seed <= 200; seed++) {
            Random random = new Random(seed);
            int n = 1 + random.nextInt(40);
            byte[] chunk = SampleChunks.pack(randomTimestamps(random, n), randomValues(random, n), 0, n);
            inputs.add(chunk);
            inputs.add(Arrays.copyOf(chunk, random.nextInt(chunk.length)));
            for (int k = 0; k < 50; k++) {
                byte[] flipped = chunk.clone();
                flipped[1 + random.nextInt(flipped.length - 1)] ^= (byte) (1 + random.nextInt(255));
                inputs.add(flipped);
            }
        }
        byte[] value = new byte[8];
        // one sample: count 1, then a timestamp varint of 10 bytes (the last 0x01: fine; 0x02: overflows), 11 bytes,
        // and an overlong 2-byte form
        byte[] tenBytes = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff,
            (byte) 0xff, (byte) 0xff, 0x01};
        for (byte[] ts : List.of(tenBytes, withLast(tenBytes, 0x02), withLast(tenBytes, (byte) 0x81),
                new byte[] {(byte) 0x81, 0x00}, new byte[] {0x7f}, new byte[] {(byte) 0x80, 0x01})) {
            ByteBuffer b = ByteBuffer.allocate(2 + ts.length + 9);
            b.put(SampleChunks.PACKED).put((byte) 1).put(ts).put(value);
            inputs.add(b.array());
            inputs.add(Arrays.copyOf(b.array(), b.array().length - 1));
        }
        int refused = 0;
        for (byte[] input : inputs) {
            List<Long> expected;
            try {
                expected = referenceDecode(input);
            } catch (RuntimeException e) {
                expected = null;
            }
            List<Long> got = new ArrayList<>();
            try {
                SampleChunks.decode(input, (t, v) -> {
                    got.add(t);
                    got.add(Double.doubleToRawLongBits(v));
                });
            } catch (SampleChunks.InvalidChunkException e) {
                assertThat(expected).as("refused (%s) what the reference reads: %s", e.getMessage(),
                        Arrays.toString(input)).isNull();
                refused++;
                continue;
            }
            assertThat(got).as(Arrays.toString(input)).isEqualTo(expected);
        }
        assertThat(refused).isGreaterThan(1000).isLessThan(inputs.size() - 200);
    }

    private static byte[] withLast(byte[] bytes, int last) {
        byte[] copy = bytes.clone();
        copy[copy.length - 1] = (byte) last;
        return copy;
    }

    /** A packed chunk read through {@link Varints} on a {@code ByteBuf}: timestamps and value bits, interleaved. */
    private static List<Long> referenceDecode(byte[] data) {
        io.netty.buffer.ByteBuf in = io.netty.buffer.Unpooled.wrappedBuffer(data);
        if (in.readByte() != SampleChunks.PACKED) {
            throw new IllegalArgumentException("not packed");
        }
        long n = Varints.readUnsigned(in);
        if (n <= 0 || n > in.readableBytes()) {
            throw new IllegalArgumentException("count");
        }
        long[] ts = new long[(int) n];
        ts[0] = Varints.readSigned(in);
        long delta = 0;
        for (int i = 1; i < n; i++) {
            delta += Varints.readSigned(in);
            ts[i] = ts[i - 1] + delta;
        }
        List<Long> out = new ArrayList<>();
        long bits = in.readLong();
        out.add(ts[0]);
        out.add(bits);
        for (int i = 1; i < n; i++) {
            int control = in.readUnsignedByte();
            if (control != 0) {
                int leading = (control >>> 3) & 7;
                int trailing = control & 7;
                if ((control & 0x80) == 0 || leading + trailing > 7) {
                    throw new IllegalArgumentException("control");
                }
                long xor = 0;
                for (int b = 7 - leading; b >= trailing; b--) {
                    xor |= (long) in.readUnsignedByte() << (b * 8);
                }
                bits ^= xor;
            }
            out.add(ts[i]);
            out.add(bits);
        }
        if (in.isReadable()) {
            throw new IllegalArgumentException("trailing bytes");
        }
        return out;
    }

    @Test
    void specificDamageIsNamed() {
        assertThatThrownBy(() -> SampleChunks.decode(new byte[0], null)).isInstanceOf(SampleChunks.InvalidChunkException.class)
                .hasMessageContaining("empty");
        assertThatThrownBy(() -> SampleChunks.decode(new byte[] {7, 0}, null))
                .isInstanceOf(SampleChunks.InvalidChunkException.class).hasMessageContaining("unknown chunk format 7");
        assertThatThrownBy(() -> SampleChunks.decode(new byte[18], (t, v) -> { }))
                .isInstanceOf(SampleChunks.InvalidChunkException.class).hasMessageContaining("16 per sample");
        // a count of a billion samples in a few bytes: refused before anything is allocated for it
        assertThatThrownBy(() -> SampleChunks.decode(new byte[] {1, (byte) 0x80, (byte) 0x94, (byte) 0xeb, (byte) 0xdc, 0x03,
                0, 0, 0, 0, 0, 0, 0, 0, 0}, (t, v) -> { }))
                .isInstanceOf(SampleChunks.InvalidChunkException.class).hasMessageContaining("declares 1000000000 samples");
        assertThatThrownBy(() -> SampleChunks.decode(new byte[] {1, 0}, (t, v) -> { }))
                .isInstanceOf(SampleChunks.InvalidChunkException.class);
        // two samples, steady, second value with control byte 0x40 (high bit missing)
        byte[] badControl = {1, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x40};
        assertThatThrownBy(() -> SampleChunks.decode(badControl, (t, v) -> { }))
                .isInstanceOf(SampleChunks.InvalidChunkException.class).hasMessageContaining("control byte");
        byte[] tooManyZeroBytes = {1, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, (byte) (0x80 | 4 << 3 | 4)};
        assertThatThrownBy(() -> SampleChunks.decode(tooManyZeroBytes, (t, v) -> { }))
                .isInstanceOf(SampleChunks.InvalidChunkException.class).hasMessageContaining("control byte");
    }

    // --- helpers -------------------------------------------------------------------------------------------

    static long[] randomTimestamps(Random random, int n) {
        long[] ts = new long[n];
        long t = switch (random.nextInt(4)) {
            case 0 -> 1_700_000_000_000L + random.nextInt(1_000_000);
            case 1 -> -random.nextLong(1L << 50); // before 1970
            case 2 -> random.nextLong() >> 2;
            default -> random.nextInt(1000) - 500;
        };
        long step = 1 + random.nextInt(60_000);
        int shape = random.nextInt(4);
        for (int i = 0; i < n; i++) {
            ts[i] = t;
            long gap = switch (shape) {
                case 0 -> step; // steady
                case 1 -> Math.max(1, step + random.nextInt(2001) - 1000); // jittered
                case 2 -> 1 + (random.nextBoolean() ? random.nextInt(5) : random.nextLong(1L << 40)); // huge and tiny
                default -> 1 + random.nextLong(1L << (1 + random.nextInt(50))); // anything
            };
            t += gap;
        }
        return ts;
    }

    static double[] randomValues(Random random, int n) {
        double[] v = new double[n];
        int shape = random.nextInt(4);
        double previous = random.nextDouble();
        for (int i = 0; i < n; i++) {
            v[i] = switch (shape == 3 ? random.nextInt(3) : shape) {
                case 0 -> Double.longBitsToDouble(random.nextLong()); // any bits, NaN payloads included
                case 1 -> SPECIALS[random.nextInt(SPECIALS.length)];
                default -> random.nextInt(4) == 0 ? previous : (previous += random.nextInt(100)); // counter-like
            };
        }
        return v;
    }

    static byte[] plain(long[] ts, double[] values, int from, int to) {
        ByteBuffer b = ByteBuffer.allocate(1 + 16 * (to - from));
        b.put(SampleChunks.PLAIN);
        for (int i = from; i < to; i++) {
            b.putLong(ts[i]).putLong(Double.doubleToRawLongBits(values[i]));
        }
        return b.array();
    }

    private static void assertRoundTrip(long[] ts, double[] values, String what) {
        for (byte[] chunk : List.of(SampleChunks.pack(ts, values, 0, ts.length), plain(ts, values, 0, ts.length))) {
            String as = what + " (format " + chunk[0] + ")";
            long[] gotTs = new long[ts.length];
            long[] gotBits = new long[ts.length];
            int[] at = {0};
            int n = SampleChunks.decode(chunk, (t, v) -> {
                if (at[0] >= ts.length) {
                    fail(as + ": more samples than packed");
                }
                gotTs[at[0]] = t;
                gotBits[at[0]] = Double.doubleToRawLongBits(v);
                at[0]++;
            });
            assertThat(n).as(as).isEqualTo(ts.length);
            assertThat(at[0]).as(as).isEqualTo(ts.length);
            assertThat(SampleChunks.count(chunk)).as(as).isEqualTo(ts.length);
            assertThat(gotTs).as(as).containsExactly(ts);
            long[] bits = new long[values.length];
            for (int i = 0; i < values.length; i++) {
                bits[i] = Double.doubleToRawLongBits(values[i]);
            }
            assertThat(gotBits).as(as + ": raw value bits").containsExactly(bits);
        }
    }

    /** 1 when the data was refused, 0 when it decoded; fails on any other outcome. */
    private static int decodeOrRefuse(byte[] data, boolean mustFail, String what) {
        try {
            SampleChunks.decode(data, (t, v) -> { });
        } catch (SampleChunks.InvalidChunkException refused) {
            assertThat(refused.getMessage()).as(what).isNotBlank();
            return 1;
        } catch (RuntimeException other) {
            throw new AssertionError(what + ": " + other, other);
        }
        if (mustFail) {
            fail(what + ": decoded although damaged");
        }
        return 0;
    }
}
