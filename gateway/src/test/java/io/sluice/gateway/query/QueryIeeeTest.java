package io.sluice.gateway.query;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.sluice.storage.writer.WriterRole;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * NaN, infinities and sums that overflow, written through the real ingest and writer and read back through the
 * query API at every resolution: IEEE results (min and max skip NaN unless every value is NaN, an overflowing sum
 * is an infinity), the same from raw chunks and from rollups, never a 500.
 */
@RealInfrastructure
class QueryIeeeTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final String METRIC = "ieee.values";
    private static final double MAX = Double.MAX_VALUE;
    private static GatewayRole sluice;
    private static WriterRole writer;
    private static String key;
    /** The minute every sample falls in (its first second). */
    private static long minute;

    @BeforeAll
    static void seed(TestInfrastructure infra) throws Exception {
        sluice = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "tenants.free.requests-per-minute", "100000"))));
        writer = WriterRole.start(sluice.config(), new SimpleMeterRegistry());
        String tenant = "ieee-" + UUID.randomUUID().toString().substring(0, 8);
        key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.FREE);
        minute = Math.floorDiv(System.currentTimeMillis() - 3 * 60_000, 60_000L) * 60_000L;
        long at = minute + 1_000;
        String body = "{\"samples\":["
                + sample("b", "big", at, "1.7976931348623157E308") + "," + sample("b", "big", at + 1, "1.7976931348623157E308")
                + "," + sample("b", "neg", at, "-1.7976931348623157E308") + ","
                + sample("b", "neg", at + 1, "-1.7976931348623157E308") + ","
                + sample("a", "nan", at, "1.0") + "," + sample("a", "nan", at + 1, "\"NaN\"") + ","
                + sample("a", "nan", at + 2, "3.0") + ","
                + sample("c", "inf", at, "\"+Inf\"") + "," + sample("c", "inf", at + 1, "\"-Inf\"") + ","
                + sample("a", "allnan", at, "\"NaN\"") + "]}";
        HttpResponse<String> ingest = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port()
                        + "/api/v1/ingest/metrics")).header("Authorization", "Bearer " + key)
                .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(ingest.statusCode()).as(ingest.body()).isEqualTo(202);
        assertThat(ingest.body()).isEqualTo("{\"accepted\":10,\"rejected\":[]}");
        // queried only once everything is stored, so that no answer of a partial state is cached
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            assertThat(count(infra.connectionFactory(), "SELECT coalesce(sum(c.samples), 0) FROM sample_chunks c "
                    + "JOIN series s ON s.id = c.series_id WHERE s.tenant = '" + tenant + "'")).isEqualTo(10);
            // the 1-minute rollups are written in the same transaction as the chunks; the 1-hour ones come from them
            // (queries fold the minutes of an hour not folded yet)
            assertThat(count(infra.connectionFactory(), "SELECT coalesce(sum(r.count), 0) FROM rollups_1m r"
                    + " JOIN series s ON s.id = r.series_id WHERE s.tenant = '" + tenant + "'")).isEqualTo(10);
        });
    }

    @AfterAll
    static void stop() {
        if (writer != null) {
            writer.close();
        }
        if (sluice != null) {
            sluice.close();
        }
    }

    @ParameterizedTest(name = "{0} at step {1}")
    @CsvSource({"sum,10s,raw", "sum,1m,1m", "sum,1h,1h", "avg,10s,raw", "avg,1m,1m", "avg,1h,1h",
            "min,10s,raw", "min,1m,1m", "min,1h,1h", "max,10s,raw", "max,1m,1m", "max,1h,1h",
            "count,10s,raw", "count,1m,1m", "count,1h,1h"})
    void perSeriesPointsAreIeee(String agg, String step, String resolution) throws Exception {
        String json = query("agg=" + agg + "&step=" + step);
        assertThat(json).contains("\"resolution\":\"" + resolution + "\"");
        long bucket = bucket(step);
        // expected per series: sum, avg, min, max, count
        Map<String, double[]> expected = Map.of(
                "b,big", new double[] {Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, MAX, MAX, 2},
                "b,neg", new double[] {Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY, -MAX, -MAX, 2},
                "a,nan", new double[] {Double.NaN, Double.NaN, 1.0, 3.0, 3},
                "c,inf", new double[] {Double.NaN, Double.NaN, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, 2},
                "a,allnan", new double[] {Double.NaN, Double.NaN, Double.NaN, Double.NaN, 1});
        int column = java.util.List.of("sum", "avg", "min", "max", "count").indexOf(agg);
        expected.forEach((labels, values) -> {
            String[] gk = labels.split(",");
            assertThat(json).contains("{\"labels\":{\"g\":\"" + gk[0] + "\",\"k\":\"" + gk[1] + "\"},\"points\":[["
                    + bucket + "," + wire(values[column]) + "]]}");
        });
    }

    @ParameterizedTest(name = "{0} across series at step {1}")
    @CsvSource({"min,10s", "min,1m", "min,1h", "max,10s", "max,1m", "max,1h", "sum,10s", "sum,1m", "sum,1h"})
    void seriesMergeByTheSameRule(String agg, String step) throws Exception {
        String json = query("agg=" + agg + "&step=" + step + "&group_by=g");
        long bucket = bucket(step);
        // a: 1, NaN, 3 and NaN; b: MAX, MAX and -MAX, -MAX; c: +Inf, -Inf
        Map<String, double[]> expected = Map.of(
                "a", new double[] {1.0, 3.0, Double.NaN},
                "b", new double[] {-MAX, MAX, Double.NaN},
                "c", new double[] {Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, Double.NaN});
        int column = java.util.List.of("min", "max", "sum").indexOf(agg);
        expected.forEach((group, values) -> assertThat(json).contains("{\"labels\":{\"g\":\"" + group
                + "\"},\"points\":[[" + bucket + "," + wire(values[column]) + "]]}"));
    }

    // ---- helpers -------------------------------------------------------------------------------------

    private static long bucket(String step) {
        long stepMs = io.sluice.config.Values.duration(step).toMillis();
        return Math.floorDiv(minute, stepMs) * stepMs;
    }

    private static String wire(double v) {
        if (Double.isNaN(v)) {
            return "\"NaN\"";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "\"+Inf\"" : "\"-Inf\"";
        }
        return Double.toString(v);
    }

    private static String sample(String group, String k, long timestamp, String value) {
        return "{\"name\":\"" + METRIC + "\",\"labels\":{\"g\":\"" + group + "\",\"k\":\"" + k + "\"},\"timestamp\":"
                + timestamp + ",\"value\":" + value + "}";
    }

    private static String query(String params) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port()
                        + "/api/v1/query?metric=" + METRIC + "&" + params + "&from=" + Instant.ofEpochMilli(minute)
                        + "&to=" + Instant.ofEpochMilli(minute + 60_000)))
                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return response.body();
    }

    private static long count(ConnectionFactory cf, String sql) {
        return Mono.usingWhen(cf.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.map(row -> ((Number) row.get(0)).longValue())).next(), Connection::close)
                .block(Duration.ofSeconds(30));
    }
}
