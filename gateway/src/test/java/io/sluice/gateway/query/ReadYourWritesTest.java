package io.sluice.gateway.query;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
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
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Read-your-writes across gateway nodes on real Kafka and PostgreSQL: two gateways and a writer; a query cached
 * empty on both nodes shows a sample ingested on one of them within a second of the writer's commit, for a recent
 * window and an hour-old one, and after a PostgreSQL outage (the writer commits late) as well. The backstop TTL
 * (10 min here) is far longer than any wait in these tests: only the writer's announcements can make the sample
 * visible this soon. The same holds for the PromQL answers of {@code /prometheus}, by the metric a selector names
 * or, for a selector without one, any metric of the tenant.
 */
@RealInfrastructure
class ReadYourWritesTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static GatewayRole nodeA;
    private static GatewayRole nodeB;
    private static WriterRole writer;
    private static final MeterRegistry writerMetrics = new SimpleMeterRegistry();
    private static String key;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        Map<String, String> settings = Map.of("server.port", "0", "tenants.free.requests-per-minute", "100000",
                "ingest.late-window", "2h");
        // each node a config (and spool) of its own
        nodeA = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), settings)));
        nodeB = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), settings)));
        writer = WriterRole.start(nodeA.config(), writerMetrics);
        key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()),
                "ryw-" + UUID.randomUUID().toString().substring(0, 8), Tier.FREE);
        // both nodes listen to the control topic from its end (and dropped what they had cached before)
        await().atMost(WAIT).untilAsserted(() -> {
            for (GatewayRole node : List.of(nodeA, nodeB)) {
                Counter resets = node.meterRegistry().find("sluice_query_cache_resets").counter();
                assertThat(resets).isNotNull();
                assertThat(resets.count()).isGreaterThanOrEqualTo(1);
            }
        });
    }

    @AfterAll
    static void stop() {
        if (writer != null) {
            writer.close();
        }
        if (nodeA != null) {
            nodeA.close();
        }
        if (nodeB != null) {
            nodeB.close();
        }
    }

    @ParameterizedTest(name = "a sample {0} minutes old, step {1}")
    @CsvSource({"0,10s", "60,1m"})
    void aSampleIsVisibleOnBothNodesWithinASecondOfItsCommit(int ageMinutes, String step) throws Exception {
        String metric = "ryw.age" + ageMinutes;
        long at = System.currentTimeMillis() - Duration.ofMinutes(ageMinutes).toMillis() - 2_000;
        String query = "/api/v1/query?metric=" + metric + "&agg=sum&step=" + step + "&from="
                + Instant.ofEpochMilli(at).minus(Duration.ofMinutes(10)) + "&to="
                + Instant.ofEpochMilli(at).plus(Duration.ofMinutes(10));
        cachedEmptyOnBothNodes(query);

        double committedBefore = committedSamples();
        ingest(nodeA, metric, at, 42.5);
        // the writer counts a batch's samples right after its transaction committed
        await().atMost(WAIT).pollInterval(Duration.ofMillis(5)).until(() -> committedSamples() > committedBefore);
        long committed = System.nanoTime();

        for (GatewayRole node : List.of(nodeA, nodeB)) {
            await().atMost(WAIT).pollInterval(Duration.ofMillis(10))
                    .until(() -> get(node, query).body().contains("42.5"));
            long afterCommit = (System.nanoTime() - committed) / 1_000_000;
            org.slf4j.LoggerFactory.getLogger(ReadYourWritesTest.class).info(
                    "{} min old: visible on node {} {} ms after the commit", ageMinutes, node == nodeA ? 1 : 2, afterCommit);
            assertThat(afterCommit).as("ms from the commit until node %d answers with the sample",
                    node == nodeA ? 1 : 2).isLessThan(1_000);
        }
        assertThat(writerMetrics.get("sluice_writer_announcements").tag("result", "published").counter().count())
                .isGreaterThanOrEqualTo(1);
        for (GatewayRole node : List.of(nodeA, nodeB)) {
            assertThat(node.meterRegistry().get("sluice_query_cache_invalidated").tag("reason", "write").counter()
                    .count()).isGreaterThanOrEqualTo(1);
        }
    }

    @ParameterizedTest(name = "PromQL {0}")
    @CsvSource(delimiter = '|', value = {
            "sum(ryw_promql_named)|ryw_promql_named",
            "max by (host) ({__name__=~\"ryw_promql_re.*\"})|ryw_promql_regex"})
    void aPromqlAnswerCachedEmptyShowsTheSampleOnBothNodesWithinASecondOfItsCommit(String expr, String metric)
            throws Exception {
        long at = System.currentTimeMillis() - 30_000;
        long startSeconds = at / 1000 - 600;
        String query = "/prometheus/api/v1/query_range?query=" + java.net.URLEncoder.encode(expr,
                java.nio.charset.StandardCharsets.UTF_8) + "&start=" + startSeconds + "&end=" + (startSeconds + 1200)
                + "&step=60";
        for (GatewayRole node : List.of(nodeA, nodeB)) {
            HttpResponse<String> first = get(node, query);
            assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
            assertThat(first.body()).isEqualTo("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
                    + "\"result\":[]}}");
            assertThat(first.headers().firstValue("x-sluice-cache")).hasValue("miss");
            HttpResponse<String> second = get(node, query);
            assertThat(second.headers().firstValue("x-sluice-cache")).hasValue("hit");
            assertThat(second.body()).isEqualTo(first.body());
        }

        double committedBefore = committedSamples();
        ingest(nodeA, metric, at, 19.5);
        await().atMost(WAIT).pollInterval(Duration.ofMillis(5)).until(() -> committedSamples() > committedBefore);
        long committed = System.nanoTime();
        for (GatewayRole node : List.of(nodeA, nodeB)) {
            await().atMost(WAIT).pollInterval(Duration.ofMillis(10))
                    .until(() -> get(node, query).body().contains("\"19.5\""));
            long afterCommit = (System.nanoTime() - committed) / 1_000_000;
            assertThat(afterCommit).as("ms from the commit until node %d answers with the sample",
                    node == nodeA ? 1 : 2).isLessThan(1_000);
        }
    }

    @Test
    void samplesTheWriterCommitsLateAfterAPostgresOutageInvalidateTheCachedRanges(TestInfrastructure infra)
            throws Exception {
        String metric = "ryw.outage";
        long at = System.currentTimeMillis() - Duration.ofMinutes(40).toMillis();
        String query = "/api/v1/query?metric=" + metric + "&agg=sum&step=1m&from="
                + Instant.ofEpochMilli(at).minus(Duration.ofMinutes(30)) + "&to="
                + Instant.ofEpochMilli(at).plus(Duration.ofMinutes(30));
        cachedEmptyOnBothNodes(query);
        double committedBefore = committedSamples();
        infra.postgres().stop();
        try {
            ingest(nodeA, metric, at, 7.25); // into Kafka: the writer cannot apply it while PostgreSQL is down
            HttpResponse<String> during = get(nodeB, query);
            assertThat(during.headers().firstValue("x-sluice-cache")).hasValue("hit");
            assertThat(during.body()).contains("\"series\":[]");
        } finally {
            infra.postgres().start();
        }
        // the writer catches up once PostgreSQL is back; its announcement drops the cached empty answers (their
        // backstop TTL is 10 min, so nothing else could), however soon each node's pool reconnects
        await().atMost(WAIT).until(() -> committedSamples() > committedBefore);
        for (GatewayRole node : List.of(nodeA, nodeB)) {
            await().atMost(WAIT).pollInterval(Duration.ofMillis(50))
                    .until(() -> get(node, query).body().contains("7.25"));
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------

    /** Asks the query on both nodes: an empty answer, cached (the second time a hit). */
    private static void cachedEmptyOnBothNodes(String query) throws Exception {
        for (GatewayRole node : List.of(nodeA, nodeB)) {
            HttpResponse<String> first = get(node, query);
            assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
            assertThat(first.body()).contains("\"series\":[]");
            assertThat(first.headers().firstValue("x-sluice-cache")).hasValue("miss");
            HttpResponse<String> second = get(node, query);
            assertThat(second.headers().firstValue("x-sluice-cache")).hasValue("hit");
            assertThat(second.body()).isEqualTo(first.body());
        }
    }

    private static double committedSamples() {
        Counter rows = writerMetrics.find("sluice_writer_rows").tag("table", "samples").counter();
        return rows == null ? 0 : rows.count();
    }

    private static void ingest(GatewayRole node, String metric, long timestamp, double value) throws Exception {
        String body = "{\"samples\":[{\"name\":\"" + metric + "\",\"labels\":{\"host\":\"a\"},\"timestamp\":"
                + timestamp + ",\"value\":" + value + "}]}";
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port()
                        + "/api/v1/ingest/metrics")).header("Authorization", "Bearer " + key)
                .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
        assertThat(response.body()).isEqualTo("{\"accepted\":1,\"rejected\":[]}");
    }

    private static HttpResponse<String> get(GatewayRole node, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + path))
                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
