package io.sluice.protocol.client;

import java.util.concurrent.atomic.LongAdder;

/** What a {@link SluiceClient} has done so far: connections, sessions, acks, NACKs and resends. */
public final class ClientStats {

    final LongAdder connectAttempts = new LongAdder();
    final LongAdder sessions = new LongAdder();
    final LongAdder acks = new LongAdder();
    final LongAdder nacks = new LongAdder();
    final LongAdder resends = new LongAdder();
    final LongAdder requeued = new LongAdder();
    final LongAdder refusedLocally = new LongAdder();

    /** TCP connection attempts, the first one included. */
    public long connectAttempts() {
        return connectAttempts.sum();
    }

    /** Sessions established (HELLO_OK received). */
    public long sessions() {
        return sessions.sum();
    }

    /** Batches acknowledged. */
    public long acks() {
        return acks.sum();
    }

    /** NACKs received, retriable or not. */
    public long nacks() {
        return nacks.sum();
    }

    /** Batch sends after the first send of the same batch. */
    public long resends() {
        return resends.sum();
    }

    /** Batches put back in the queue because their connection ended before they were answered. */
    public long requeued() {
        return requeued.sum();
    }

    /** Batches failed without sending because they break a limit the server announced in HELLO_OK. */
    public long refusedLocally() {
        return refusedLocally.sum();
    }
}
