package io.sluice.gateway.admin;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.GatewayRole;
import io.sluice.protocol.segment.SegmentWriter;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Dead letters as an operator meets them: {@code /health/ready} says degraded until they are replayed, and
 * {@code sluice dead-letters list|replay} shows and applies them, in a database of this test's own.
 */
@RealInfrastructure
class DeadLettersAdminTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final HttpClient http = HttpClient.newHttpClient();

    private ConnectionPool pool;
    private SluiceConfig config;

    @BeforeEach
    void ownDatabase(TestInfrastructure infra) {
        config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0")))
                .withPostgres(infra.newDatabase("dladmin_", 4));
        pool = PostgresConnections.pool(config.postgres());
    }

    @AfterEach
    void close() {
        pool.dispose();
    }

    @Test
    void readinessIsDegradedWhileDeadLettersWait() throws Exception {
        try (GatewayRole sluice = GatewayRole.start(config)) {
            HttpResponse<String> clean = ready(sluice);
            assertThat(clean.statusCode()).isEqualTo(200);
            assertThat(clean.body()).contains("\"status\":\"ready\"").doesNotContain("degraded");

            exec("INSERT INTO dead_letters (topic, partition, kafka_offset, reason, sqlstate, error, payload) VALUES "
                    + "('sluice.metrics', 0, 7, 'sqlstate_22003', '22003', 'value out of range: overflow', '\\x01'), "
                    + "('sluice.metrics', 1, 9, 'sqlstate_22003', '22003', 'value out of range: overflow', '\\x02')");
            HttpResponse<String> degraded = ready(sluice);
            assertThat(degraded.statusCode()).as("still serving: ready, but degraded").isEqualTo(200);
            assertThat(degraded.body()).contains("\"status\":\"degraded\"",
                    "\"degraded\":{\"dead_letters\":\"2 Kafka record(s) PostgreSQL refused are set aside");

            exec("UPDATE dead_letters SET replayed_at = now()");
            assertThat(ready(sluice).body()).contains("\"status\":\"ready\"").doesNotContain("degraded");
        }
    }

    @Test
    void theCommandListsAndReplaysOnceTheCauseIsFixed() throws Exception {
        exec("ALTER TABLE events ADD CONSTRAINT no_poison CHECK (type <> 'poison')");
        byte[] segment;
        try (SegmentWriter w = SegmentWriter.create(ByteBufAllocator.DEFAULT, "dl-tenant", false)) {
            w.addEvent("e-9", "poison", System.currentTimeMillis() - 60_000, "svc", Map.of("n", "1"));
            ByteBuf buf = w.finish();
            try {
                segment = ByteBufUtil.getBytes(buf);
            } finally {
                buf.release();
            }
        }
        exec("INSERT INTO dead_letters (topic, partition, kafka_offset, reason, sqlstate, error, payload) VALUES "
                + "('sluice.events', 2, 41, 'sqlstate_23514', '23514', 'violates check constraint \"no_poison\"', "
                + "decode('" + ByteBufUtil.hexDump(segment) + "', 'hex'))");
        Set<String> explicit = Set.of("postgres.database");

        Output listed = run(explicit, "list");
        assertThat(listed.code).isZero();
        assertThat(listed.out.split("\n")).hasSize(2);
        assertThat(listed.out).contains("\tsluice.events\t2\t41\tsqlstate_23514\t", "\t-\tviolates check constraint");

        Output refused = run(explicit, "replay", "--all");
        assertThat(refused.code).as(refused.err).isEqualTo(1);
        assertThat(refused.err).contains("still refused, kept", "no_poison", "Replayed 0 of 1");

        exec("ALTER TABLE events DROP CONSTRAINT no_poison");
        long id = Long.parseLong(listed.out.split("\n")[1].split("\t")[0]);
        Output replayed = run(explicit, "replay", "--id", Long.toString(id));
        assertThat(replayed.code).as(replayed.err).isZero();
        assertThat(replayed.err).contains("dead letter " + id + ": replayed", "Replayed 1 of 1");
        assertThat(count("SELECT count(*) FROM events WHERE tenant = 'dl-tenant' AND event_id = 'e-9'")).isEqualTo(1);

        assertThat(run(explicit, "list").out.split("\n")).as("nothing waits any more").hasSize(1);
        assertThat(run(explicit, "list", "--all").out).contains("\tsqlstate_23514\t").doesNotContain("\t-\t");
        assertThat(run(explicit, "replay", "--id", Long.toString(id)).code).as("not twice").isEqualTo(1);
        assertThat(run(explicit, "replay").code).as("usage").isEqualTo(2);
        assertThat(run(explicit, "list", "--limit", "0").code).as("usage").isEqualTo(2);
    }

    private record Output(int code, String out, String err) {
    }

    private Output run(Set<String> explicit, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = DeadLettersCommand.run(List.of(args), config, explicit, new PrintStream(out, true, UTF_8),
                new PrintStream(err, true, UTF_8));
        return new Output(code, out.toString(UTF_8), err.toString(UTF_8));
    }

    private long count(String sql) {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(), Connection::close).block(WAIT);
    }

    private static HttpResponse<String> ready(GatewayRole sluice) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + "/health/ready"))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private void exec(String sql) {
        Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(WAIT);
    }
}
