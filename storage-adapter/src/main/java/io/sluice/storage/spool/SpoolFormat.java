package io.sluice.storage.spool;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * The on-disk layout of segments, records and the checkpoint (described byte by byte in
 * {@code package-info.java}), in one place so that the writer, the reader and recovery agree.
 */
final class SpoolFormat {

    /** "SLSP": Sluice spool segment. */
    static final int SEGMENT_MAGIC = 0x534C5350;
    /** "SLCK": Sluice spool checkpoint. */
    static final int CHECKPOINT_MAGIC = 0x534C434B;
    /** The only format version so far; a reader refuses versions it does not know. */
    static final byte VERSION = 1;

    static final int SEGMENT_HEADER_BYTES = 20;
    static final int CHECKPOINT_BYTES = 20;
    /** Length and CRC32C in front of every record body. */
    static final int FRAME_PREFIX_BYTES = 8;
    /** Sequence, topic length, key length and value length. */
    static final int BODY_FIXED_BYTES = 18;
    static final int RECORD_OVERHEAD = FRAME_PREFIX_BYTES + BODY_FIXED_BYTES;
    static final int MAX_TOPIC_BYTES = 0xFFFF;

    static final String SEGMENT_SUFFIX = ".seg";
    static final String TEMP_SUFFIX = ".tmp";
    static final String CORRUPT_SUFFIX = ".corrupt";
    static final String CHECKPOINT_FILE = "checkpoint";
    static final String LOCK_FILE = "lock";
    private static final int SEQUENCE_DIGITS = 20;

    private SpoolFormat() {
    }

    /** Zero-padded so that names sort in append order. */
    static String segmentFileName(long baseSequence) {
        String digits = Long.toString(baseSequence);
        return "0".repeat(SEQUENCE_DIGITS - digits.length()) + digits + SEGMENT_SUFFIX;
    }

    /** Returns the base sequence a segment file name stands for, or -1 when it is not a segment name. */
    static long parseSegmentFileName(String name) {
        if (name.length() != SEQUENCE_DIGITS + SEGMENT_SUFFIX.length() || !name.endsWith(SEGMENT_SUFFIX)) {
            return -1;
        }
        for (int i = 0; i < SEQUENCE_DIGITS; i++) {
            if (name.charAt(i) < '0' || name.charAt(i) > '9') {
                return -1;
            }
        }
        try {
            return Long.parseLong(name, 0, SEQUENCE_DIGITS, 10);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    static long frameBytes(int topicBytes, int keyBytes, int valueBytes) {
        return (long) RECORD_OVERHEAD + topicBytes + keyBytes + valueBytes;
    }

    static void putSegmentHeader(ByteBuffer dst, long baseSequence, CRC32C crc) {
        int start = dst.position();
        dst.putInt(SEGMENT_MAGIC).put(VERSION).put((byte) 0).putShort((short) 0).putLong(baseSequence);
        crc.reset();
        crc.update(dst.duplicate().position(start).limit(start + 16));
        dst.putInt((int) crc.getValue());
    }

    /** Checks a segment header at index 0 of {@code src} and returns its base sequence. */
    static long readSegmentHeader(ByteBuffer src, long fileSize, Path file, CRC32C crc)
            throws SpoolCorruptedException {
        if (fileSize < SEGMENT_HEADER_BYTES) {
            throw new SpoolCorruptedException(file, 0,
                    "file of " + fileSize + " bytes is shorter than the " + SEGMENT_HEADER_BYTES + "-byte header");
        }
        if (src.getInt(0) != SEGMENT_MAGIC) {
            throw new SpoolCorruptedException(file, 0, "not a spool segment (bad magic)");
        }
        byte version = src.get(4);
        if (version != VERSION) {
            throw new SpoolCorruptedException(file, 4, "segment format version " + version
                    + " is not supported (this build reads version " + VERSION + ")");
        }
        crc.reset();
        crc.update(src.duplicate().position(0).limit(16));
        if ((int) crc.getValue() != src.getInt(16)) {
            throw new SpoolCorruptedException(file, 16, "segment header CRC32C mismatch");
        }
        return src.getLong(8);
    }

    /**
     * Returns null when a whole, intact record starts at index {@code at} of {@code buf} with
     * {@code available} bytes readable from there, else a description of what is wrong with it.
     */
    static String verifyFrame(ByteBuffer buf, int at, long available, CRC32C crc) {
        if (available < FRAME_PREFIX_BYTES) {
            return "partial record header (" + available + " bytes)";
        }
        int bodyLength = buf.getInt(at);
        if (bodyLength < BODY_FIXED_BYTES) {
            return "record length " + bodyLength + " (expected: >= " + BODY_FIXED_BYTES + ")";
        }
        if (bodyLength > available - FRAME_PREFIX_BYTES) {
            return "record length " + bodyLength + " runs past the end of the data ("
                    + (available - FRAME_PREFIX_BYTES) + " bytes left)";
        }
        int body = at + FRAME_PREFIX_BYTES;
        crc.reset();
        crc.update(buf.duplicate().position(body).limit(body + bodyLength));
        if ((int) crc.getValue() != buf.getInt(at + 4)) {
            return "CRC32C mismatch";
        }
        int topicLength = buf.getShort(body + 8) & 0xFFFF;
        long keyLengthAt = 10L + topicLength;
        if (keyLengthAt + 8 > bodyLength) {
            return "topic length " + topicLength + " does not fit the record";
        }
        int keyLength = buf.getInt(body + (int) keyLengthAt);
        if (keyLength < 0 || keyLengthAt + 8 + keyLength > bodyLength) {
            return "key length " + keyLength + " does not fit the record";
        }
        int valueLength = buf.getInt(body + (int) keyLengthAt + 4 + keyLength);
        if (valueLength != bodyLength - BODY_FIXED_BYTES - topicLength - keyLength) {
            return "value length " + valueLength + " does not match the record length";
        }
        return null;
    }

    /** The sequence number of a record whose frame starts at {@code at}. */
    static long sequenceAt(ByteBuffer buf, int at) {
        return buf.getLong(at + FRAME_PREFIX_BYTES);
    }

    static void putCheckpoint(ByteBuffer dst, long deliveredSequence, CRC32C crc) {
        dst.putInt(CHECKPOINT_MAGIC).put(VERSION).put((byte) 0).putShort((short) 0).putLong(deliveredSequence);
        crc.reset();
        crc.update(dst.duplicate().flip());
        dst.putInt((int) crc.getValue());
    }
}
