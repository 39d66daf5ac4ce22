package io.sluice.storage.postgres;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.PostgresConfig;
import io.sluice.embedded.FrozenProcesses;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The pool's sessions on a real PostgreSQL. */
@RealInfrastructure
class PostgresConnectionsTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    private final List<ConnectionPool> pools = new ArrayList<>();

    @AfterEach
    void close() {
        pools.forEach(p -> p.disposeLater().block(WAIT));
    }

    @Test
    void aSessionLeftInsideItsTransactionIsEndedAndItsLocksGoBack(TestInfrastructure infra) {
        PostgresConfig base = infra.newDatabase("idletx", 4);
        PostgresConfig config = new PostgresConfig(base.host(), base.port(), base.database(), base.user(),
                base.password(), base.poolMaxSize(), base.connectTimeout(), base.callTimeout(), Duration.ofSeconds(1));
        ConnectionPool pool = pool(config);
        assertThat(single(pool, "SHOW idle_in_transaction_session_timeout")).isEqualTo("1s");

        // what a cancelled call whose rollback never ran leaves behind: a transaction holding a lock, and silence
        Connection lost = Mono.from(pool.create()).block(WAIT);
        Mono.from(lost.beginTransaction()).block(WAIT);
        Flux.from(lost.createStatement("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE").execute())
                .flatMap(r -> r.getRowsUpdated()).then().block(WAIT);

        await().atMost(WAIT).untilAsserted(() -> assertThat(single(pool,
                "SELECT count(*)::text FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        + "WHERE c.relname = 'tenants' AND l.mode = 'AccessExclusiveLock'")).isEqualTo("0"));
        assertThat(single(pool, "SELECT count(*)::text FROM tenants"))
                .as("the table is readable again").isNotNull();
        assertThatThrownBy(() -> Flux.from(lost.createStatement("SELECT 1").execute())
                .flatMap(r -> r.getRowsUpdated()).then().block(WAIT))
                .as("PostgreSQL ended that session").isNotNull();
        Mono.from(lost.close()).onErrorResume(e -> Mono.empty()).block(WAIT);
    }

    @Test
    void aRollbackPostgresqlDoesNotAnswerGivesTheConnectionBackAtItsDeadlineAndThePoolDropsIt(TestInfrastructure infra) {
        ConnectionPool pool = pool(infra.newDatabase("rollbackdeadline", 2));
        Connection c = Mono.from(pool.create()).block(WAIT);
        Mono.from(c.beginTransaction()).block(WAIT);
        Flux.from(c.createStatement("SELECT 1").execute()).flatMap(r -> r.getRowsUpdated()).then().block(WAIT);
        assertThat(pool.getMetrics().orElseThrow().acquiredSize()).isEqualTo(1);
        Duration deadline = Duration.ofMillis(500);
        try (FrozenProcesses postgres = FrozenProcesses.postgres(infra.postgres())) {
            long started = System.nanoTime();
            // without its deadline the ROLLBACK waits for as long as PostgreSQL is frozen, the connection with it
            Transactions.rollbackAndClose(c, deadline).block(WAIT);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("bounded by the deadlines")
                    .isLessThan(WAIT);
            assertThat(pool.getMetrics().orElseThrow().acquiredSize())
                    .as("back in the pool while PostgreSQL is still frozen").isZero();
        }
        // the connection whose transaction state is unknown is never handed out again: its session ends, and the
        // pool's connections are outside any transaction
        await().atMost(WAIT).untilAsserted(() -> assertThat(single(pool,
                "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() "
                        + "AND state LIKE 'idle in transaction%'")).isEqualTo("0"));
        for (int i = 0; i < 3; i++) {
            assertThat(single(pool, "SELECT (now() = statement_timestamp())::text"))
                    .as("a statement of its own, not one inside a transaction begun earlier").isEqualTo("true");
        }
    }

    @Test
    void theDefaultIsTheSetting(TestInfrastructure infra) {
        ConnectionPool pool = pool(infra.newDatabase("idletxdefault", 2));
        assertThat(single(pool, "SHOW idle_in_transaction_session_timeout")).isEqualTo("1min");
    }

    private ConnectionPool pool(PostgresConfig config) {
        ConnectionPool pool = PostgresConnections.pool(config);
        pools.add(pool);
        return pool;
    }

    private static String single(ConnectionPool pool, String sql) {
        return Mono.usingWhen(pool.create(), c -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, String.class))).next(), Connection::close).block(WAIT);
    }
}
