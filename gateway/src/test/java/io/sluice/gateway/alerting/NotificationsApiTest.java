package io.sluice.gateway.alerting;

import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

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

/** The receivers, routes and silences APIs on a real gateway: CRUD, validation (400s naming the field), tenants. */
@RealInfrastructure
class NotificationsApiTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static GatewayRole gateway;
    private static String key;
    private static String otherKey;
    private static ApiKeyStore keys;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        Map<String, String> settings = new HashMap<>(Map.of("server.port", "0",
                "tenants.free.requests-per-minute", "100000", "alerting.max-receivers-per-tenant", "3",
                "alerting.max-routes-per-tenant", "2", "alerting.max-silence-text-length", "20",
                "alerting.max-receiver-headers", "2", "alerting.max-receiver-header-value-length", "16",
                "alerting.max-receiver-url-length", "40"));
        gateway = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), settings)));
        keys = new ApiKeyStore(infra.connectionFactory());
        key = KeysCommand.create(keys, "notify-a", Tier.FREE);
        otherKey = KeysCommand.create(keys, "notify-b", Tier.FREE);
    }

    @AfterAll
    static void stop() {
        gateway.close();
    }

    @Test
    void receiversAreCreatedReadUpdatedAndDeletedWithinTheirTenant() throws Exception {
        HttpResponse<String> created = api("POST", "/api/v1/alerts/receivers", key, "{\"name\":\"ops\","
                + "\"kind\":\"alertmanager\",\"url\":\"https://hooks.example.com/am\","
                + "\"headers\":{\"Authorization\":\"Bearer s3cret\"}}");
        assertThat(created.statusCode()).isEqualTo(201);
        assertThat(created.body()).contains("\"name\":\"ops\"", "\"kind\":\"alertmanager\"",
                "\"headers\":[\"Authorization\"]", "\"send_resolved\":true").doesNotContain("s3cret");
        assertThat(api("POST", "/api/v1/alerts/receivers", key, "{\"name\":\"ops\",\"kind\":\"webhook\","
                + "\"url\":\"http://x.example\"}").statusCode()).isEqualTo(409);
        assertThat(api("GET", "/api/v1/alerts/receivers", key, null).body()).contains("\"name\":\"ops\"");
        assertThat(api("GET", "/api/v1/alerts/receivers", otherKey, null).body()).isEqualTo("{\"receivers\":[]}");

        assertThat(api("GET", "/api/v1/alerts/receivers/ops", otherKey, null).statusCode()).isEqualTo(404);
        assertThat(api("PUT", "/api/v1/alerts/receivers/ops", otherKey, "{\"kind\":\"webhook\","
                + "\"url\":\"http://x.example\"}").statusCode()).isEqualTo(404);
        assertThat(api("DELETE", "/api/v1/alerts/receivers/ops", otherKey, null).statusCode()).isEqualTo(404);

        HttpResponse<String> updated = api("PUT", "/api/v1/alerts/receivers/ops", key, "{\"kind\":\"webhook\","
                + "\"url\":\"http://x.example/hook\",\"send_resolved\":false}");
        assertThat(updated.statusCode()).isEqualTo(200);
        assertThat(updated.body()).contains("\"kind\":\"webhook\"", "\"headers\":[]", "\"send_resolved\":false");
        assertThat(api("GET", "/api/v1/alerts/receivers/ops", key, null).body()).contains("http://x.example/hook");

        // a receiver a route names cannot be deleted
        assertThat(api("PUT", "/api/v1/alerts/routes", key, "{\"routes\":[{\"receiver\":\"ops\"}]}").statusCode())
                .isEqualTo(200);
        HttpResponse<String> inUse = api("DELETE", "/api/v1/alerts/receivers/ops", key, null);
        assertThat(inUse.statusCode()).isEqualTo(409);
        assertThat(inUse.body()).contains("receiver_in_use");
        assertThat(api("PUT", "/api/v1/alerts/routes", key, "{\"routes\":[]}").statusCode()).isEqualTo(200);
        assertThat(api("DELETE", "/api/v1/alerts/receivers/ops", key, null).statusCode()).isEqualTo(204);
        assertThat(api("GET", "/api/v1/alerts/receivers/ops", key, null).statusCode()).isEqualTo(404);
    }

    @Test
    void routesAreReplacedAsAWholeWithDefaultsFromSettings() throws Exception {
        api("POST", "/api/v1/alerts/receivers", otherKey, "{\"name\":\"pager\",\"kind\":\"alertmanager\","
                + "\"url\":\"http://pager.example\"}");
        api("POST", "/api/v1/alerts/receivers", otherKey, "{\"name\":\"chat\",\"kind\":\"webhook\","
                + "\"url\":\"http://chat.example\"}");
        HttpResponse<String> put = api("PUT", "/api/v1/alerts/routes", otherKey, "{\"routes\":["
                + "{\"matchers\":[{\"name\":\"severity\",\"op\":\"=\",\"value\":\"critical\"}],\"receiver\":\"pager\","
                + "\"group_by\":[\"alertname\",\"cluster\"],\"group_wait\":\"10s\",\"continue\":true},"
                + "{\"receiver\":\"chat\"}]}");
        assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
        String routes = api("GET", "/api/v1/alerts/routes", otherKey, null).body();
        assertThat(routes).isEqualTo("{\"routes\":["
                + "{\"matchers\":[{\"name\":\"severity\",\"op\":\"=\",\"value\":\"critical\"}],\"receiver\":\"pager\","
                + "\"group_by\":[\"alertname\",\"cluster\"],\"group_wait\":\"10000ms\",\"group_interval\":\"300000ms\","
                + "\"repeat_interval\":\"14400000ms\",\"continue\":true},"
                + "{\"matchers\":[],\"receiver\":\"chat\",\"group_by\":[\"alertname\"],\"group_wait\":\"30000ms\","
                + "\"group_interval\":\"300000ms\",\"repeat_interval\":\"14400000ms\",\"continue\":false}]}");
        assertThat(api("GET", "/api/v1/alerts/routes", key, null).body()).as("another tenant's")
                .isEqualTo("{\"routes\":[]}");
    }

    @Test
    void silencesAreCreatedListedWithWhoAndWhyAndExpired() throws Exception {
        Instant now = Instant.now();
        HttpResponse<String> active = api("POST", "/api/v1/alerts/silences", key, silence("alertname", "=~", "Disk.*",
                now.minusSeconds(60), now.plusSeconds(3600), "ann@example.com", "disk swap"));
        assertThat(active.statusCode()).as(active.body()).isEqualTo(201);
        assertThat(active.body()).contains("\"state\":\"active\"", "\"created_by\":\"ann@example.com\"",
                "\"comment\":\"disk swap\"");
        String id = field(active.body(), "id");
        HttpResponse<String> pending = api("POST", "/api/v1/alerts/silences", key, silence("team", "=", "db",
                now.plusSeconds(3600), now.plusSeconds(7200), "bob", "tonight's upgrade"));
        assertThat(pending.body()).contains("\"state\":\"pending\"");

        String activeOnly = api("GET", "/api/v1/alerts/silences?state=active", key, null).body();
        assertThat(activeOnly).contains(id).doesNotContain("tonight's upgrade");
        assertThat(api("GET", "/api/v1/alerts/silences", key, null).body()).contains(id, "tonight's upgrade");
        assertThat(api("GET", "/api/v1/alerts/silences", otherKey, null).body()).isEqualTo("{\"silences\":[]}");
        assertThat(api("GET", "/api/v1/alerts/silences/" + id, otherKey, null).statusCode()).isEqualTo(404);
        assertThat(api("DELETE", "/api/v1/alerts/silences/" + id, otherKey, null).statusCode()).isEqualTo(404);
        assertThat(api("GET", "/api/v1/alerts/silences/not-a-uuid", key, null).statusCode()).isEqualTo(404);

        HttpResponse<String> expired = api("DELETE", "/api/v1/alerts/silences/" + id, key, null);
        assertThat(expired.statusCode()).isEqualTo(200);
        assertThat(expired.body()).contains("\"state\":\"expired\"");
        String expiredList = api("GET", "/api/v1/alerts/silences?state=expired", key, null).body();
        assertThat(expiredList).contains(id, "ann@example.com", "disk swap");
        assertThat(api("GET", "/api/v1/alerts/silences/" + id, key, null).body()).contains("\"state\":\"expired\"");
    }

    @Test
    void aTenantOverMaxReceiversGets422AndNothingChanges() throws Exception {
        String tenantKey = KeysCommand.create(keys, "notify-limit", Tier.FREE);
        for (String name : List.of("r1", "r2", "r3")) {
            assertThat(api("POST", "/api/v1/alerts/receivers", tenantKey, receiver(name)).statusCode()).isEqualTo(201);
        }
        HttpResponse<String> refused = api("POST", "/api/v1/alerts/receivers", tenantKey, receiver("r4"));
        assertThat(refused.statusCode()).isEqualTo(422);
        assertThat(refused.body()).contains("\"too_many_receivers\"",
                "a tenant may have at most 3 receivers (alerting.max-receivers-per-tenant); this would make 4");
        assertThat(api("GET", "/api/v1/alerts/receivers/r4", tenantKey, null).statusCode()).isEqualTo(404);
        assertThat(api("GET", "/api/v1/alerts/receivers", tenantKey, null).body())
                .contains("\"r1\"", "\"r2\"", "\"r3\"").doesNotContain("\"r4\"");
        assertThat(api("POST", "/api/v1/alerts/receivers", tenantKey, receiver("r1")).statusCode())
                .as("a duplicate at the limit is still a duplicate").isEqualTo(409);
        // updating one at the limit is allowed; deleting one makes room
        assertThat(api("PUT", "/api/v1/alerts/receivers/r1", tenantKey, "{\"kind\":\"webhook\","
                + "\"url\":\"http://r1.example/v2\"}").statusCode()).isEqualTo(200);
        assertThat(api("DELETE", "/api/v1/alerts/receivers/r3", tenantKey, null).statusCode()).isEqualTo(204);
        assertThat(api("POST", "/api/v1/alerts/receivers", tenantKey, receiver("r4")).statusCode()).isEqualTo(201);
        assertThat(api("GET", "/api/v1/alerts/receivers", otherKey, null).body()).as("other tenants are not counted")
                .doesNotContain("\"r4\"");
        assertThat(metrics()).contains("sluice_alerting_api_rejected_total{api=\"receivers\",application=\"sluice\","
                + "code=\"too_many_receivers\"}");
    }

    @Test
    void concurrentCreatesNeverPassMaxReceivers() throws Exception {
        String tenantKey = KeysCommand.create(keys, "notify-race", Tier.FREE);
        List<CompletableFuture<HttpResponse<String>>> sent = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            sent.add(http.sendAsync(request("POST", "/api/v1/alerts/receivers", tenantKey, receiver("c" + i)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        List<Integer> statuses = new ArrayList<>();
        for (CompletableFuture<HttpResponse<String>> f : sent) {
            statuses.add(f.get(WAIT.toSeconds(), TimeUnit.SECONDS).statusCode());
        }
        assertThat(statuses).filteredOn(s -> s == 201).hasSize(3);
        assertThat(statuses).filteredOn(s -> s == 422).hasSize(5);
        String listed = api("GET", "/api/v1/alerts/receivers", tenantKey, null).body();
        assertThat(Pattern.compile("\"name\":").matcher(listed).results().count()).as(listed).isEqualTo(3);
    }

    @Test
    void routesOverTheLimitAndLongSilenceTextsAre400sNamingTheirSetting() throws Exception {
        String tenantKey = KeysCommand.create(keys, "notify-sizes", Tier.FREE);
        assertThat(api("POST", "/api/v1/alerts/receivers", tenantKey, receiver("r")).statusCode()).isEqualTo(201);
        String two = "{\"routes\":[{\"receiver\":\"r\"},{\"receiver\":\"r\"}]}";
        assertThat(api("PUT", "/api/v1/alerts/routes", tenantKey, two).statusCode()).isEqualTo(200);
        HttpResponse<String> three = api("PUT", "/api/v1/alerts/routes", tenantKey,
                "{\"routes\":[{\"receiver\":\"r\"},{\"receiver\":\"r\"},{\"receiver\":\"r\",\"continue\":true}]}");
        assertThat(three.statusCode()).isEqualTo(400);
        assertThat(three.body()).contains("\"too_many_routes\"",
                "routes: 3 (at most 2, alerting.max-routes-per-tenant)");
        assertThat(api("GET", "/api/v1/alerts/routes", tenantKey, null).body()).as("a refused PUT changes nothing")
                .doesNotContain("\"continue\":true");

        Instant now = Instant.now();
        String twenty = "x".repeat(20);
        assertThat(api("POST", "/api/v1/alerts/silences", tenantKey, silence("a", "=", "b", now,
                now.plusSeconds(60), twenty, twenty)).statusCode()).isEqualTo(201);
        HttpResponse<String> longBy = api("POST", "/api/v1/alerts/silences", tenantKey, silence("a", "=", "b", now,
                now.plusSeconds(60), twenty + "y", "why"));
        assertThat(longBy.statusCode()).isEqualTo(400);
        assertThat(longBy.body()).contains("created_by: 1 to 20 characters, not blank "
                + "(alerting.max-silence-text-length)");
        HttpResponse<String> longComment = api("POST", "/api/v1/alerts/silences", tenantKey, silence("a", "=", "b",
                now, now.plusSeconds(60), "ann", twenty + "y"));
        assertThat(longComment.statusCode()).isEqualTo(400);
        assertThat(longComment.body()).contains("comment: 1 to 20 characters, not blank "
                + "(alerting.max-silence-text-length)");
        String silences = api("GET", "/api/v1/alerts/silences", tenantKey, null).body();
        assertThat(Pattern.compile("\"id\":").matcher(silences).results().count()).as(silences).isEqualTo(1);
        assertThat(metrics()).contains("sluice_alerting_api_rejected_total{api=\"routes\",application=\"sluice\","
                + "code=\"too_many_routes\"} 1.0");
    }

    @Test
    void receiverHeadersHeaderValuesAndUrlsOverTheirSettingsAre400sNamingThemAndCounted() throws Exception {
        String tenantKey = KeysCommand.create(keys, "notify-receiver-sizes", Tier.FREE);
        String url40 = "http://hooks.example/" + "p".repeat(19);
        assertThat(url40).hasSize(40);
        String value16 = "Bearer " + "v".repeat(9);
        assertThat(value16).hasSize(16);
        double headersBefore = rejected("receivers", "invalid_header");
        double urlsBefore = rejected("receivers", "invalid_url");

        HttpResponse<String> atLimits = api("POST", "/api/v1/alerts/receivers", tenantKey, "{\"name\":\"edge\","
                + "\"kind\":\"webhook\",\"url\":\"" + url40 + "\",\"headers\":{\"Authorization\":\"" + value16
                + "\",\"X-Team\":\"" + value16 + "\"}}");
        assertThat(atLimits.statusCode()).as(atLimits.body()).isEqualTo(201);
        assertThat(atLimits.body()).contains("\"headers\":[\"Authorization\",\"X-Team\"]", url40);

        HttpResponse<String> threeHeaders = api("POST", "/api/v1/alerts/receivers", tenantKey, "{\"name\":\"many\","
                + "\"kind\":\"webhook\",\"url\":\"http://a.example\",\"headers\":{\"X-A\":\"a\",\"X-B\":\"b\","
                + "\"X-C\":\"c\"}}");
        assertThat(threeHeaders.statusCode()).isEqualTo(400);
        assertThat(threeHeaders.body()).contains("\"invalid_header\"",
                "headers: 3 (at most 2, alerting.max-receiver-headers)");

        HttpResponse<String> longValue = api("POST", "/api/v1/alerts/receivers", tenantKey, "{\"name\":\"long\","
                + "\"kind\":\"webhook\",\"url\":\"http://a.example\",\"headers\":{\"X-A\":\"" + value16 + "v\"}}");
        assertThat(longValue.statusCode()).isEqualTo(400);
        assertThat(longValue.body()).contains("\"invalid_header\"",
                "headers.X-A: a value of 17 characters (at most 16, alerting.max-receiver-header-value-length)");

        HttpResponse<String> longUrl = api("POST", "/api/v1/alerts/receivers", tenantKey, "{\"name\":\"far\","
                + "\"kind\":\"webhook\",\"url\":\"" + url40 + "p\"}");
        assertThat(longUrl.statusCode()).isEqualTo(400);
        assertThat(longUrl.body()).contains("\"invalid_url\"",
                "url: 41 characters (at most 40, alerting.max-receiver-url-length)");

        HttpResponse<String> longPut = api("PUT", "/api/v1/alerts/receivers/edge", tenantKey, "{\"kind\":\"webhook\","
                + "\"url\":\"http://a.example\",\"headers\":{\"X-A\":\"a\",\"X-B\":\"b\",\"X-C\":\"c\"}}");
        assertThat(longPut.statusCode()).as("a replacement is held to the same limits").isEqualTo(400);
        assertThat(longPut.body()).contains("headers: 3 (at most 2, alerting.max-receiver-headers)");

        assertThat(api("GET", "/api/v1/alerts/receivers/edge", tenantKey, null).body())
                .as("a refused PUT changes nothing").contains(url40, "\"headers\":[\"Authorization\",\"X-Team\"]");
        String listed = api("GET", "/api/v1/alerts/receivers", tenantKey, null).body();
        assertThat(Pattern.compile("\"name\":").matcher(listed).results().count()).as("refused creates store nothing: "
                + listed).isEqualTo(1);
        assertThat(rejected("receivers", "invalid_header") - headersBefore).isEqualTo(3.0);
        assertThat(rejected("receivers", "invalid_url") - urlsBefore).isEqualTo(1.0);
    }

    /** {@code sluice_alerting_api_rejected_total{api, code}} now, 0 before the first such rejection. */
    private static double rejected(String api, String code) throws Exception {
        Matcher m = Pattern.compile("^sluice_alerting_api_rejected_total\\{api=\"" + api
                + "\",application=\"sluice\",code=\"" + code + "\"\\} (\\S+)$", Pattern.MULTILINE).matcher(metrics());
        return m.find() ? Double.parseDouble(m.group(1)) : 0.0;
    }

    private static String receiver(String name) {
        return "{\"name\":\"" + name + "\",\"kind\":\"webhook\",\"url\":\"http://" + name + ".example/hook\"}";
    }

    private static String metrics() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    @Test
    void badRequestsAre400sNamingTheFieldAndAreCounted() throws Exception {
        api("POST", "/api/v1/alerts/receivers", key, "{\"name\":\"valid\",\"kind\":\"webhook\","
                + "\"url\":\"http://valid.example\"}");
        Instant now = Instant.now();
        record Case(String method, String path, String body, String message) {
        }
        List<Case> cases = List.of(
                new Case("POST", "/api/v1/alerts/receivers", "{\"name\":\"x\",\"kind\":\"email\",\"url\":\"http://a.b\"}",
                        "kind: email"),
                new Case("POST", "/api/v1/alerts/receivers", "{\"name\":\"x\",\"kind\":\"webhook\",\"url\":\"ftp://a.b\"}",
                        "url: ftp://a.b"),
                new Case("POST", "/api/v1/alerts/receivers", "{\"kind\":\"webhook\",\"url\":\"http://a.b\"}",
                        "name: required"),
                new Case("POST", "/api/v1/alerts/receivers", "{\"name\":\"x\",\"kind\":\"webhook\",\"url\":\"http://a.b\","
                        + "\"headers\":{\"Host\":\"evil\"}}", "headers.Host"),
                new Case("POST", "/api/v1/alerts/receivers", "{\"name\":\"x\",\"kind\":\"webhook\",\"url\":\"http://a.b\","
                        + "\"colour\":\"red\"}", "unknown field colour"),
                new Case("POST", "/api/v1/alerts/receivers", "not json", "body is not valid JSON"),
                new Case("PUT", "/api/v1/alerts/routes", "{\"routes\":[{\"receiver\":\"valid\",\"matchers\":"
                        + "[{\"name\":\"a\",\"op\":\"=~\",\"value\":\"([\"}]}]}",
                        "routes[0].matchers[0].value: ([ is not a valid regex"),
                new Case("PUT", "/api/v1/alerts/routes", "{\"routes\":[{\"receiver\":\"valid\"},{\"receiver\":\"nope\"}]}",
                        "routes[1].receiver: no receiver nope"),
                new Case("PUT", "/api/v1/alerts/routes", "{\"routes\":[{\"receiver\":\"valid\",\"group_wait\":\"soon\"}]}",
                        "routes[0].group_wait: soon (expected: a duration from 0s to 1d"),
                new Case("PUT", "/api/v1/alerts/routes", "{\"routes\":[{\"receiver\":\"valid\",\"repeat_interval\":\"0s\"}]}",
                        "routes[0].repeat_interval: 0s (expected: a duration from 1s to 30d"),
                new Case("PUT", "/api/v1/alerts/routes", "{}", "routes: required"),
                new Case("POST", "/api/v1/alerts/silences", silence("a", "=", "b", now.plusSeconds(60), now,
                        "ann", "why"), "ends_at: "),
                new Case("POST", "/api/v1/alerts/silences", silence("a", "=", "b", now.minusSeconds(600),
                        now.minusSeconds(60), "ann", "why"), "is not in the future"),
                new Case("POST", "/api/v1/alerts/silences", "{\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],"
                        + "\"starts_at\":\"" + now + "\",\"ends_at\":\"" + now.plusSeconds(60) + "\",\"created_by\":\"ann\"}",
                        "comment: required"),
                new Case("POST", "/api/v1/alerts/silences", silence("a", "~=", "b", now, now.plusSeconds(60), "ann",
                        "why"), "matchers[0].op: ~="),
                new Case("POST", "/api/v1/alerts/silences", "{\"matchers\":[],\"starts_at\":\"" + now + "\",\"ends_at\":\""
                        + now.plusSeconds(60) + "\",\"created_by\":\"ann\",\"comment\":\"c\"}", "matchers: at least one"),
                new Case("POST", "/api/v1/alerts/silences", silence("a", "=", "b", now, now.plusSeconds(60), "ann",
                        "why").replace(now.toString(), "yesterday"), "starts_at: yesterday"),
                new Case("POST", "/api/v1/alerts/silences", silence("a", "=", "b", now, now.plusSeconds(60), "ann",
                        "a\\u0000b"), "comment: a NUL character"),
                new Case("POST", "/api/v1/alerts/silences", silence("a", "=", "\\ud800", now, now.plusSeconds(60),
                        "ann", "why"), "matchers[0].value: an unpaired surrogate"),
                new Case("POST", "/api/v1/alerts/receivers", "{\"name\":\"x\",\"kind\":\"webhook\","
                        + "\"url\":\"http://a.b\",\"headers\":{\"X-Team\":\"caf\u00e9\"}}", "headers.X-Team"),
                new Case("POST", "/api/v1/alerts/receivers", "{\"name\":\"x\",\"kind\":\"webhook\","
                        + "\"url\":\"http://user:pw@a.b\"}", "no user info"),
                new Case("GET", "/api/v1/alerts/silences?state=gone", null, "state: gone"));
        for (Case c : cases) {
            HttpResponse<String> response = api(c.method(), c.path(), key, c.body());
            assertThat(response.statusCode()).as(c.body()).isEqualTo(400);
            assertThat(response.body()).as(c.body()).contains(c.message().replace("\"", "\\\""));
        }
        assertThat(api("GET", "/api/v1/alerts/routes", key, null).body()).as("a refused PUT changes nothing")
                .isEqualTo("{\"routes\":[]}");
        String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains(
                "sluice_alerting_api_rejected_total{api=\"routes\",application=\"sluice\",code=\"unknown_receiver\"} 1.0",
                "sluice_alerting_api_rejected_total{api=\"silences\",application=\"sluice\",code=\"invalid_time\"} 3.0");
        assertThat(api("GET", "/api/v1/alerts/receivers", null, null).statusCode()).as("no key").isEqualTo(401);
    }

    private static String silence(String name, String op, String value, Instant starts, Instant ends, String by,
                                  String comment) {
        return "{\"matchers\":[{\"name\":\"" + name + "\",\"op\":\"" + op + "\",\"value\":\"" + value + "\"}],"
                + "\"starts_at\":\"" + starts + "\",\"ends_at\":\"" + ends + "\",\"created_by\":\"" + by + "\","
                + "\"comment\":\"" + comment + "\"}";
    }

    private static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":\"([^\"]*)\"").matcher(json);
        assertThat(m.find()).as(json).isTrue();
        return m.group(1);
    }

    private static HttpResponse<String> api(String method, String path, String apiKey, String body) throws Exception {
        return http.send(request(method, path, apiKey, body).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpRequest.Builder request(String method, String path, String apiKey, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + path))
                .timeout(WAIT)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (apiKey != null) {
            request.header("Authorization", "Bearer " + apiKey);
        }
        return request;
    }
}
