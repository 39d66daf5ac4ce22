package io.sluice.storage.query;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.R2dbcException;
import io.sluice.config.PostgresConfig;
import io.sluice.config.QueryConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The query service on a real PostgreSQL: typed answers and typed failures (PostgreSQL's errors translated where the
 * SQL is, limits as {@link QueryLimitException}), and the translation leaves {@link PostgresCalls}' counting as it was.
 */
@RealInfrastructure
class QueriesTest {

    private static final Instant NOW = Instant.parse("2026-11-30T12:00:00Z");
    private static final List<Matcher> ANY = List.of();

    private static SluiceConfig config;
    private static ConnectionPool pool;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        config = infra.config();
        PostgresConfig own = infra.newDatabase("queries", 4);
        pool = PostgresConnections.pool(own);
        Mono.usingWhen(pool.create(), c -> Flux.from(c.createStatement("""
                INSERT INTO series (id, tenant, name, labels, first_seen, last_seen) VALUES
                  (1, 'a', 'cpu', '{"host": "h1", "dc": "x"}', now(), now()),
                  (2, 'a', 'cpu', '{"host": "h2", "dc": "x"}', now(), now()),
                  (3, 'a', 'cpu', '{"host": "h3", "dc": "y"}', now(), now()),
                  (4, 'b', 'cpu', '{"host": "other"}', now(), now())""").execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(Duration.ofSeconds(30));
    }

    @AfterAll
    static void stop() {
        if (pool != null) {
            pool.disposeLater().block(Duration.ofSeconds(10));
        }
    }

    private static Queries queries(PostgresCalls calls, int maxSeries, Duration statementTimeout) {
        QueryConfig limits = new QueryConfig(11_000, maxSeries, Duration.ofDays(400), statementTimeout, 1 << 20);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        return new Queries(new QueryRepository(calls, statementTimeout), limits, config.writer(),
                new io.sluice.storage.invalidation.Invalidations(registry), Clock.fixed(NOW, ZoneOffset.UTC), registry);
    }

    @Test
    void discoveryAndRangesAreScopedToTheTenantAndCached() {
        Queries queries = queries(PostgresCalls.withDefaultDeadline(pool), 10, Duration.ofSeconds(10));
        assertThat(queries.series("a", "cpu", List.of(new Matcher("dc", Matcher.Op.EQ, "x")))
                .block(Duration.ofSeconds(30))).extracting(SeriesInfo::id).containsExactly(1L, 2L);
        assertThat(queries.series("a", "cpu", List.of(new Matcher("host", Matcher.Op.NOT_REGEX, "h[12]")))
                .block(Duration.ofSeconds(30))).extracting(SeriesInfo::id).containsExactly(3L);
        assertThat(queries.series("a", "cpu", List.of(new Matcher("missing", Matcher.Op.NOT_REGEX, ".+")))
                .block(Duration.ofSeconds(30))).as("a missing label is \"\", which .+ does not match")
                .extracting(SeriesInfo::id).containsExactly(1L, 2L, 3L);
        assertThat(queries.labelNames("a").block(Duration.ofSeconds(30))).containsExactly("dc", "host");
        assertThat(queries.labelValues("a", "host").block(Duration.ofSeconds(30))).containsExactly("h1", "h2", "h3");

        QueryCache.Answer<QueryResult> first = queries.range("a", "cpu", ANY, NOW.minus(Duration.ofHours(1)), NOW,
                Duration.ofMinutes(1), Aggregation.AVG, List.of()).block(Duration.ofSeconds(30));
        assertThat(first.source()).isEqualTo(QueryCache.Source.MISS);
        assertThat(first.result().series()).as("no samples stored").isEmpty();
        assertThat(first.result().query().tenant()).isEqualTo("a");
        QueryCache.Answer<QueryResult> again = queries.range("a", "cpu", ANY, NOW.minus(Duration.ofHours(1)), NOW,
                Duration.ofMinutes(1), Aggregation.AVG, List.of()).block(Duration.ofSeconds(30));
        assertThat(again.source()).isEqualTo(QueryCache.Source.HIT);
    }

    @Test
    void limitsAreQueryLimitExceptions() {
        Queries queries = queries(PostgresCalls.withDefaultDeadline(pool), 2, Duration.ofSeconds(10));
        assertThatThrownBy(() -> queries.series("a", "cpu", ANY).block(Duration.ofSeconds(30)))
                .isInstanceOfSatisfying(QueryLimitException.class, e -> assertThat(e.code()).isEqualTo("too_many_series"))
                .hasMessage("more than 2 series match (query.max-series); add matchers");
        assertThat(queries.series("b", "cpu", ANY).block(Duration.ofSeconds(30))).hasSize(1);
        assertThatThrownBy(() -> queries.range("a", "cpu", ANY, NOW.minus(Duration.ofHours(1)), NOW,
                Duration.ofMinutes(1), Aggregation.MAX, List.of()).block(Duration.ofSeconds(30)))
                .isInstanceOfSatisfying(QueryLimitException.class, e -> assertThat(e.code()).isEqualTo("too_many_series"));
        assertThatThrownBy(() -> queries.range("a", "cpu", ANY, NOW.minus(Duration.ofDays(401)), NOW,
                Duration.ofHours(1), Aggregation.MAX, List.of()).block(Duration.ofSeconds(30)))
                .isInstanceOfSatisfying(QueryLimitException.class, e -> assertThat(e.code()).isEqualTo("range_too_long"));
    }

    @Test
    void aRegexOnlyPostgresqlRefusesIsAppliedInJavaWithPromqlsMeaning() {
        Queries queries = queries(PostgresCalls.withDefaultDeadline(pool), 10, Duration.ofSeconds(10));
        // RE2 (PromQL's dialect) and java.util.regex take these; PostgreSQL refuses a flag group and bounds above 255
        assertThat(queries.series("a", "cpu", List.of(new Matcher("host", Matcher.Op.REGEX, "(?i:H)[12]")))
                .block(Duration.ofSeconds(30))).extracting(SeriesInfo::id).containsExactly(1L, 2L);
        assertThat(queries.series("a", "cpu", List.of(new Matcher("host", Matcher.Op.NOT_REGEX, "(?i:H)1"),
                        new Matcher("dc", Matcher.Op.EQ, "x"))).block(Duration.ofSeconds(30)))
                .extracting(SeriesInfo::id).containsExactly(2L);
        assertThat(queries.series("a", null, List.of(new Matcher(Matcher.NAME, Matcher.Op.REGEX, "(?i:CPU)"),
                        new Matcher("host", Matcher.Op.REGEX, "h{1,300}3"))).block(Duration.ofSeconds(30)))
                .extracting(SeriesInfo::id).containsExactly(3L);
        assertThat(queries.series("a", null, List.of(new Matcher(Matcher.NAME, Matcher.Op.REGEX, "(?i:CPU)")))
                .block(Duration.ofSeconds(30))).as("the other tenant's series stay out").hasSize(3);
    }

    @Test
    void aRegexPostgresqlRefusesIsAnInvalidRegexQueryException() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        PostgresCalls calls = new PostgresCalls(pool, Duration.ofSeconds(5), registry);
        Queries queries = queries(calls, 10, Duration.ofSeconds(10));
        // valid for neither PostgreSQL nor java.util.regex
        List<Matcher> refused = List.of(new Matcher("host", Matcher.Op.REGEX, "a{1,300}("));
        assertThatThrownBy(() -> queries.series("a", "cpu", refused).block(Duration.ofSeconds(30)))
                .isInstanceOfSatisfying(QueryException.class, e -> {
                    assertThat(e.kind()).isEqualTo(QueryException.Kind.INVALID_REGEX);
                    assertThat(e.getCause()).isInstanceOf(R2dbcException.class);
                    assertThat(e.getMessage()).isEqualTo(e.getCause().getMessage()).isNotBlank();
                });
        assertThatThrownBy(() -> queries.range("a", "cpu", refused, NOW.minus(Duration.ofHours(1)), NOW,
                Duration.ofMinutes(1), Aggregation.MAX, List.of()).block(Duration.ofSeconds(30)))
                .isInstanceOfSatisfying(QueryException.class,
                        e -> assertThat(e.kind()).isEqualTo(QueryException.Kind.INVALID_REGEX));
        // PostgreSQL answered, with an error: counted as such, and it is not taken for unreachable
        assertThat(failures(registry, "query.series", "error")).isEqualTo(1);
        assertThat(failures(registry, "query.run", "error")).isEqualTo(1);
        assertThat(calls.unreachable()).isFalse();
    }

