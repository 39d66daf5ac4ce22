package io.sluice.storage.chunks;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.codec.Varints;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The {@code data} of a {@code sample_chunks} row: the samples of one series within one UTC hour, in timestamp
 * order, no timestamp twice. The first byte names the format:
 * <ul>
 *   <li>{@value #PLAIN}: {@code (timestamp ms int64, value float64 bits)} big-endian, 16 bytes per sample. What the
 *       SQL of migration V7 writes ({@code int8send(ms) || float8send(value)}); compaction rewrites it packed.</li>
 *   <li>{@value #PACKED}: {@code count} as an unsigned varint; the first timestamp as a signed varint, then the
 *       first delta and every later delta-of-delta as signed varints (one byte each at a steady interval); the
 *       first value's 8 bytes, then for each later value the XOR of its bits with the previous value's bits as one
 *       control byte {@code 0} (same bits) or {@code 0x80 | leadingZeroBytes << 3 | trailingZeroBytes} followed by
 *       the bytes between. Values are stored bit-exact: NaN payloads, -0 and subnormals come back as they went
 *       in.</li>
 * </ul>
 */
public final class SampleChunks {

    public static final byte PLAIN = 0;
    public static final byte PACKED = 1;

    private SampleChunks() {
    }

    /** Receives the samples of a chunk in order. */
    @FunctionalInterface
    public interface SampleConsumer {
        void accept(long timestampMs, double value);
    }

    /** A chunk's data could not be decoded (a bug or a damaged row, never user input). */
    public static final class InvalidChunkException extends RuntimeException {
        InvalidChunkException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Packs samples {@code [from, to)} of these arrays, which must be in strictly increasing timestamp order.
     */
    public static byte[] pack(long[] timestamps, double[] values, int from, int to) {
        ByteBuf out = Unpooled.buffer(16 + Math.max(0, to - from) * 4);
        packInto(out, timestamps, values, from, to);
        byte[] bytes = new byte[out.readableBytes()];
        out.readBytes(bytes);
        return bytes;
    }

    /**
     * The same, written at {@code out}'s writer index (the storage writer packs straight into its COPY buffer);
     * returns how many bytes it wrote.
     */
    public static int packInto(ByteBuf out, long[] timestamps, double[] values, int from, int to) {
        int n = to - from;
        if (n <= 0) {
            throw new IllegalArgumentException("a chunk holds at least one sample");
        }
        int start = out.writerIndex();
        out.writeByte(PACKED);
        Varints.writeUnsigned(out, n);
        long previousTs = timestamps[from];
        long previousDelta = 0;
        Varints.writeSigned(out, previousTs);
        for (int i = from + 1; i < to; i++) {
            long delta = timestamps[i] - previousTs;
            if (delta <= 0) {
                throw new IllegalArgumentException("timestamps must increase: " + previousTs + " then " + timestamps[i]);
            }
            Varints.writeSigned(out, delta - previousDelta);
            previousDelta = delta;
            previousTs = timestamps[i];
        }
        long previousBits = Double.doubleToRawLongBits(values[from]);
        out.writeLong(previousBits);
        for (int i = from + 1; i < to; i++) {
            long bits = Double.doubleToRawLongBits(values[i]);
            long xor = bits ^ previousBits;
            previousBits = bits;
            if (xor == 0) {
                out.writeByte(0);
                continue;
            }
            int leading = Long.numberOfLeadingZeros(xor) >>> 3;
            int trailing = Long.numberOfTrailingZeros(xor) >>> 3;
            out.writeByte(0x80 | leading << 3 | trailing);
            for (int b = 7 - leading; b >= trailing; b--) {
                out.writeByte((int) (xor >>> (b * 8)));
            }
        }
        return out.writerIndex() - start;
    }

    /** How many samples a chunk holds, without decoding them (a packed chunk's count is checked, not trusted). */
    public static int count(byte[] data) {
        return decodeInto(data, null, null, 0);
    }

    /**
     * Hands every sample of the chunk to {@code consumer} (when not null), in order; returns how many there were.
     *
     * @throws InvalidChunkException when the data is not a chunk of a known format
     */
    public static int decode(byte[] data, SampleConsumer consumer) {
        if (consumer == null) {
            return count(data);
        }
        int n = count(data);
        long[] timestamps = new long[n];
        double[] values = new double[n];
        decodeInto(data, timestamps, values, 0);
        for (int i = 0; i < n; i++) {
            consumer.accept(timestamps[i], values[i]);
        }
        return n;
    }

    /**
     * Writes the chunk's samples into {@code timestamps} and {@code values} from index {@code at} on, in order, and
     * returns how many there were; both arrays must have room for {@link #count} of them. With null arrays it only
     * counts. Reads the bytes straight from the array: this is how queries and compaction decode, and a
     * {@code ByteBuf}'s calls here would be megamorphic in a gateway, where the codecs read many kinds of buffer.
     *
     * @throws InvalidChunkException when the data is not a chunk of a known format
     */
    public static int decodeInto(byte[] data, long[] timestamps, double[] values, int at) {
        if (data.length == 0) {
            throw new InvalidChunkException("empty chunk", null);
        }
        try {
            return switch (data[0]) {
                case PLAIN -> decodePlain(data, timestamps, values, at);
                case PACKED -> decodePacked(new Reader(data), timestamps, values, at);
                default -> throw new InvalidChunkException("unknown chunk format " + data[0], null);
            };
        } catch (IndexOutOfBoundsException e) {
            throw new InvalidChunkException("damaged chunk: " + e.getMessage(), e);
        }
    }

    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private static int decodePlain(byte[] data, long[] timestamps, double[] values, int at) {
        int bytes = data.length - 1;
        if (bytes % 16 != 0) {
            throw new InvalidChunkException("plain chunk of " + bytes + " bytes (expected: 16 per sample)", null);
        }
        int n = bytes / 16;
        if (timestamps != null) {
            for (int i = 0, p = 1; i < n; i++, p += 16) {
                timestamps[at + i] = (long) LONG_BE.get(data, p);
                values[at + i] = Double.longBitsToDouble((long) LONG_BE.get(data, p + 8));
            }
        }
        return n;
    }

    private static int decodePacked(Reader in, long[] timestamps, double[] values, int at) {
        long n = in.unsigned();
        // each sample takes at least one byte: a count beyond that is damage, not a reason to allocate
        if (n <= 0 || n > in.remaining()) {
            throw new InvalidChunkException("packed chunk declares " + n + " samples in " + in.remaining()
                    + " bytes", null);
        }
        int count = (int) n;
        if (timestamps == null) {
            return count;
        }
        long ts = in.signed();
        timestamps[at] = ts;
        long delta = 0;
        for (int i = 1; i < count; i++) {
            delta += in.signed();
            ts += delta;
            timestamps[at + i] = ts;
        }
        long bits = in.long64();
        values[at] = Double.longBitsToDouble(bits);
        for (int i = 1; i < count; i++) {
            int control = in.unsignedByte();
            if (control != 0) {
                if ((control & 0x80) == 0) {
                    throw new InvalidChunkException("bad value control byte " + control, null);
                }
                int leading = (control >>> 3) & 7;
                int trailing = control & 7;
                if (leading + trailing > 7) {
                    throw new InvalidChunkException("bad value control byte " + control, null);
                }
                bits ^= in.xorBytes(8 - leading - trailing, trailing);
            }
            values[at + i] = Double.longBitsToDouble(bits);
        }
        if (in.remaining() > 0) {
            throw new InvalidChunkException(in.remaining() + " bytes after the last sample", null);
        }
        return count;
    }

    /**
     * Reads a packed chunk after its format byte. Varints as {@link Varints} writes them, and refused as it refuses
     * them: longer than 10 bytes, overflowing 64 bits, or overlong (a last byte 0x00); running past the end is an
     * {@link IndexOutOfBoundsException}.
     */
    private static final class Reader {
        private final byte[] data;
        private int position = 1;

        Reader(byte[] data) {
            this.data = data;
        }

        int remaining() {
            return data.length - position;
        }

        int unsignedByte() {
            return data[position++] & 0xFF;
        }

        long long64() {
            long v = (long) LONG_BE.get(data, position);
            position += 8;
            return v;
        }

        /**
         * The {@code bytes} bytes (1 to 8) of a value's XOR, most significant first, as a long whose lowest
         * {@code trailing} bytes are zero: one 8-byte read where 8 bytes are left, byte by byte at the end.
         */
        long xorBytes(int bytes, int trailing) {
            long xor;
            if (data.length - position >= 8) {
                xor = ((long) LONG_BE.get(data, position)) >>> (64 - 8 * bytes);
                position += bytes;
            } else {
                xor = 0;
                for (int b = 0; b < bytes; b++) {
                    xor = xor << 8 | unsignedByte();
                }
            }
            return xor << (8 * trailing);
        }

        long signed() {
            long raw = unsigned();
            return (raw >>> 1) ^ -(raw & 1);
        }

        long unsigned() {
            byte b = data[position++];
            if (b >= 0) {
                return b; // one byte: most deltas of deltas
            }
            long result = b & 0x7F;
            for (int i = 1, shift = 7; i < Varints.MAX_VARLONG_BYTES; i++, shift += 7) {
                b = data[position++];
                if (i == Varints.MAX_VARLONG_BYTES - 1 && (b & 0xFE) != 0) {
                    throw new InvalidChunkException("damaged chunk: varint overflows 64 bits", null);
                }
                result |= (long) (b & 0x7F) << shift;
                if (b >= 0) {
                    if (b == 0) {
                        throw new InvalidChunkException("damaged chunk: overlong varint (" + (i + 1)
                                + " bytes, the last one 0x00)", null);
                    }
                    return result;
                }
            }
            throw new InvalidChunkException("damaged chunk: varint longer than " + Varints.MAX_VARLONG_BYTES
                    + " bytes", null);
        }
    }
}
