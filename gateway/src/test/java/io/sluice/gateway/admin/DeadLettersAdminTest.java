package io.sluice.gateway.admin;

import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.ConfigLoader;
import io.sluice.config.PostgresConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.Sluice;
import io.sluice.storage.postgres.Migrations;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Dead letters as an operator meets them: {@code /health/ready} says degraded until they are replayed. */
@RealInfrastructure
class DeadLettersAdminTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final HttpClient http = HttpClient.newHttpClient();

    private ConnectionPool pool;
    private SluiceConfig config;

    @BeforeEach
    void ownDatabase(TestInfrastructure infra) {
        String db = "dladmin_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        Mono.usingWhen(infra.connectionFactory().create(),
                (Connection c) -> Flux.from(c.createStatement("CREATE DATABASE " + db).execute()).then(),
                Connection::close).block(WAIT);
        SluiceConfig base = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0")));
        PostgresConfig p = base.postgres();
        config = base.withPostgres(new PostgresConfig(p.host(), p.port(), db, p.user(), p.password(), 4,
                p.connectTimeout(), p.callTimeout()));
        Migrations.apply(config.postgres());
        pool = PostgresConnections.pool(config.postgres());
    }

    @AfterEach
    void close() {
        pool.dispose();
    }

    @Test
    void readinessIsDegradedWhileDeadLettersWait() throws Exception {
        try (Sluice sluice = Sluice.start(config)) {
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

    private static HttpResponse<String> ready(Sluice sluice) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + "/health/ready"))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private void exec(String sql) {
        Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(WAIT);
    }
}
