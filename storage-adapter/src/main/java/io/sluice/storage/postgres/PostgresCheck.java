package io.sluice.storage.postgres;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.storage.health.DependencyCheck;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** Checks that PostgreSQL answers {@code SELECT 1} through the shared R2DBC pool, within the call deadline. */
public final class PostgresCheck implements DependencyCheck {

    private final PostgresCalls calls;

    public PostgresCheck(PostgresCalls calls) {
        this.calls = calls;
    }

    /** A check with the default {@code postgres.call-timeout}. */
    public PostgresCheck(ConnectionFactory connections) {
        this(PostgresCalls.withDefaultDeadline(connections));
    }

    @Override
    public String name() {
        return "postgres";
    }

    @Override
    public Mono<Void> check() {
        return calls.call("health.check", Mono.usingWhen(calls.connections().create(),
                c -> Flux.from(c.createStatement("SELECT 1").execute())
                        .flatMap(result -> result.map((row, meta) -> row.get(0, Integer.class)))
                        .single()
                        .then(),
                Connection::close));
    }
}
