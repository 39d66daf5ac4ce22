package io.sluice.storage.spool;

/**
 * A snapshot of the spool's counters for {@code /metrics}; counters count since the spool was opened.
 *
 * @param bytes         undelivered bytes (on disk and queued), the figure {@code spool.max-bytes} bounds
 * @param appends       appends written and fsync'd
 * @param appendedBytes record bytes (framing included) of those appends
 * @param fsyncs        {@code FileChannel.force} calls on segment files
 * @param rejectedFull  appends refused with {@link SpoolFullException}
 * @param checkpoints   delivery checkpoints written
 * @param tornTails     torn or corrupt tails truncated when the spool was opened
 * @param segments      segment files on disk
 */
public record SpoolStats(long bytes, long maxBytes, long appends, long appendedBytes, long fsyncs,
                         long rejectedFull, long checkpoints, long tornTails, int segments) {
}
