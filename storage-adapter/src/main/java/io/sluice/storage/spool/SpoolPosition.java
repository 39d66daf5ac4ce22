package io.sluice.storage.spool;

/**
 * Where one record sits in the spool: returned by {@link Spool#append} and carried by every
 * {@link SpoolEntry}, and handed back to {@link Spool#markDelivered(SpoolPosition)}.
 *
 * <p>Positions are ordered by {@link #sequence()}, the record's number in append order (it keeps growing
 * across restarts). A position belongs to the {@link Spool} instance that produced it; after a reopen,
 * take positions from a new {@link SpoolReader}.
 */
public final class SpoolPosition implements Comparable<SpoolPosition> {

    final long spoolId;
    final long sequence;
    /** Base sequence of the segment holding the record. */
    final long segment;
    /** File offset just past the record in its segment. */
    final long endOffset;
    /** Bytes of records appended before and including this one, counted from the oldest segment at open. */
    final long logicalEnd;

    SpoolPosition(long spoolId, long sequence, long segment, long endOffset, long logicalEnd) {
        this.spoolId = spoolId;
        this.sequence = sequence;
        this.segment = segment;
        this.endOffset = endOffset;
        this.logicalEnd = logicalEnd;
    }

    /** The record's number in append order. */
    public long sequence() {
        return sequence;
    }

    @Override
    public int compareTo(SpoolPosition other) {
        return Long.compare(sequence, other.sequence);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SpoolPosition p && p.spoolId == spoolId && p.sequence == sequence;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(sequence) * 31 + Long.hashCode(spoolId);
    }

    @Override
    public String toString() {
        return "SpoolPosition[sequence=" + sequence + ", segment=" + SpoolFormat.segmentFileName(segment)
                + ", endOffset=" + endOffset + "]";
    }
}
