package io.sluice.storage.chunks;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.codec.Varints;
import io.sluice.protocol.error.ProtocolException;

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
        int n = to - from;
        if (n <= 0) {
            throw new IllegalArgumentException("a chunk holds at least one sample");
        }
        ByteBuf out = Unpooled.buffer(16 + n * 4);
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
        byte[] bytes = new byte[out.readableBytes()];
        out.readBytes(bytes);
        return bytes;
    }

    /** How many samples a chunk holds, without decoding them. */
    public static int count(byte[] data) {
        return decode(data, null);
    }

    /**
     * Hands every sample of the chunk to {@code consumer} (when not null), in order; returns how many there were.
     *
     * @throws InvalidChunkException when the data is not a chunk of a known format
     */
    public static int decode(byte[] data, SampleConsumer consumer) {
        if (data.length == 0) {
            throw new InvalidChunkException("empty chunk", null);
        }
        ByteBuf in = Unpooled.wrappedBuffer(data);
        try {
            byte format = in.readByte();
            return switch (format) {
                case PLAIN -> decodePlain(in, consumer);
                case PACKED -> decodePacked(in, consumer);
                default -> throw new InvalidChunkException("unknown chunk format " + format, null);
            };
        } catch (ProtocolException | IndexOutOfBoundsException e) {
            throw new InvalidChunkException("damaged chunk: " + e.getMessage(), e);
        }
    }

    private static int decodePlain(ByteBuf in, SampleConsumer consumer) {
        if (in.readableBytes() % 16 != 0) {
            throw new InvalidChunkException("plain chunk of " + in.readableBytes() + " bytes (expected: 16 per sample)", null);
        }
        int n = in.readableBytes() / 16;
        if (consumer != null) {
            for (int i = 0; i < n; i++) {
                consumer.accept(in.readLong(), Double.longBitsToDouble(in.readLong()));
            }
        }
        return n;
    }

    private static int decodePacked(ByteBuf in, SampleConsumer consumer) {
        long n = Varints.readUnsigned(in);
        // each sample takes at least one byte: a count beyond that is damage, not a reason to allocate
        if (n <= 0 || n > in.readableBytes()) {
            throw new InvalidChunkException("packed chunk declares " + n + " samples in " + in.readableBytes()
                    + " bytes", null);
        }
        int count = (int) n;
        if (consumer == null) {
            return count;
        }
        long[] timestamps = new long[count];
        long ts = Varints.readSigned(in);
        timestamps[0] = ts;
        long delta = 0;
        for (int i = 1; i < count; i++) {
            delta += Varints.readSigned(in);
            ts += delta;
            timestamps[i] = ts;
        }
        long bits = in.readLong();
        consumer.accept(timestamps[0], Double.longBitsToDouble(bits));
        for (int i = 1; i < count; i++) {
            int control = in.readUnsignedByte();
            if (control != 0) {
                if ((control & 0x80) == 0) {
                    throw new InvalidChunkException("bad value control byte " + control, null);
                }
                int leading = (control >>> 3) & 7;
                int trailing = control & 7;
                if (leading + trailing > 7) {
                    throw new InvalidChunkException("bad value control byte " + control, null);
                }
                long xor = 0;
                for (int b = 7 - leading; b >= trailing; b--) {
                    xor |= (long) in.readUnsignedByte() << (b * 8);
                }
                bits ^= xor;
            }
            consumer.accept(timestamps[i], Double.longBitsToDouble(bits));
        }
        if (in.isReadable()) {
            throw new InvalidChunkException(in.readableBytes() + " bytes after the last sample", null);
        }
        return count;
    }
}
