package io.sluice.storage.postgres;

import io.r2dbc.spi.Connection;
import io.sluice.config.PostgresConfig;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@RealInfrastructure
class MigrationsTest {

    @Test
    void nodesStartingTogetherApplyEachMigrationOnce(TestInfrastructure infra) {
        PostgresConfig db = newDatabase(infra);
        CompletableFuture<String> a = CompletableFuture.supplyAsync(() -> Migrations.apply(db));
        CompletableFuture<String> b = CompletableFuture.supplyAsync(() -> Migrations.apply(db));
        assertThat(a.join()).isEqualTo(b.join());
        assertThat(scalar(infra, db, "SELECT count(*) FROM sluice_schema_history WHERE success")).isEqualTo(
                scalar(infra, db, "SELECT count(DISTINCT version) FROM sluice_schema_history WHERE success"));
    }

    @Test
    void aFailedMigrationStopsStartWithItsName(TestInfrastructure infra) {
        PostgresConfig db = newDatabase(infra);
        assertThatThrownBy(() -> Migrations.apply(db, "classpath:db/broken"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("database migration failed")
                .hasMessageContaining("V2__broken_on_purpose.sql")
                .hasMessageContaining("no_such_function");
    }

    @Test
    void rollupPartitionsMadeBeforeV13LeaveRoomForHotUpdatesAfterIt(TestInfrastructure infra) {
        PostgresConfig db = newDatabase(infra);
        assertThat(Migrations.apply(db, "classpath:db/migration", "12")).isEqualTo("12");
        var pool = PostgresConnections.pool(db);
        try {
            Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement("""
                    CREATE TABLE rollups_1m_p20310110 PARTITION OF rollups_1m
                        FOR VALUES FROM ('2031-01-10 00:00:00+00') TO ('2031-01-11 00:00:00+00');
                    CREATE TABLE rollups_1h_p203101 PARTITION OF rollups_1h
                        FOR VALUES FROM ('2031-01-01 00:00:00+00') TO ('2031-02-01 00:00:00+00');
                    CREATE TABLE sample_chunks_p20310110 PARTITION OF sample_chunks
                        FOR VALUES FROM ('2031-01-10 00:00:00+00') TO ('2031-01-11 00:00:00+00')""").execute())
                    .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(Duration.ofSeconds(30));
        } finally {
            pool.dispose();
        }
        Migrations.apply(db);
        String withFillfactor = "SELECT count(*) FROM pg_class WHERE 'fillfactor=70' = ANY(reloptions) AND relname IN "
                + "('rollups_1m_p20310110', 'rollups_1h_p203101', 'sample_chunks_p20310110')";
        assertThat(scalar(infra, db, withFillfactor)).as("the two rollup partitions, not the chunks'").isEqualTo(2);
    }

    private static PostgresConfig newDatabase(TestInfrastructure infra) {
        String name = "mig_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        Mono.usingWhen(infra.connectionFactory().create(),
                (Connection c) -> Flux.from(c.createStatement("CREATE DATABASE " + name).execute()).then(),
                Connection::close).block(Duration.ofSeconds(30));
        PostgresConfig p = infra.config().postgres();
        return p.withDatabase(name, 2);
    }

    private static long scalar(TestInfrastructure infra, PostgresConfig db, String sql) {
        var pool = PostgresConnections.pool(db);
        try {
            return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                    .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(), Connection::close)
                    .block(Duration.ofSeconds(30));
        } finally {
            pool.dispose();
        }
    }
}
