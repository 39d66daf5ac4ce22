package io.sluice.storage.spool;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * Brings a spool directory to a consistent state on open: removes temp files and delivered segments,
 * checks every undelivered record's CRC, truncates a torn tail of the newest segment, and refuses to open
 * over damage anywhere else.
 *
 * <p>A problem in the newest segment is a torn tail when no intact record follows it: the crash hit
 * between a write and its fsync, so none of those records was acknowledged. An intact record after the
 * damage, or damage in an older segment (each one was fsync'd before the next was created), means data
 * that was acknowledged is unreadable; that fails with {@link SpoolCorruptedException}.
 */
final class SpoolRecovery {

    private static final Logger log = LoggerFactory.getLogger(SpoolRecovery.class);

    /**
     * What the writer and readers start from.
     *
     * @param segments            remaining segments in order, all sealed except the last (the active one)
     * @param delivered           sequence of the last delivered record ({@link Checkpoint#NONE} if none)
     * @param deliveredSegment    base of the segment holding the first undelivered record
     * @param deliveredOffset     offset of that record in its segment
     * @param logicalEnd          record bytes in all remaining segments
     * @param deliveredLogicalEnd record bytes of those that are delivered
     */
    record Recovered(List<Segment> segments, long activeSize, long nextSequence, long delivered,
                     long deliveredSegment, long deliveredOffset, long logicalEnd, long deliveredLogicalEnd,
                     int tornTails) {
    }

    private record Scan(long size, long nextSequence, boolean torn, long deliveredEndOffset) {
    }

    private SpoolRecovery() {
    }

    static Recovered recover(Path dir) throws IOException {
        long delivered = Checkpoint.read(dir);
        TreeMap<Long, Path> files = new TreeMap<>();
        boolean quarantined = false;
        try (DirectoryStream<Path> listing = Files.newDirectoryStream(dir)) {
            for (Path file : listing) {
                String name = file.getFileName().toString();
                if (name.endsWith(SpoolFormat.TEMP_SUFFIX)) {
                    Files.deleteIfExists(file);
                    log.info("Removed leftover spool temp file {}", file);
                } else if (name.endsWith(SpoolFormat.CORRUPT_SUFFIX)) {
                    quarantined = true;
                    log.warn("Spool file {} was quarantined by an operator and is ignored", file);
                } else {
                    long base = SpoolFormat.parseSegmentFileName(name);
                    if (base >= 0) {
                        files.put(base, file);
                    }
                }
            }
        }

        List<Map.Entry<Long, Path>> entries = new ArrayList<>(files.entrySet());
        int first = 0;
        // Segments whose records are all delivered; a crash came between the checkpoint and their deletion.
        while (first + 1 < entries.size() && entries.get(first + 1).getKey() - 1 <= delivered) {
            Files.deleteIfExists(entries.get(first).getValue());
            first++;
        }

        CRC32C crc = new CRC32C();
        List<Segment> segments = new ArrayList<>();
        long expected = -1;
        long logical = 0;
        long deliveredLogical = 0;
        long deliveredSegment = -1;
        long deliveredOffset = -1;
        long lastSize = 0;
        int tornTails = 0;
        for (int i = first; i < entries.size(); i++) {
            long base = entries.get(i).getKey();
            Path path = entries.get(i).getValue();
            long missingFrom = expected >= 0 ? expected : delivered != Checkpoint.NONE ? delivered + 1 : base;
            if (base > missingFrom) {
                String what = "spool " + dir + " is missing records " + missingFrom + ".." + (base - 1)
                        + " before " + path.getFileName();
                if (!quarantined) {
                    throw new IOException(what + ": restore the segment that held them");
                }
                log.warn("{} (they were in a quarantined file)", what);
            } else if (base < missingFrom && expected >= 0) {
                throw new SpoolCorruptedException(path, 0, "segment starts at sequence " + base
                        + " but the previous segment ends at " + (expected - 1));
            }

            Segment segment = new Segment(base, path, logical);
            Scan scan = scan(path, base, i == entries.size() - 1, delivered, crc);
            if (scan.torn) {
                tornTails++;
            }
            if (deliveredSegment < 0 && delivered < scan.nextSequence - 1) {
                // The first undelivered record lives here.
                deliveredSegment = base;
                deliveredOffset = delivered >= base ? scan.deliveredEndOffset : SpoolFormat.SEGMENT_HEADER_BYTES;
                deliveredLogical = logical + deliveredOffset - SpoolFormat.SEGMENT_HEADER_BYTES;
            }
            logical += scan.size - SpoolFormat.SEGMENT_HEADER_BYTES;
            segment.seal(scan.size, scan.nextSequence - 1);
            segments.add(segment);
            lastSize = scan.size;
            expected = scan.nextSequence;
        }

        long nextSequence = Math.max(expected, delivered + 1);
        if (deliveredSegment < 0) {
            // Everything on disk was delivered: start afresh instead of appending behind delivered data.
            for (Segment segment : segments) {
                Files.deleteIfExists(segment.path);
            }
            segments.clear();
            logical = 0;
            deliveredLogical = 0;
            deliveredSegment = nextSequence;
            deliveredOffset = SpoolFormat.SEGMENT_HEADER_BYTES;
            lastSize = 0;
        }
        if (!segments.isEmpty()) {
            Segment newest = segments.get(segments.size() - 1);
            Segment active = new Segment(newest.base, newest.path, newest.logicalStart);
            segments.set(segments.size() - 1, active);
        }
        return new Recovered(List.copyOf(segments), lastSize, nextSequence, delivered, deliveredSegment,
                deliveredOffset, logical, deliveredLogical, tornTails);
    }

    private static Scan scan(Path path, long base, boolean newest, long delivered, CRC32C crc)
            throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) {
                throw new SpoolCorruptedException(path, Integer.MAX_VALUE, "segment is larger than 2 GiB");
            }
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
            long headerBase = SpoolFormat.readSegmentHeader(map, size, path, crc);
            if (headerBase != base) {
                throw new SpoolCorruptedException(path, 8, "header names base sequence " + headerBase
                        + " but the file name says " + base);
            }
            int at = SpoolFormat.SEGMENT_HEADER_BYTES;
            long sequence = base;
            long deliveredEnd = -1;
            while (at < size) {
                String problem = SpoolFormat.verifyFrame(map, at, size - at, crc);
                if (problem == null && SpoolFormat.sequenceAt(map, at) != sequence) {
                    problem = "record sequence " + SpoolFormat.sequenceAt(map, at) + " (expected: " + sequence + ")";
                }
                if (problem != null) {
                    if (!newest) {
                        throw new SpoolCorruptedException(path, at, problem
                                + " in a segment that was fsync'd whole before the next one was started");
                    }
                    int intact = findIntactFrame(map, at + 1, (int) size, sequence, crc);
                    if (intact >= 0) {
                        throw new SpoolCorruptedException(path, at, problem + "; an intact record follows at offset "
                                + intact + ", so this is damage, not a torn tail");
                    }
                    ch.truncate(at);
                    ch.force(true);
                    log.warn("Spool segment {} had a torn tail at offset {} ({}): truncated {} bytes, kept {} records "
                            + "(a crash before fsync; none of the dropped bytes was acknowledged)",
                            path, at, problem, size - at, sequence - base);
                    return new Scan(at, sequence, true, deliveredEnd);
                }
                at += SpoolFormat.FRAME_PREFIX_BYTES + map.getInt(at);
                if (sequence == delivered) {
                    deliveredEnd = at;
                }
                sequence++;
            }
            return new Scan(size, sequence, false, deliveredEnd);
        }
    }

    /** Looks for any intact record after a damaged one: if there is one, the damage is not a torn tail. */
    private static int findIntactFrame(MappedByteBuffer map, int from, int size, long minSequence, CRC32C crc) {
        for (int at = from; at <= size - SpoolFormat.RECORD_OVERHEAD; at++) {
            int bodyLength = map.getInt(at);
            if (bodyLength < SpoolFormat.BODY_FIXED_BYTES || bodyLength > size - at - SpoolFormat.FRAME_PREFIX_BYTES) {
                continue;
            }
            long sequence = SpoolFormat.sequenceAt(map, at);
            if (sequence < minSequence || sequence - minSequence > size - from) {
                continue;
            }
            if (SpoolFormat.verifyFrame(map, at, size - at, crc) == null) {
                return at;
            }
        }
        return -1;
    }
}
