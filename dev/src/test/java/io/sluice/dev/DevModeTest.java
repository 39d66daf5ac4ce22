package io.sluice.dev;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.admin.EndpointsFile;
import io.sluice.storage.chunks.SampleChunks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code sluice dev} end to end: its own embedded servers, the banner, endpoints.env, and a clean stop. */
class DevModeTest {

    @Test
    void devModeServesWritesEndpointsAndLeavesNoProcessBehind(@TempDir Path dir) throws Exception {
        SluiceConfig config = ConfigLoader.load(null, Map.of(),
                Map.of("server.port", "0", "dev.data-dir", dir.toString()));
        ByteArrayOutputStream banner = new ByteArrayOutputStream();
        long kafkaPid;
        long postgresPid;
        Map<String, String> endpoints;
        try (DevMode dev = DevMode.start(config, new PrintStream(banner, true, StandardCharsets.UTF_8))) {
            endpoints = EndpointsFile.read(dir.resolve("endpoints.env"));
            assertThat(endpoints).containsOnlyKeys("HTTP_URL", "KAFKA_BOOTSTRAP", "PG_URL", "DEV_API_KEY");
            assertThat(banner.toString(StandardCharsets.UTF_8))
                    .contains(endpoints.get("HTTP_URL"), endpoints.get("KAFKA_BOOTSTRAP"), endpoints.get("PG_URL"));

            HttpResponse<String> ready = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(endpoints.get("HTTP_URL") + "/health/ready"))
                            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).isEqualTo(200);
            HttpResponse<String> metrics = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(endpoints.get("HTTP_URL") + "/metrics"))
                            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.body()).as("the alerter runs in dev too").contains("sluice_alert_rules_claimed_total");

            // end to end: a sample posted with DEV_API_KEY is stored in PostgreSQL, readable through PG_URL
            HttpResponse<String> ingest = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(endpoints.get("HTTP_URL") + "/api/v1/ingest/metrics"))
                            .header("Authorization", "Bearer " + endpoints.get("DEV_API_KEY"))
                            .POST(HttpRequest.BodyPublishers.ofString(
                                    "{\"samples\":[{\"name\":\"e2e.check\",\"labels\":{\"k\":\"v\"},\"value\":7.25}]}"))
                            .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ingest.statusCode()).isEqualTo(202);
            String jdbc = "jdbc:" + endpoints.get("PG_URL").replace("postgresql://postgres@", "postgresql://");
            try (var c = DriverManager.getConnection(jdbc, "postgres", "")) {
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                    try (var rs = c.createStatement().executeQuery("SELECT s.data FROM sample_chunks s JOIN series r "
                            + "ON r.id = s.series_id WHERE r.tenant = 'dev' AND r.name = 'e2e.check'")) {
                        assertThat(rs.next()).isTrue();
                        List<Double> values = new ArrayList<>();
                        SampleChunks.decode(rs.getBytes(1), (ts, v) -> values.add(v));
                        assertThat(values).containsExactly(7.25);
                        assertThat(rs.next()).as("one chunk").isFalse();
                    }
                });
            }
            // and answers queries, from the raw chunk and from the writer's 1-minute rollup
            for (String step : List.of("10s", "1m")) {
                HttpResponse<String> query = HttpClient.newHttpClient().send(
                        HttpRequest.newBuilder(URI.create(endpoints.get("HTTP_URL") + "/api/v1/query?metric=e2e.check&step="
                                        + step + "&from=" + Instant.now().minus(Duration.ofMinutes(10)) + "&to="
                                        + Instant.now().plus(Duration.ofMinutes(1))))
                                .header("Authorization", "Bearer " + endpoints.get("DEV_API_KEY"))
                                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(query.statusCode()).as(query.body()).isEqualTo(200);
                assertThat(query.body()).contains(",7.25]]");
            }
            kafkaPid = Long.parseLong(Files.readString(dir.resolve("kafka/kafka.pid")).strip());
            postgresPid = Long.parseLong(Files.readAllLines(dir.resolve("postgres/data/postmaster.pid")).get(0).strip());
            assertThat(ProcessHandle.of(kafkaPid)).hasValueSatisfying(p -> assertThat(p.isAlive()).isTrue());
        }
        assertThat(alive(kafkaPid)).as("Kafka child stopped").isFalse();
        assertThat(alive(postgresPid)).as("postmaster stopped").isFalse();
        assertThat(dir.resolve("endpoints.env")).doesNotExist();

        // The next run keeps the key (scripts that saved it go on working), and short links follow its port.
        assertThat(dir.resolve("dev-api-key")).hasContent(endpoints.get("DEV_API_KEY"));
        try (DevMode again = DevMode.start(config, new PrintStream(new ByteArrayOutputStream(), true,
                StandardCharsets.UTF_8))) {
            assertThat(again.devApiKey()).isEqualTo(endpoints.get("DEV_API_KEY"));
            HttpResponse<String> link = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(again.httpUrl() + "/api/v1/links"))
                            .header("Authorization", "Bearer " + again.devApiKey())
                            .POST(HttpRequest.BodyPublishers.ofString("{\"url\":\"https://example.com/\"}"))
                            .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(link.statusCode()).as(link.body()).isEqualTo(201);
            assertThat(link.body()).as("links.base-url follows the port dev listens on")
                    .contains("\"short_url\":\"" + again.httpUrl() + "/");
        }
    }

    private static boolean alive(long pid) {
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        return handle.isPresent() && handle.get().isAlive();
    }
}