    @Test
    void aStatementOverTheStatementTimeoutIsATimeoutQueryException() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        PostgresCalls calls = new PostgresCalls(pool, Duration.ofSeconds(5), registry);
        Queries queries = queries(calls, 10, Duration.ofMillis(300));
        Connection locker = Mono.from(pool.create()).block(Duration.ofSeconds(10));
        try {
            // a lock held elsewhere makes the statement wait past its statement timeout
            Mono.from(locker.beginTransaction()).then(Flux.from(locker.createStatement(
                    "LOCK TABLE series IN ACCESS EXCLUSIVE MODE").execute()).flatMap(r -> r.getRowsUpdated()).then())
                    .block(Duration.ofSeconds(10));
            assertThatThrownBy(() -> queries.labelNames("a").block(Duration.ofSeconds(30)))
                    .isInstanceOfSatisfying(QueryException.class, e -> {
                        assertThat(e.kind()).isEqualTo(QueryException.Kind.TIMEOUT);
                        assertThat(e.getCause()).isInstanceOf(R2dbcException.class);
                    });
        } finally {
            Mono.from(locker.rollbackTransaction()).then(Mono.from(locker.close())).block(Duration.ofSeconds(10));
        }
        assertThat(failures(registry, "query.label_names", "error")).isEqualTo(1);
        assertThat(queries.labelNames("a").block(Duration.ofSeconds(30))).containsExactly("dc", "host");
    }

    private static double failures(SimpleMeterRegistry registry, String operation, String reason) {
        var counter = registry.find("sluice_postgres_call_failures").tag("operation", operation).tag("reason", reason)
                .counter();
        return counter == null ? 0 : counter.count();
    }
}
