package io.sluice.storage.writer;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.ConfigLoader;
import io.sluice.config.WriterConfig;
import io.sluice.storage.chunks.SampleChunks;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Partitions are created ahead and dropped after their retention, in a database of this test's own. */
@RealInfrastructure
class PartitionMaintenanceTest {

    private ConnectionPool pool;

    @BeforeEach
    void ownDatabase(TestInfrastructure infra) {
        pool = PostgresConnections.pool(infra.newDatabase("parts_", 4));
    }

    @AfterEach
    void close() {
        pool.dispose();
    }

    @Test
    void createsAheadAndDropsPastRetention() {
        WriterConfig config = ConfigLoader.load(null, Map.of(), Map.of("retention.raw", "7d",
                "retention.rollup-1m", "30d", "retention.rollup-1h", "365d", "retention.partitions-ahead", "3")).writer();
        Instant day0 = Instant.parse("2031-01-10T12:00:00Z");

        new PartitionMaintenance(pool, config, Clock.fixed(day0, ZoneOffset.UTC)).run().block(Duration.ofSeconds(60));
        assertThat(partitions("sample_chunks")).containsExactly("sample_chunks_p20310109", "sample_chunks_p20310110",
                "sample_chunks_p20310111", "sample_chunks_p20310112", "sample_chunks_p20310113");
        assertThat(partitions("events")).hasSize(5);
        assertThat(partitions("rollups_1m")).hasSize(5);
        assertThat(partitions("rollups_1h")).containsExactly("rollups_1h_p203101");
        // the rollups, updated in place by batch after batch, leave room in their pages for HOT updates
        assertThat(strings("SELECT c.relname || ' ' || coalesce(array_to_string(c.reloptions, ','), '-') FROM pg_class c "
                + "WHERE c.relname IN ('rollups_1m_p20310110', 'rollups_1h_p203101', 'sample_chunks_p20310110') "
                + "ORDER BY c.relname")).containsExactly("rollups_1h_p203101 fillfactor=70",
                "rollups_1m_p20310110 fillfactor=70", "sample_chunks_p20310110 -");

        // 20 days later: raw partitions of 2031-01-09..13 are past 7 days; 1-minute rollups are kept (30 days)
        Instant day20 = day0.plus(Duration.ofDays(20));
        List<String> dropped = new PartitionMaintenance(pool, config, Clock.fixed(day20, ZoneOffset.UTC)).run()
                .block(Duration.ofSeconds(60));
        assertThat(dropped).contains("sample_chunks_p20310109", "events_p20310113").noneMatch(n -> n.startsWith("rollups"));
        assertThat(partitions("sample_chunks")).allMatch(n -> n.compareTo("sample_chunks_p20310129") >= 0);
        assertThat(partitions("rollups_1m")).contains("rollups_1m_p20310109");

        // 40 days later the 1-minute rollups of early January go too; the 1-hour ones stay for a year
        List<String> later = new PartitionMaintenance(pool, config, Clock.fixed(day0.plus(Duration.ofDays(40)), ZoneOffset.UTC))
                .run().block(Duration.ofSeconds(60));
        assertThat(later).contains("rollups_1m_p20310109").doesNotContain("rollups_1h_p203101");
        assertThat(partitions("rollups_1h")).contains("rollups_1h_p203101");
    }

    @Test
    void eventIdsAreForgottenWithTheirEventsPartitions() {
        WriterConfig config = ConfigLoader.load(null, Map.of(), Map.of("retention.raw", "7d")).writer();
        Instant day0 = Instant.parse("2031-03-10T12:00:00Z");
        exec("INSERT INTO event_ids (tenant, event_id, ts) VALUES ('t', 'old', '2031-03-02T23:59:59Z'), "
                + "('t', 'kept', '2031-03-03T00:00:00Z'), ('t', 'new', '2031-03-10T11:00:00Z')");

        new PartitionMaintenance(pool, config, Clock.fixed(day0, ZoneOffset.UTC)).run().block(Duration.ofSeconds(60));

        // 7 days before 2031-03-10T12:00 is 2031-03-03T12:00: the events partition of 2031-03-02 has gone, the one
        // of 2031-03-03 is still there, so ids from 2031-03-03 on are still unique
        assertThat(strings("SELECT event_id FROM event_ids ORDER BY ts")).containsExactly("kept", "new");
    }

    private void exec(String sql) {
        Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(Duration.ofSeconds(30));
    }

    private List<String> strings(String sql) {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, String.class))).collectList(), Connection::close)
                .block(Duration.ofSeconds(30));
    }

    @Test
    void writesKeepGoingWhileAnOldPartitionIsBeingDropped() throws Exception {
        WriterConfig config = ConfigLoader.load(null, Map.of(), Map.of()).writer();
        Instant now = Instant.parse("2031-05-01T00:30:00Z");
        new PartitionMaintenance(pool, config, Clock.fixed(now, ZoneOffset.UTC)).run().block(Duration.ofSeconds(60));
        Connection writer = Mono.from(pool.create()).block(Duration.ofSeconds(30));
        try {
            // A writer's transaction is open on today's partition; the drop of an old one must wait for it
            // (DETACH CONCURRENTLY), while the writer itself is never blocked by the drop.
            Mono.from(writer.beginTransaction()).then(insert(writer, 1)).block(Duration.ofSeconds(30));
            java.util.concurrent.CompletableFuture<List<String>> drop = new PartitionMaintenance(pool, config,
                    Clock.fixed(now.plus(Duration.ofDays(9)), ZoneOffset.UTC)).dropExpired().toFuture();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> waitingDetaches() > 0);
            insert(writer, 2).block(Duration.ofSeconds(10));
            assertThat(drop).isNotDone();
            Mono.from(writer.commitTransaction()).block(Duration.ofSeconds(10));
            assertThat(drop.get(30, java.util.concurrent.TimeUnit.SECONDS)).contains("sample_chunks_p20310430");
        } finally {
            Mono.from(writer.close()).block(Duration.ofSeconds(10));
        }
        assertThat(partitions("sample_chunks")).doesNotContain("sample_chunks_p20310430")
                .contains("sample_chunks_p20310503");
    }

    /** A chunk of one sample, as the writer inserts it, into the partition of 2031-05-03. */
    private static Mono<Void> insert(Connection c, int series) {
        long ms = Instant.parse("2031-05-03T00:10:00Z").toEpochMilli();
        return Flux.from(c.createStatement("INSERT INTO sample_chunks (series_id, hour, min_ms, max_ms, samples, data) "
                        + "VALUES ($1, '2031-05-03T00:00:00Z', $2, $2, 1, $3)")
                .bind("$1", series).bind("$2", ms)
                .bind("$3", SampleChunks.pack(new long[] {ms}, new double[] {1}, 0, 1)).execute())
                .flatMap(r -> r.getRowsUpdated()).then();
    }

    private long waitingDetaches() {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'ALTER TABLE % DETACH PARTITION%' "
                                + "AND state = 'active'").execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(),
                Connection::close).block(Duration.ofSeconds(30));
    }

    private List<String> partitions(String table) {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement("""
                        SELECT child.relname FROM pg_inherits i JOIN pg_class parent ON parent.oid = i.inhparent
                        JOIN pg_class child ON child.oid = i.inhrelid WHERE parent.relname = $1 ORDER BY 1""")
                        .bind("$1", table).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, String.class))).collectList(),
                Connection::close).block(Duration.ofSeconds(30));
    }
}
