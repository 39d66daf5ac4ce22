package io.sluice.gateway.links;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.spi.Connection;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.RawHttp;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.sluice.storage.writer.WriterRole;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Short links on real Kafka and PostgreSQL, with two gateway nodes. */
@RealInfrastructure
class LinksTest {

    private static final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static TestInfrastructure infra;
    private static GatewayRole nodeA;
    private static GatewayRole nodeB;
    private static GatewayRole nodeC;
    private static String key;
    private static String otherKey;

    @BeforeAll
    static void start(TestInfrastructure infrastructure) {
        infra = infrastructure;
        // clicks sent every 200 ms rather than every 10 s: the tests wait for them in PostgreSQL
        Map<String, String> a = new HashMap<>(Map.of("server.port", "0", "tenants.free.requests-per-minute", "100000",
                "links.base-url", "http://sho.rt", "links.click-flush-interval", "200ms"));
        nodeA = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), a)));
        nodeB = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), a)));
        Map<String, String> c = new HashMap<>(a);
        c.put("links.redirects-per-minute-per-client", "40");
        nodeC = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), c)));
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        key = KeysCommand.create(keys, "links-a", Tier.FREE);
        otherKey = KeysCommand.create(keys, "links-b", Tier.FREE);
    }

    @AfterAll
    static void stop() {
        nodeA.close();
        nodeB.close();
        nodeC.close();
    }

    @Test
    void createResolveExpireAndDelete() throws Exception {
        HttpResponse<String> created = api(nodeA, "POST", "/api/v1/links", key, "{\"url\":\"https://example.com/landing?x=1\"}");
        assertThat(created.statusCode()).isEqualTo(201);
        String code = field(created.body(), "code");
        assertThat(code).matches("[0-9A-Za-z]{7,8}");
        assertThat(created.body()).contains("\"short_url\":\"http://sho.rt/" + code + "\"", "\"redirect\":302",
                "\"expires_at\":null");

        HttpResponse<String> redirect = get(nodeA, "/" + code + "?next=https://evil.example", Map.of());
        assertThat(redirect.statusCode()).isEqualTo(302);
        assertThat(redirect.headers().firstValue("location")).hasValue("https://example.com/landing?x=1");
        assertThat(redirect.headers().firstValue("cache-control")).hasValue("private, max-age=0");

        assertThat(api(nodeA, "GET", "/api/v1/links/" + code, otherKey, null).statusCode()).as("other tenant").isEqualTo(404);
        assertThat(api(nodeA, "GET", "/api/v1/links/" + code, key, null).body()).contains("\"code\":\"" + code + "\"");

        HttpResponse<String> expired = api(nodeA, "PATCH", "/api/v1/links/" + code, key,
                "{\"expires_at\":\"" + Instant.now().minusSeconds(1) + "\"}");
        assertThat(expired.statusCode()).isEqualTo(200);
        assertThat(get(nodeA, "/" + code, Map.of()).statusCode()).isEqualTo(410);
        assertThat(get(nodeA, "/" + code, Map.of("Accept", "text/html")).body()).contains("<h1>Link expired</h1>");

        assertThat(api(nodeA, "DELETE", "/api/v1/links/" + code, key, null).statusCode()).isEqualTo(204);
        HttpResponse<String> gone = get(nodeA, "/" + code, Map.of());
        assertThat(gone.statusCode()).isEqualTo(404);
        assertThat(gone.body()).contains("\"code\":\"not_found\"");
    }

    @Test
    void aliasesRedirectStatusesAndTheirCacheHeaders() throws Exception {
        HttpResponse<String> created = api(nodeA, "POST", "/api/v1/links", key,
                "{\"url\":\"https://example.com/p\",\"alias\":\"perm-link\",\"redirect\":308}");
        assertThat(created.statusCode()).isEqualTo(201);
        HttpResponse<String> redirect = get(nodeA, "/perm-link", Map.of());
        assertThat(redirect.statusCode()).isEqualTo(308);
        assertThat(redirect.headers().firstValue("cache-control")).hasValue("public, max-age=300");
        HttpResponse<String> taken = api(nodeA, "POST", "/api/v1/links", otherKey,
                "{\"url\":\"https://example.com/q\",\"alias\":\"perm-link\"}");
        assertThat(taken.statusCode()).isEqualTo(409);
        assertThat(taken.body()).contains("alias_taken");
    }

    @Test
    void badUrlsAndInjectionAttemptsAreRefusedClearly() throws Exception {
        for (String body : new String[] {
                "{\"url\":\"https://example.com/\\r\\nSet-Cookie: a=b\"}",
                "{\"url\":\"javascript:alert(1)\"}",
                "{\"url\":\"http://sho.rt/loop\"}",
                "{\"url\":\"https://example.com\",\"alias\":\"api\"}",
                "{\"url\":\"https://example.com\",\"redirect\":303}",
                "{\"url\":\"https://example.com\",\"expires_at\":\"2001-01-01T00:00:00Z\"}",
                "{\"url\":\"https://example.com\",\"colour\":\"blue\"}",
                "not json"}) {
            HttpResponse<String> response = api(nodeA, "POST", "/api/v1/links", key, body);
            assertThat(response.statusCode()).as(body).isEqualTo(400);
            assertThat(response.body()).as(body).contains("\"error\":{\"status\":400,\"code\":\"");
        }
        assertThat(get(nodeA, "/health/live", Map.of()).statusCode()).isEqualTo(200);
    }

    @Test
    void listingIsPaginatedPerTenant() throws Exception {
        for (int i = 0; i < 5; i++) {
            api(nodeA, "POST", "/api/v1/links", otherKey, "{\"url\":\"https://example.com/" + i + "\"}");
        }
        HttpResponse<String> page1 = api(nodeA, "GET", "/api/v1/links?limit=3", otherKey, null);
        assertThat(count(page1.body(), "\"code\":")).isEqualTo(3);
        String cursor = field(page1.body(), "next_cursor");
        HttpResponse<String> page2 = api(nodeA, "GET", "/api/v1/links?limit=3&cursor=" + cursor, otherKey, null);
        assertThat(count(page2.body(), "\"code\":")).isGreaterThanOrEqualTo(2);
        assertThat(page2.body()).doesNotContain(field(page1.body(), "code"));
    }

    @Test
    void cachedLinksRedirectWhilePostgresIsDown() throws Exception {
        String cached = field(api(nodeA, "POST", "/api/v1/links", key, "{\"url\":\"https://example.com/up\"}").body(), "code");
        // created on another node: nodeA has never seen it
        String uncached = field(api(nodeB, "POST", "/api/v1/links", key, "{\"url\":\"https://example.com/cold\"}").body(), "code");
        assertThat(get(nodeA, "/" + cached, Map.of()).statusCode()).isEqualTo(302);
        infra.postgres().stop();
        try {
            HttpResponse<String> fromCache = get(nodeA, "/" + cached, Map.of());
            assertThat(fromCache.statusCode()).isEqualTo(302);
            assertThat(fromCache.headers().firstValue("location")).hasValue("https://example.com/up");
            HttpResponse<String> cold = get(nodeA, "/" + uncached, Map.of());
            assertThat(cold.statusCode()).isEqualTo(503);
            assertThat(cold.headers().firstValue("retry-after")).isPresent();
        } finally {
            infra.postgres().start();
        }
    }

    @Test
    void anUpdateOrDeleteOnOneNodeInvalidatesTheOther() throws Exception {
        String code = field(api(nodeA, "POST", "/api/v1/links", key, "{\"url\":\"https://example.com/v1\"}").body(), "code");
        assertThat(get(nodeB, "/" + code, Map.of()).headers().firstValue("location")).hasValue("https://example.com/v1");
        assertThat(api(nodeA, "PATCH", "/api/v1/links/" + code, key, "{\"url\":\"https://example.com/v2\"}").statusCode())
                .isEqualTo(200);
        await().atMost(WAIT).untilAsserted(() -> assertThat(get(nodeB, "/" + code, Map.of()).headers()
                .firstValue("location")).hasValue("https://example.com/v2"));
        assertThat(api(nodeA, "DELETE", "/api/v1/links/" + code, key, null).statusCode()).isEqualTo(204);
        await().atMost(WAIT).untilAsserted(() -> assertThat(get(nodeB, "/" + code, Map.of()).statusCode()).isEqualTo(404));
    }

    @Test
    void aClientOverItsRedirectBudgetGets429() throws Exception {
        String code = field(api(nodeA, "POST", "/api/v1/links", key, "{\"url\":\"https://example.com/hot\"}").body(), "code");
        int ok = 0;
        HttpResponse<String> refused = null;
        for (int i = 0; i < 60 && refused == null; i++) {
            HttpResponse<String> r = get(nodeC, "/" + code, Map.of());
            if (r.statusCode() == 429) {
                refused = r;
            } else {
                ok++;
            }
        }
        assertThat(refused).isNotNull();
        assertThat(ok).isLessThanOrEqualTo(45);
        assertThat(refused.headers().firstValue("retry-after")).isPresent();
    }

    @Test
    void connectionsFromOneAddressShareItsRedirectBudget() throws Exception {
        // each connection keeps the address's bucket it looked up: it must be the one bucket of the address
        String code = field(api(nodeA, "POST", "/api/v1/links", key, "{\"url\":\"https://example.com/shared\"}").body(),
                "code");
        List<RawHttp> connections = List.of(new RawHttp(nodeC.port()), new RawHttp(nodeC.port()),
                new RawHttp(nodeC.port()));
        try {
            int ok = 0;
            boolean refused = false;
            for (int i = 0; i < 150 && !refused; i++) {
                RawHttp.Response r = connections.get(i % 3).send("GET", "/" + code, Map.of(), null);
                if (r.status() == 429) {
                    refused = true;
                } else {
                    assertThat(r.status()).isEqualTo(302);
                    ok++;
                }
            }
            assertThat(refused).isTrue();
            assertThat(ok).isLessThanOrEqualTo(45); // 40 a minute (plus what refilled meanwhile), not 40 a connection
            try (RawHttp fresh = new RawHttp(nodeC.port())) {
                assertThat(fresh.send("GET", "/" + code, Map.of(), null).status()).isEqualTo(429);
            }
        } finally {
            for (RawHttp c : connections) {
                c.close();
            }
        }
    }

    @Test
    void clicksAreCountedExactlyAcrossAWriterRestart() throws Exception {
        String code = field(api(nodeA, "POST", "/api/v1/links", key, "{\"url\":\"https://example.com/clicks\"}").body(), "code");
        WriterRole writer = WriterRole.start(nodeA.config(), new SimpleMeterRegistry());
        try {
            for (int i = 0; i < 30; i++) {
                assertThat(get(nodeA, "/" + code, Map.of("User-Agent", i % 3 == 0 ? "Googlebot/2.1" : "Mozilla/5.0",
                        "Referer", "https://news.example.org/item?id=" + i)).statusCode()).isEqualTo(302);
            }
            await().atMost(WAIT).untilAsserted(() -> assertThat(clicks(code)).containsExactly(30, 10));
        } finally {
            writer.close();
        }
        for (int i = 0; i < 20; i++) {
            assertThat(get(nodeA, "/" + code, Map.of("User-Agent", "Mozilla/5.0")).statusCode()).isEqualTo(302);
        }
        WriterRole again = WriterRole.start(nodeA.config(), new SimpleMeterRegistry());
        try {
            await().atMost(WAIT).untilAsserted(() -> assertThat(clicks(code)).containsExactly(50, 10));
            HttpResponse<String> stats = api(nodeA, "GET", "/api/v1/links/" + code + "/stats?step=1h", key, null);
            assertThat(stats.statusCode()).isEqualTo(200);
            Matcher m = Pattern.compile("\"clicks\":\\[(.*?)]]").matcher(stats.body());
            assertThat(m.find()).isTrue();
            long total = Pattern.compile(",(\\d+)]").matcher(m.group(1) + "]").results()
                    .mapToLong(r -> Long.parseLong(r.group(1))).sum();
            assertThat(total).isEqualTo(50);
        } finally {
            again.close();
        }
        assertThat(nodeA.meterRegistry().get("sluice_clicks").tag("outcome", "dropped_queue_full").counter().count()).isZero();
    }

    @Test
    void aBurstOfClicksOnOneLinkIsCountedExactly() throws Exception {
        // concurrent redirects land in the same flushes, which send them as a few events with counts
        String code = field(api(nodeA, "POST", "/api/v1/links", key, "{\"url\":\"https://example.com/burst\"}").body(), "code");
        WriterRole writer = WriterRole.start(nodeA.config(), new SimpleMeterRegistry());
        try {
            List<CompletableFuture<HttpResponse<Void>>> answers = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                answers.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + nodeA.port() + "/" + code))
                        .header("User-Agent", i % 4 == 0 ? "Googlebot/2.1" : "Mozilla/5.0").GET().build(),
                        HttpResponse.BodyHandlers.discarding()));
            }
            for (CompletableFuture<HttpResponse<Void>> a : answers) {
                assertThat(a.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(302);
            }
            await().atMost(WAIT).untilAsserted(() -> assertThat(clicks(code)).containsExactly(200, 50));
        } finally {
            writer.close();
        }
    }

    @Test
    void clicksAreSummedUntilTheFlushIntervalAndSentWhenTheGatewayStops() throws Exception {
        GatewayRole slow = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "links.base-url", "http://sho.rt", "links.click-flush-interval", "1m"))));
        String code;
        try {
            code = field(api(slow, "POST", "/api/v1/links", key, "{\"url\":\"https://example.com/summed\"}").body(),
                    "code");
            for (int i = 0; i < 20; i++) {
                assertThat(get(slow, "/" + code, Map.of("User-Agent", i % 2 == 0 ? "Googlebot/2.1" : "Mozilla/5.0"))
                        .statusCode()).isEqualTo(302);
            }
            // drained from the queue and summed, but the interval (1 min) is not up: nothing has gone to Kafka
            await().atMost(WAIT).untilAsserted(() -> assertThat(
                    slow.meterRegistry().get("sluice_clicks_pending").gauge().value()).isEqualTo(20));
            assertThat(slow.meterRegistry().get("sluice_clicks_queued").gauge().value()).isZero();
            assertThat(slow.meterRegistry().get("sluice_clicks").tag("outcome", "sent").counter().count()).isZero();
        } finally {
            slow.close();
        }
        // stopping sends what was summed
        await().atMost(WAIT).untilAsserted(() -> assertThat(
                slow.meterRegistry().get("sluice_clicks").tag("outcome", "sent").counter().count()).isEqualTo(20));
        assertThat(slow.meterRegistry().get("sluice_clicks").tag("outcome", "dropped_send_failed").counter().count())
                .isZero();
        WriterRole writer = WriterRole.start(nodeA.config(), new SimpleMeterRegistry());
        try {
            await().atMost(WAIT).untilAsserted(() -> assertThat(clicks(code)).containsExactly(20, 10));
        } finally {
            writer.close();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------

    private static long[] clicks(String code) {
        return Mono.usingWhen(infra.connectionFactory().create(), (Connection c) -> Flux.from(c.createStatement(
                                "SELECT coalesce(sum(clicks), 0)::bigint, coalesce(sum(bots), 0)::bigint FROM link_clicks WHERE code = $1")
                        .bind("$1", code).execute())
                .flatMap(r -> r.map(row -> new long[] {row.get(0, Long.class), row.get(1, Long.class)})).single(),
                Connection::close).block(WAIT);
    }

    private static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":\"([^\"]*)\"").matcher(json);
        assertThat(m.find()).as(name + " in " + json).isTrue();
        return m.group(1);
    }

    private static int count(String s, String needle) {
        int n = 0;
        for (int i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }

    private static HttpResponse<String> get(GatewayRole node, String path, Map<String, String> headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + path))
                .timeout(WAIT);
        headers.forEach(request::header);
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> api(GatewayRole node, String method, String path, String apiKey, String body)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.port() + path))
                .timeout(WAIT).header("Authorization", "Bearer " + apiKey)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
