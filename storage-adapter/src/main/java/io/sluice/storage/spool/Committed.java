package io.sluice.storage.spool;

/**
 * The durable end of the spool, published by the writer after each fsync: readers never read past it.
 *
 * @param segment      base sequence of the segment the writer appends to (-1 before the first segment)
 * @param end          durable size of that segment's file
 * @param lastSequence the last fsync'd record's sequence (-1 when none was ever appended)
 */
record Committed(long segment, long end, long lastSequence) {
}
