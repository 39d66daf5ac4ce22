package io.sluice.gateway.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.gateway.app.SluiceProcess;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Every query of the Grafana dashboard ({@code config/grafana/sluice-dashboard.json}) names only metrics that a
 * real process serving both roles exposes on {@code /metrics}, once a little traffic (ingest, a rejection, a link
 * and its redirect, a query, the writer applying the samples) has made the meters that appear on first use.
 */
@RealInfrastructure
class DashboardMetricsTest {

    private static final Path DASHBOARD = Path.of("..", "config", "grafana", "sluice-dashboard.json");
    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
            .followRedirects(HttpClient.Redirect.NEVER).build();
    private static final Duration WAIT = Duration.ofSeconds(60);

    private static SluiceProcess process;
    private static int port;
    private static JsonNode dashboard;
    /** Sample names of the scrape, after the traffic. */
    private static Set<String> exposed;

    @BeforeAll
    static void start(TestInfrastructure infra) throws Exception {
        dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
        // as serve starts it, with both roles: the writer's meters are in the process's one registry too
        process = SluiceProcess.start(infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "links.base-url", "http://sho.rt"))));
        port = process.gateway().orElseThrow().port();
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), "dashboard", Tier.FREE);
        String metric = "dashboard_probe_" + System.nanoTime();

        long now = System.currentTimeMillis();
        HttpResponse<String> ingest = send("POST", "/api/v1/ingest/metrics", key, "{\"samples\": ["
                + "{\"name\": \"" + metric + "\", \"labels\": {\"host\": \"a\"}, \"timestamp\": " + now + ", \"value\": 1},"
                + "{\"name\": \"" + metric + "\", \"timestamp\": " + (now - Duration.ofDays(2).toMillis()) + ", \"value\": 2}]}");
        assertThat(ingest.statusCode()).as(ingest.body()).isEqualTo(202);
        assertThat(ingest.body()).contains("\"accepted\":1", "too_old");

        HttpResponse<String> link = send("POST", "/api/v1/links", key, "{\"url\": \"https://example.com/x\"}");
        assertThat(link.statusCode()).as(link.body()).isEqualTo(201);
        Matcher code = Pattern.compile("\"code\":\"([^\"]+)\"").matcher(link.body());
        assertThat(code.find()).isTrue();
        assertThat(send("GET", "/" + code.group(1), null, null).statusCode()).isEqualTo(302);

        HttpResponse<String> query = send("GET", "/api/v1/query?metric=" + metric + "&step=1m", key, null);
        assertThat(query.statusCode()).as(query.body()).isEqualTo(200);
        await().atMost(WAIT).untilAsserted(() -> assertThat(scrape())
                .as("the writer applied the sample").containsPattern("(?m)^sluice_writer_rows_total\\{[^}]*table=\"samples\"[^}]*} [1-9]"));
        // sluice_postgres_call_failures_total appears with the first failed call: PostgreSQL stopped for a moment
        infra.postgres().stop();
        try {
            assertThat(send("GET", "/health/ready", null, null).statusCode()).isEqualTo(503);
        } finally {
            infra.postgres().start();
        }
        await().atMost(WAIT).untilAsserted(() -> assertThat(send("GET", "/health/ready", null, null).statusCode())
                .isEqualTo(200));
        exposed = sampleNames(scrape());
    }

    @AfterAll
    static void stop() {
        if (process != null) {
            process.close();
        }
    }

    @Test
    void everyQueryNamesOnlyMetricsTheProcessExposes() {
        Map<String, List<String>> missing = new LinkedHashMap<>();
        for (Map.Entry<String, String> query : queries().entrySet()) {
            for (PromQlSelectors.Selector s : PromQlSelectors.of(query.getValue())) {
                if (!exposed.contains(s.metric())) {
                    missing.computeIfAbsent(query.getKey(), k -> new ArrayList<>()).add(s.metric());
                }
            }
        }
        assertThat(missing).as("metrics not on /metrics (it has: %s)", sluiceNames()).isEmpty();
    }

    @Test
    void everyPanelQuerySelectsMetricsAndFiltersByTheJobAndInstanceVariables() {
        for (Map.Entry<String, String> query : queries().entrySet()) {
            if (query.getKey().startsWith("variable ")) {
                continue;
            }
            List<PromQlSelectors.Selector> selectors = PromQlSelectors.of(query.getValue());
            assertThat(selectors).as(query.getKey()).isNotEmpty();
            assertThat(selectors).as(query.getKey()).allSatisfy(s -> assertThat(s.matchers())
                    .contains("job=~\"$job\"", "instance=~\"$instance\""));
        }
    }

    @Test
    void panelsHaveTitlesUniqueIdsAndThePrometheusDatasourceVariable() {
        Set<Integer> ids = new HashSet<>();
        for (JsonNode panel : panels()) {
            String title = panel.path("title").asText("");
            assertThat(title).as("panel %s has a title", panel.path("id")).isNotBlank();
            assertThat(panel.path("id").isInt()).as("%s: numeric id", title).isTrue();
            assertThat(ids.add(panel.path("id").asInt())).as("%s: id %s unique", title, panel.path("id")).isTrue();
            assertThat(panel.path("gridPos").path("w").asInt()).as("%s: has a place on the grid", title).isPositive();
            if (panel.path("type").asText().equals("row")) {
                assertThat(panel.path("targets").size()).as("%s: a row holds no queries", title).isZero();
                continue;
            }
            assertThat(panel.path("datasource").path("uid").asText()).as("%s: datasource", title)
                    .isEqualTo("${datasource}");
            assertThat(panel.path("targets").size()).as("%s: has queries", title).isPositive();
            for (JsonNode target : panel.path("targets")) {
                assertThat(target.path("datasource").path("uid").asText()).as("%s: target datasource", title)
                        .isEqualTo("${datasource}");
                assertThat(target.path("expr").asText()).as("%s: target has a query", title).isNotBlank();
            }
        }
        Map<String, JsonNode> variables = new LinkedHashMap<>();
        dashboard.path("templating").path("list").forEach(v -> variables.put(v.path("name").asText(), v));
        assertThat(variables).containsKeys("datasource", "job", "instance");
        assertThat(variables.get("datasource").path("type").asText()).isEqualTo("datasource");
        assertThat(variables.get("datasource").path("query").asText()).isEqualTo("prometheus");
        for (String name : List.of("job", "instance")) {
            assertThat(variables.get(name).path("datasource").path("uid").asText()).as(name).isEqualTo("${datasource}");
        }
    }

    @Test
    void theDashboardShowsWhatOperatorsNeed() {
        Set<String> used = new TreeSet<>();
        List<String> exprs = new ArrayList<>(queries().values());
        exprs.forEach(e -> PromQlSelectors.of(e).forEach(s -> used.add(s.metric())));
        assertThat(used).contains(
                "sluice_ingest_accepted_total", "sluice_ingest_rejected_total", "sluice_sink_segments_total",
                "sluice_kafka_send_latency_seconds", "sluice_spool_bytes", "sluice_kafka_breaker_state",
                "sluice_writer_breaker_state", "sluice_links_breaker_state", "sluice_writer_lag",
                "sluice_writer_rows_total", "sluice_writer_dead_letters_total", "sluice_http_server_requests_seconds_count",
                "cache_gets_total");
        assertThat(exprs).as("redirect rate and latency").anyMatch(e -> e.contains("route=\"/{code}\""));
        assertThat(exprs).as("query cache hit ratio").anyMatch(e -> e.contains("cache=\"queries\"")
                && e.contains("result=\"hit\""));
    }

    /** Every PromQL query of the dashboard: panel targets ("title #refId") and template variables. */
    private static Map<String, String> queries() {
        Map<String, String> queries = new LinkedHashMap<>();
        for (JsonNode panel : panels()) {
            for (JsonNode target : panel.path("targets")) {
                queries.put(panel.path("title").asText() + " #" + target.path("refId").asText(),
                        target.path("expr").asText());
            }
        }
        Pattern labelValues = Pattern.compile("label_values\\((.+),\\s*[A-Za-z_][A-Za-z0-9_]*\\s*\\)");
        for (JsonNode variable : dashboard.path("templating").path("list")) {
            if (variable.path("type").asText().equals("query")) {
                JsonNode q = variable.path("query");
                String text = q.isObject() ? q.path("query").asText() : q.asText();
                Matcher m = labelValues.matcher(text);
                assertThat(m.matches()).as("variable %s: label_values(selector, label)", variable.path("name")).isTrue();
                queries.put("variable " + variable.path("name").asText(), m.group(1));
            }
        }
        assertThat(queries).isNotEmpty();
        return queries;
    }

    private static List<JsonNode> panels() {
        List<JsonNode> panels = new ArrayList<>();
        for (JsonNode panel : dashboard.path("panels")) {
            panels.add(panel);
            panel.path("panels").forEach(panels::add); // panels of a collapsed row
        }
        return panels;
    }

    private static Set<String> sluiceNames() {
        return new TreeSet<>(exposed.stream().filter(n -> n.startsWith("sluice_") || n.startsWith("cache_")).toList());
    }

    /** The names of the samples of a Prometheus text scrape (what a PromQL selector matches). */
    static Set<String> sampleNames(String scrape) {
        Set<String> names = new HashSet<>();
        for (String line : scrape.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int end = 0;
            while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
                end++;
            }
            names.add(line.substring(0, end));
        }
        return names;
    }

    private static String scrape() throws IOException, InterruptedException {
        HttpResponse<String> response = send("GET", "/metrics", null, null);
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    private static HttpResponse<String> send(String method, String path, String key, String body)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
