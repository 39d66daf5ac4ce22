package io.sluice.protocol.client;

import java.util.concurrent.CompletableFuture;

/** A batch the client accepted and has not finished: its sequence number, records, future and history. */
final class PendingBatch implements Comparable<PendingBatch> {

    final long sequence;
    final RecordBatch records;
    final int bytes;
    final CompletableFuture<Void> future = new CompletableFuture<>();
    /** How many times it was written to a connection. */
    int sends;
    /** How many connections ended with a non-retriable ERROR while it was in flight on them. */
    int connectionErrors;

    PendingBatch(long sequence, RecordBatch records, int bytes) {
        this.sequence = sequence;
        this.records = records;
        this.bytes = bytes;
    }

    @Override
    public int compareTo(PendingBatch o) {
        return Long.compare(sequence, o.sequence);
    }
}
