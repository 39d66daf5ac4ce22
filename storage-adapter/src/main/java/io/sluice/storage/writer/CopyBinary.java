package io.sluice.storage.writer;

import io.netty.buffer.ByteBuf;
import io.sluice.storage.chunks.SampleChunks;

/**
 * Writes rows in PostgreSQL's binary COPY format ({@code COPY ... FROM STDIN (FORMAT binary)}): values go as
 * their binary send representation, so doubles keep every bit (NaN payloads, -0) and nothing is parsed as text.
 */
final class CopyBinary {

    private static final byte[] SIGNATURE = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xFF, '\r', '\n', 0};
    /** The bytes of a COPY's header and trailer together. */
    static final int FRAME_BYTES = SIGNATURE.length + 2 * Integer.BYTES + Short.BYTES;
    /** PostgreSQL's timestamp epoch, 2000-01-01T00:00:00Z, in ms since the Unix epoch. */
    private static final long PG_EPOCH_MS = 946_684_800_000L;

    private CopyBinary() {
    }

    static void header(ByteBuf out) {
        out.writeBytes(SIGNATURE).writeInt(0).writeInt(0);
    }

    static void row(ByteBuf out, int fields) {
        out.writeShort(fields);
    }

    static void int8(ByteBuf out, long v) {
        out.writeInt(8).writeLong(v);
    }

    static void int4(ByteBuf out, int v) {
        out.writeInt(4).writeInt(v);
    }

    static void float8(ByteBuf out, double v) {
        out.writeInt(8).writeLong(Double.doubleToRawLongBits(v));
    }

    /** A NULL field. */
    static void nul(ByteBuf out) {
        out.writeInt(-1);
    }

    /** A timestamptz at this many ms since the Unix epoch. */
    static void timestampMs(ByteBuf out, long epochMs) {
        out.writeInt(8).writeLong((epochMs - PG_EPOCH_MS) * 1000);
    }

    /** A bytea of the samples {@code [from, to)} packed as {@link SampleChunks#packInto} does, with no copy between. */
    static void packedChunk(ByteBuf out, long[] timestamps, double[] values, int from, int to) {
        int lengthAt = out.writerIndex();
        out.writeInt(0);
        out.setInt(lengthAt, SampleChunks.packInto(out, timestamps, values, from, to));
    }

    static void trailer(ByteBuf out) {
        out.writeShort(-1);
    }
}
