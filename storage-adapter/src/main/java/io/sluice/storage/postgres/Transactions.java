package io.sluice.storage.postgres;

import io.r2dbc.spi.Connection;
import reactor.core.publisher.Mono;

/** What every R2DBC transaction here does when it fails or is cancelled. */
public final class Transactions {

    private Transactions() {
    }

    /**
     * Rolls back (ignoring a rollback failure: the connection may be dead) and closes, so a pooled
     * connection never goes back to the pool inside an open transaction.
     */
    public static Mono<Void> rollbackAndClose(Connection c) {
        return Mono.from(c.rollbackTransaction()).onErrorResume(e -> Mono.empty()).then(Mono.from(c.close()));
    }
}
