package io.sluice.storage.query;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Selectors keep finding their series through the labels index however often one connection runs them. The data is
 * skewed as metrics are: one metric name holds most series, thousands of others hold one each. The driver prepares a
 * statement once a connection, and after five runs PostgreSQL may switch to a generic plan, which takes a name for
 * as rare as the average one and reads every series of that name through {@code (tenant, name)} to find the ten the
 * labels match: a selector that took a millisecond then takes as long as a scan of the metric.
 */
@RealInfrastructure
class SkewedSeriesPlanTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int BIG = 20_000;
    private static final int RARE_NAMES = 2_000;

    private static ConnectionPool pool;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        // one connection: every selection below runs the same prepared statements on it
        pool = PostgresConnections.pool(infra.newDatabase("skewed_series", 1));
        sql("INSERT INTO series (id, tenant, name, labels, first_seen, last_seen) SELECT g, 't', 'big', "
                + "jsonb_build_object('shard', 's' || (g / 10), 'host', 'h' || (g % 10)), now(), now() "
                + "FROM generate_series(1, " + BIG + ") g");
        sql("INSERT INTO series (id, tenant, name, labels, first_seen, last_seen) SELECT " + BIG + " + g, 't', "
                + "'rare_' || g, jsonb_build_object('shard', 's' || g), now(), now() "
                + "FROM generate_series(1, " + RARE_NAMES + ") g");
        sql("ANALYZE series");
    }

    @AfterAll
    static void stop() {
        if (pool != null) {
            pool.disposeLater().block(WAIT);
        }
    }

    @Test
    void aSelectorRunManyTimesOnOneConnectionStillUsesTheLabelsIndex() {
        long[] before = indexUse();
        QueryRepository repository = new QueryRepository(pool, Duration.ofSeconds(10));
        int runs = 12;
        for (int i = 0; i < runs; i++) {
            QueryRepository.Selection selection = repository.select("t", List.of(
                    new Matcher(Matcher.NAME, Matcher.Op.EQ, "big"),
                    new Matcher("shard", Matcher.Op.EQ, "s" + (100 + i))), 501, 0, 1, SampleBudget.unlimited())
                    .block(WAIT);
            assertThat(selection.series()).hasSize(10);
        }
        // the statistics reach other sessions within a second or so: wait until every run is counted somewhere
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            long[] after = indexUse();
            long byLabels = after[0] - before[0];
            long byName = after[1] - before[1];
            assertThat(byLabels + byName).as("scans of the labels and (tenant, name) indexes").isGreaterThanOrEqualTo(runs);
            assertThat(byLabels).as("selections that used the labels index").isEqualTo(runs);
        });
        assertThat(indexUse()[2] - before[2]).as("series read through (tenant, name)").isLessThan(BIG);
    }

    /** {scans of series_labels, scans of series_tenant_name, tuples read through series_tenant_name}. */
    private static long[] indexUse() {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(
                        "SELECT coalesce(sum(idx_scan) FILTER (WHERE indexrelname = 'series_labels'), 0), "
                                + "coalesce(sum(idx_scan) FILTER (WHERE indexrelname = 'series_tenant_name'), 0), "
                                + "coalesce(sum(idx_tup_read) FILTER (WHERE indexrelname = 'series_tenant_name'), 0) "
                                + "FROM pg_stat_user_indexes WHERE relname = 'series'").execute())
                        .flatMap(r -> r.map(row -> new long[] {row.get(0, Long.class), row.get(1, Long.class),
                                row.get(2, Long.class)}))
                        .next(),
                Connection::close).block(WAIT);
    }

    private static void sql(String statement) {
        Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(statement).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(WAIT);
    }
}
