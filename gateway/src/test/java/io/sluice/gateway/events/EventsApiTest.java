package io.sluice.gateway.events;

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
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Events ingested over HTTP, stored once per id by the real writer, read back through {@code GET /api/v1/events}. */
@RealInfrastructure
class EventsApiTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Pattern ID = Pattern.compile("\"id\":\"([^\"]+)\"");
    private static final Pattern CURSOR = Pattern.compile("\"next_cursor\":\"([^\"]+)\"");
    private static GatewayRole sluice;
    private static WriterRole writer;
    private static String key;
    private static String otherKey;
    private static long base;

    @BeforeAll
    static void start(TestInfrastructure infra) throws Exception {
        sluice = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "tenants.free.requests-per-minute", "100000"))));
        writer = WriterRole.start(sluice.config(), new SimpleMeterRegistry());
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        key = KeysCommand.create(keys, "ev-a-" + suffix, Tier.FREE);
        otherKey = KeysCommand.create(keys, "ev-b-" + suffix, Tier.FREE);
        base = System.currentTimeMillis() - 20 * 60_000;
        StringBuilder body = new StringBuilder("{\"events\": [");
        for (int i = 0; i < 5; i++) {
            body.append(i == 0 ? "" : ",").append("{\"id\": \"e-").append(i).append("\", \"type\": \"")
                    .append(i % 2 == 0 ? "deploy" : "alert").append("\", \"key\": \"").append(i < 3 ? "api" : "db")
                    .append("\", \"timestamp\": ").append(base + i * 60_000L)
                    .append(", \"attributes\": {\"copy\": \"first\", \"n\": \"").append(i).append("\"}}");
        }
        body.append("]}");
        assertThat(post(key, body.toString()).statusCode()).isEqualTo(202);
        // a resend of e-1 and e-3 with other timestamps and attributes, and e-5 new
        assertThat(post(key, "{\"events\": [{\"id\": \"e-1\", \"type\": \"alert\", \"key\": \"api\", \"timestamp\": "
                + (base + 7 * 60_000) + ", \"attributes\": {\"copy\": \"resent\"}}, {\"id\": \"e-3\", \"type\": \"alert\", "
                + "\"key\": \"db\", \"timestamp\": " + (base + 30_000) + ", \"attributes\": {\"copy\": \"resent\"}}, "
                + "{\"id\": \"e-5\", \"type\": \"deploy\", \"key\": \"db\", \"timestamp\": " + (base + 5 * 60_000)
                + ", \"attributes\": {}}]}").statusCode()).isEqualTo(202);
        assertThat(post(otherKey, "{\"events\": [{\"id\": \"e-1\", \"type\": \"deploy\", \"timestamp\": " + base + "}]}")
                .statusCode()).isEqualTo(202);
        await().atMost(WAIT).untilAsserted(() -> assertThat(ids(get(key, "limit=1000").body())).hasSize(6));
    }

    @AfterAll
    static void stop() {
        writer.close();
        sluice.close();
    }

    @Test
    void resentEventsAreStoredOnceTheFirstCopyWinningWhateverTheirTimestamp() throws Exception {
        HttpResponse<String> all = get(key, "");
        assertThat(all.statusCode()).isEqualTo(200);
        assertThat(ids(all.body())).containsExactly("e-0", "e-1", "e-2", "e-3", "e-4", "e-5");
        assertThat(all.body()).contains("{\"id\":\"e-1\",\"type\":\"alert\",\"timestamp\":" + (base + 60_000)
                + ",\"key\":\"api\",\"attributes\":{\"n\": \"1\", \"copy\": \"first\"}}").doesNotContain("resent");
        assertThat(all.body()).contains("\"next_cursor\":null");
        // the other tenant's e-1 is its own
        assertThat(ids(get(otherKey, "").body())).containsExactly("e-1");
    }

    @Test
    void pagesFollowTheCursorInTimeOrder() throws Exception {
        List<String> seen = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            HttpResponse<String> page = get(key, "limit=4" + (cursor == null ? "" : "&cursor=" + cursor));
            assertThat(page.statusCode()).as(page.body()).isEqualTo(200);
            seen.addAll(ids(page.body()));
            Matcher m = CURSOR.matcher(page.body());
            cursor = m.find() ? m.group(1) : null;
            pages++;
        } while (cursor != null);
        assertThat(seen).containsExactly("e-0", "e-1", "e-2", "e-3", "e-4", "e-5");
        assertThat(pages).isEqualTo(2);
    }

    @Test
    void typeKeyAndTimeFilter() throws Exception {
        assertThat(ids(get(key, "type=deploy").body())).containsExactly("e-0", "e-2", "e-4", "e-5");
        assertThat(ids(get(key, "type=deploy&key=db").body())).containsExactly("e-4", "e-5");
        assertThat(ids(get(key, "from=" + (base + 2 * 60_000) + "&to=" + (base + 4 * 60_000)).body()))
                .containsExactly("e-2", "e-3");
        assertThat(ids(get(key, "type=nothing").body())).isEmpty();
    }

    @Test
    void badParametersAre400AndNamed() throws Exception {
        for (String[] bad : new String[][] {{"limit=0", "invalid_query"}, {"limit=x", "invalid_query"},
                {"limit=1001", "invalid_query"}, {"cursor=!!!", "invalid_cursor"}, {"cursor=bm8", "invalid_cursor"},
                {"cursor=" + b64("99999999999999999|x"), "invalid_cursor"}, {"type=a%00b", "invalid_query"},
                {"from=yesterday", "invalid_query"}, {"from=" + base + "&to=" + base, "invalid_query"},
                {"type=a&type=b", "invalid_query"}}) {
            HttpResponse<String> response = get(key, bad[0]);
            assertThat(response.statusCode()).as(bad[0] + " → " + response.body()).isEqualTo(400);
            assertThat(response.body()).as(bad[0]).contains("\"code\":\"" + bad[1] + "\"");
        }
        assertThat(get(null, "").statusCode()).isEqualTo(401);
    }

    private static String b64(String s) {
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static List<String> ids(String body) {
        return ID.matcher(body).results().map(r -> r.group(1)).toList();
    }

    private static HttpResponse<String> post(String apiKey, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + "/api/v1/ingest/events"))
                .header("Authorization", "Bearer " + apiKey).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(String apiKey, String query) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port()
                + "/api/v1/events" + (query.isEmpty() ? "" : "?" + query))).timeout(Duration.ofSeconds(30));
        if (apiKey != null) {
            request.header("Authorization", "Bearer " + apiKey);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

}
