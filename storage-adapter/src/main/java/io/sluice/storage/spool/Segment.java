package io.sluice.storage.spool;

import java.nio.file.Path;

/** One segment file as the writer, the readers and recovery see it. */
final class Segment {

    final long base;
    final Path path;
    /** {@link SpoolPosition#logicalEnd} of the record just before this segment's first one. */
    final long logicalStart;
    /** File size once the writer has moved on and will append nothing more here; -1 while active. */
    private volatile long sealedSize = -1;
    private volatile long lastSequence = -1;

    Segment(long base, Path path, long logicalStart) {
        this.base = base;
        this.path = path;
        this.logicalStart = logicalStart;
    }

    /** Called by the writer (or recovery) once no more records will go into this segment. */
    void seal(long size, long last) {
        lastSequence = last;
        sealedSize = size;
    }

    long sealedSize() {
        return sealedSize;
    }

    boolean isSealed() {
        return sealedSize >= 0;
    }

    /** The last record's sequence; meaningful once sealed (base - 1 when the segment holds none). */
    long lastSequence() {
        return lastSequence;
    }

    @Override
    public String toString() {
        return path.getFileName().toString();
    }
}
