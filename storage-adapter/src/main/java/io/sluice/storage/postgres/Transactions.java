package io.sluice.storage.postgres;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Wrapped;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;

/** What every R2DBC transaction here does when it fails or is cancelled. */
public final class Transactions {

    private Transactions() {
    }

    /**
     * Rolls back (ignoring a rollback failure: the connection may be dead) and closes, so a pooled
     * connection never goes back to the pool inside an open transaction.
     *
     * <p>The ROLLBACK is sent whatever the driver believes: {@code rollbackTransaction()} skips it while the driver
     * has not yet seen the server enter the transaction, which is the case when a call is cancelled (its deadline
     * passed, PostgreSQL frozen) before the answer to its BEGIN arrived. The server then ran that BEGIN later, and the
     * connection went back to the pool inside a transaction the next caller found open or aborted (25P02).
     * PostgreSQL answers a ROLLBACK outside a transaction with a warning only, and runs it after whatever the
     * connection sent before, so the connection is released only once that is over.
     *
     * <p>The ROLLBACK has {@code deadline}: a PostgreSQL that does not answer it (frozen, or cut off without the
     * connection being reset) would otherwise keep the connection out of the pool until TCP gives up, and a pool
     * of such connections would fail every call after the server is back. When the ROLLBACK fails or passes its
     * deadline, the physical connection is closed before the pooled one is released: its state is unknown, and the
     * pool's check on acquire then drops it instead of handing it out.
     */
    public static Mono<Void> rollbackAndClose(Connection c, Duration deadline) {
        return Flux.from(c.createStatement("ROLLBACK").execute()).flatMap(r -> r.getRowsUpdated()).then()
                .timeout(deadline)
                .onErrorResume(e -> discard(c, deadline))
                .then(Mono.from(c.close()).timeout(deadline).onErrorResume(e -> Mono.empty()));
    }

    /** Closes the connection a pooled {@code c} wraps (or {@code c} itself), ignoring a failure to. */
    private static Mono<Void> discard(Connection c, Duration deadline) {
        Connection physical = c instanceof Wrapped<?> pooled && pooled.unwrap() instanceof Connection inner ? inner : c;
        return Mono.from(physical.close()).timeout(deadline).onErrorResume(e -> Mono.empty());
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
