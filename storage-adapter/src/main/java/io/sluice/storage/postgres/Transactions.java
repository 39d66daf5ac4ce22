package io.sluice.storage.postgres;

import io.r2dbc.spi.Connection;
import reactor.core.publisher.Flux;
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

    /**
     * Takes the transaction-scoped advisory lock of ({@code scope}, {@code tenant}): transactions of one tenant that
     * take it run one after the other, so that a per-tenant limit checked by counting inside them holds under
     * concurrent requests. Released at commit or rollback.
     */
    public static Mono<Void> lockTenant(Connection c, String scope, String tenant) {
        return Flux.from(c.createStatement("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))")
                .bind("$1", scope).bind("$2", tenant).execute()).flatMap(r -> r.map((row, meta) -> 1)).then();
    }
}
