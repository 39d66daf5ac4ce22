package io.sluice.gateway.prometheus;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.gateway.app.SluiceProcess;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.StoredSamples;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The Prometheus HTTP API under /prometheus on a real Sluice (gateway and writer, Kafka, PostgreSQL): samples
 * ingested through the gateway and stored by the writer come back through Prometheus' envelope with exact values,
 * scoped to the key's tenant; errors are typed as Prometheus types them; and the requests Grafana's Prometheus data
 * source sends (resources {@code prometheus/grafana/}) get the answers Grafana parses.
 */
@RealInfrastructure
class PrometheusApiTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(90);

    private static SluiceProcess sluice;
    private static int port;
    private static String keyA;
    private static String keyB;
    /** The first sample's time, whole seconds: samples at START + 0, 15, 30, 45, 60 s. */
    private static long start;

    @BeforeAll
    static void ingest(TestInfrastructure infra) throws Exception {
        Map<String, String> settings = new HashMap<>();
        settings.put("server.port", "0");
        settings.put("spool.dir", infra.newDirectory("prom-spool").toString());
        settings.put("query.max-series", "3");
        settings.put("query.max-samples", "1000");
        settings.put("tenants.free.requests-per-minute", "100000");
        // a day of raw samples, and samples up to a day late: instant queries reaching past a day read rollups
        settings.put("retention.raw", "1d");
        settings.put("ingest.late-window", "1d");
        sluice = SluiceProcess.start(infra.configure(ConfigLoader.load(null, Map.of(), settings)));
        port = sluice.gateway().orElseThrow().port();
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        String tenantA = "prom-a-" + suffix;
        String tenantB = "prom-b-" + suffix;
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        keyA = KeysCommand.create(keys, tenantA, Tier.FREE);
        keyB = KeysCommand.create(keys, tenantB, Tier.FREE);
        start = Instant.now().truncatedTo(ChronoUnit.MINUTES).minus(Duration.ofMinutes(10)).getEpochSecond();
        long t = start * 1000;
        String samplesA = String.join(",",
                sample("http_requests_total", "api", "i1", t, "1"),
                sample("http_requests_total", "api", "i1", t + 15_000, "2.5"),
                sample("http_requests_total", "api", "i1", t + 30_000, "\"NaN\""),
                sample("http_requests_total", "api", "i1", t + 45_000, "\"+Inf\""),
                sample("http_requests_total", "api", "i1", t + 60_000, "5"),
                sample("http_requests_total", "api", "i2", t + 60_000, "-0.25"),
                sample("up", "api", "i1", t, "1"),
                sample("up", "api", "i1", t + 60_000, "1"),
                sample("up", "db", "i3", t + 60_000, "0"));
        String samplesB = sample("up", "secret", "b1", t + 60_000, "1");
        assertThat(ingest(keyA, samplesA).statusCode()).isEqualTo(202);
        assertThat(ingest(keyB, samplesB).statusCode()).isEqualTo(202);
        await().atMost(WAIT).untilAsserted(() -> {
            assertThat(StoredSamples.of(infra.connectionFactory(), tenantA)).hasSize(9);
            assertThat(StoredSamples.of(infra.connectionFactory(), tenantB)).hasSize(1);
        });
    }

    @AfterAll
    static void stop() {
        if (sluice != null) {
            sluice.close();
        }
    }

    // ---- queries ------------------------------------------------------------------------------------------------

    @Test
    void anInstantQueryAnswersAVectorAtItsTimeWithTheLatestSampleOfEachSeries() throws Exception {
        HttpResponse<String> r = get(keyA, "/prometheus/api/v1/query?query=up&time=" + (start + 90));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(JSON.readTree(r.body())).isEqualTo(JSON.readTree("""
                {"status":"success","data":{"resultType":"vector","result":[
                  {"metric":{"__name__":"up","instance":"i1","job":"api"},"value":[%d,"1"]},
                  {"metric":{"__name__":"up","instance":"i3","job":"db"},"value":[%d,"0"]}]}}"""
                .formatted(start + 90, start + 90)));
        // a time with a fraction comes back as Prometheus prints it: seconds with three decimals
        HttpResponse<String> fraction = get(keyA, "/prometheus/api/v1/query?query=up&time=" + (start + 90) + ".25");
        assertThat(fraction.body()).contains("\"value\":[" + (start + 90) + ".250,\"1\"]");
    }

    @Test
    void aRangeQueryAnswersAMatrixWithValuesAsPrometheusPrintsThem() throws Exception {
        HttpResponse<String> r = post(keyA, "/prometheus/api/v1/query_range", "query="
                + enc("http_requests_total{instance=\"i2\"}") + "&start=" + start + "&end=" + (start + 60) + "&step=30s");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(JSON.readTree(r.body())).isEqualTo(JSON.readTree("""
                {"status":"success","data":{"resultType":"matrix","result":[
                  {"metric":{"__name__":"http_requests_total","instance":"i2","job":"api"},
                   "values":[[%d,"-0.25"]]}]}}""".formatted(start + 60)));
        // fractional seconds, RFC 3339 and a float step mean the same as whole seconds
        HttpResponse<String> same = get(keyA, "/prometheus/api/v1/query_range?query="
                + enc("http_requests_total{instance=\"i2\"}") + "&start=" + enc(Instant.ofEpochSecond(start).toString())
                + "&end=" + (start + 60) + ".000&step=30.0");
        assertThat(JSON.readTree(same.body())).isEqualTo(JSON.readTree(r.body()));
    }

    @Test
    void aCachedAnswerGoesGzipCompressedToAClientThatTakesGzipAndAsItIsToOthers() throws Exception {
        String path = "/prometheus/api/v1/query_range?query=" + enc("up{job=\"api\"}") + "&start=" + start + "&end="
                + (start + 300) + "&step=1";
        HttpResponse<String> plain = get(keyA, path);
        assertThat(plain.statusCode()).as(plain.body()).isEqualTo(200);
        assertThat(plain.body().length()).isGreaterThan(RenderedAnswers.GZIP_FROM_BYTES);
        assertThat(plain.headers().firstValue("content-encoding")).isEmpty();
        assertThat(plain.headers().firstValue("vary")).hasValue("Accept-Encoding");
        HttpRequest gzip = HttpRequest.newBuilder(uri(path)).header("Authorization", "Bearer " + keyA)
                .header("Accept-Encoding", "gzip").build(); // as Go's client, so Grafana, asks
        await().atMost(WAIT).untilAsserted(() -> { // compressed once it is kept, off the request's thread
            HttpResponse<byte[]> r = http.send(gzip, HttpResponse.BodyHandlers.ofByteArray());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("content-encoding")).hasValue("gzip");
            assertThat(r.headers().firstValue("vary")).hasValue("Accept-Encoding");
            assertThat(r.body().length).isLessThan(plain.body().length() / 2);
            try (java.util.zip.GZIPInputStream in = new java.util.zip.GZIPInputStream(
                    new java.io.ByteArrayInputStream(r.body()))) {
                assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo(plain.body());
            }
        });
        HttpResponse<String> without = get(keyA, path);
        assertThat(without.headers().firstValue("x-sluice-cache")).hasValue("hit");
        assertThat(without.headers().firstValue("content-encoding")).isEmpty();
        assertThat(without.body()).isEqualTo(plain.body());
    }

    @Test
    void expressionsOverStoredSamplesAreEvaluated() throws Exception {
        HttpResponse<String> r = post(keyA, "/prometheus/api/v1/query", "query="
                + enc("sum by (job) (http_requests_total)") + "&time=" + (start + 60));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(JSON.readTree(r.body())).isEqualTo(JSON.readTree("""
                {"status":"success","data":{"resultType":"vector","result":[
                  {"metric":{"job":"api"},"value":[%d,"4.75"]}]}}""".formatted(start + 60)));
        HttpResponse<String> range = get(keyA, "/prometheus/api/v1/query_range?query="
                + enc("count_over_time(up{job=\"api\"}[2m])") + "&start=" + (start + 30) + "&end=" + (start + 90)
                + "&step=30");
        assertThat(range.statusCode()).as(range.body()).isEqualTo(200);
        // samples at start and start+60 s; windows (t-2m, t]: one at start+30 s, both at start+60 s and start+90 s
        assertThat(JSON.readTree(range.body())).isEqualTo(JSON.readTree("""
                {"status":"success","data":{"resultType":"matrix","result":[
                  {"metric":{"instance":"i1","job":"api"},"values":[[%d,"1"],[%d,"2"],[%d,"2"]]}]}}"""
                .formatted(start + 30, start + 60, start + 90)));
    }

    @Test
    void eachTenantSeesOnlyItsOwnSeries() throws Exception {
        JsonNode seriesA = JSON.readTree(get(keyA, "/prometheus/api/v1/series?match[]=up").body());
        assertThat(seriesA.toString()).contains("\"i1\"", "\"i3\"").doesNotContain("secret", "b1");
        JsonNode seriesB = JSON.readTree(get(keyB, "/prometheus/api/v1/series?match%5B%5D=up").body());
        assertThat(seriesB).isEqualTo(JSON.readTree("""
                {"status":"success","data":[{"__name__":"up","instance":"b1","job":"secret"}]}"""));
        assertThat(JSON.readTree(get(keyA, "/prometheus/api/v1/labels").body())).isEqualTo(JSON.readTree("""
                {"status":"success","data":["__name__","instance","job"]}"""));
        assertThat(JSON.readTree(get(keyB, "/prometheus/api/v1/label/job/values").body())).isEqualTo(JSON.readTree("""
                {"status":"success","data":["secret"]}"""));
        assertThat(JSON.readTree(get(keyA, "/prometheus/api/v1/label/__name__/values").body())).isEqualTo(
                JSON.readTree("""
                        {"status":"success","data":["http_requests_total","up"]}"""));
        assertThat(JSON.readTree(get(keyB, "/prometheus/api/v1/query?query=up&time=" + (start + 60)).body())
                .at("/data/result").size()).isEqualTo(1);
        assertThat(JSON.readTree(get(keyA, "/prometheus/api/v1/labels?match[]=" + enc("{job=\"db\"}")).body()))
                .isEqualTo(JSON.readTree("""
                        {"status":"success","data":["__name__","instance","job"]}"""));
        assertThat(JSON.readTree(get(keyA, "/prometheus/api/v1/metadata").body())).isEqualTo(JSON.readTree("""
                {"status":"success","data":{}}"""));
    }

    // ---- errors -------------------------------------------------------------------------------------------------

    @Test
    void anExpressionThatDoesNotParseIsBadData() throws Exception {
        HttpResponse<String> r = post(keyA, "/prometheus/api/v1/query", "query=" + enc("up{job=") + "&time=" + start);
        assertError(r, 400, "bad_data");
    }

    @Test
    void anUnsupportedFunctionIsBadDataNamingIt() throws Exception {
        HttpResponse<String> r = get(keyA, "/prometheus/api/v1/query?query="
                + enc("histogram_count(up)")); // native histograms: not stored by Sluice
        assertError(r, 400, "bad_data");
        assertThat(JSON.readTree(r.body()).get("error").asText())
                .contains("unsupported", "histogram_count");
    }

    @Test
    void aSelectorThatWouldSelectEverythingIsBadData() throws Exception {
        assertError(get(keyA, "/prometheus/api/v1/series?match[]=" + enc("{job=~\".*\"}")), 400, "bad_data");
        HttpResponse<String> r = get(keyA, "/prometheus/api/v1/query?query=" + enc("{job=~\".*\"}"));
        assertError(r, 400, "bad_data");
        assertThat(r.body()).contains("vector selector must contain at least one non-empty matcher");
    }

    @Test
    void moreSeriesThanQueryMaxSeriesIs422Execution() throws Exception {
        // tenant A has 4 series, query.max-series is 3
        HttpResponse<String> r = get(keyA, "/prometheus/api/v1/query?query=" + enc("{__name__=~\".+\"}")
                + "&time=" + (start + 60));
        assertError(r, 422, "execution");
        assertThat(r.body()).contains("query.max-series");
    }

    @Test
    void aQueryThatWouldLoadMoreThanQueryMaxSamplesIs422ExecutionAndCounted() throws Exception {
        // query.max-samples is 1,000: 601 steps of 1 s answer 1,202 points for the two series of http_requests_total
        // (each has a sample within the lookback until start + 360 s), 301 steps of 2 s answer 602
        String range = "/prometheus/api/v1/query_range?query=http_requests_total&start=" + start + "&end="
                + (start + 600) + "&step=";
        HttpResponse<String> r = get(keyA, range + "1");
        assertError(r, 422, "execution");
        assertThat(r.body()).contains("query.max-samples");
        HttpResponse<String> fewer = get(keyA, range + "2");
        assertThat(fewer.statusCode()).as(fewer.body()).isEqualTo(200);
        assertThat(JSON.readTree(fewer.body()).at("/data/result")).hasSize(2);
        String metrics = send(HttpRequest.newBuilder(uri("/metrics")).build()).body();
        assertThat(metrics).containsPattern(
                "sluice_query_rejected_total\\{api=\"promql\",[^}]*reason=\"too_many_samples\"[^}]*} [1-9]");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "/prometheus/api/v1/query_range?query=up&start=100&end=50&step=15",
        "/prometheus/api/v1/query_range?query=up&start=100&end=150&step=0",
        "/prometheus/api/v1/query_range?query=up&start=100&end=150&step=-1s",
        "/prometheus/api/v1/query_range?query=up&start=100&end=150",
        "/prometheus/api/v1/query_range?query=up&start=yesterday&end=150&step=15",
        "/prometheus/api/v1/query_range?query=up&start=100&end=150&step=15x",
        "/prometheus/api/v1/query?time=100",
        "/prometheus/api/v1/query?query=up&time=1e400x",
        "/prometheus/api/v1/series",
        "/prometheus/api/v1/label/bad-name/values",
    })
    void badParametersAreBadData(String path) throws Exception {
        assertError(get(keyA, path), 400, "bad_data");
    }

    @Test
    void withoutAKeyIs401AndBasicAuthWithTheKeyAsPasswordWorks() throws Exception {
        HttpResponse<String> none = http.send(HttpRequest.newBuilder(uri("/prometheus/api/v1/query?query=up")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(none.statusCode()).isEqualTo(401);
        HttpResponse<String> wrong = send(HttpRequest.newBuilder(uri("/prometheus/api/v1/labels"))
                .header("Authorization", basic("grafana", "not-a-key")).build());
        assertThat(wrong.statusCode()).isEqualTo(401);
        HttpResponse<String> ok = send(HttpRequest.newBuilder(uri("/prometheus/api/v1/label/job/values"))
                .header("Authorization", basic("grafana", keyB)).build());
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(JSON.readTree(ok.body()).get("data").toString()).isEqualTo("[\"secret\"]");
        String metrics = send(HttpRequest.newBuilder(uri("/metrics")).build()).body();
        assertThat(metrics).contains("route=\"/prometheus/api/v1/query\"").containsPattern(
                "sluice_http_server_requests_seconds_count\\{[^}]*route=\"/prometheus/api/v1/query\"[^}]*status=\"401\"");
    }

    /**
     * {@code rate} over short windows far apart (1 m at a 3 h step: fewer rollup rows than raw chunk rows) reads the
     * 1-minute rollups and answers what raw samples give (bit for bit: a counter without resets); with the raw chunks
     * gone it still answers, where a step of 30 s (raw samples) no longer does.
     */
    @Test
    void rateOverShortWindowsFarApartIsReadFromTheRollupsAndAnswersAsRawSamplesDo(TestInfrastructure infra)
            throws Exception {
        String tenant = "prom-r-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.FREE);
        StringBuilder samples = new StringBuilder();
        for (int i = 0; i < 40; i++) { // every 15 s, 7 s past the quarter minute: never on a minute's start
            samples.append(i == 0 ? "" : ",").append(sample("rolled_total", "r", "i1",
                    start * 1000 + 7_000 + i * 15_000L, Integer.toString(i * 3)));
        }
        assertThat(ingest(key, samples.toString()).statusCode()).isEqualTo(202);
        await().atMost(WAIT).untilAsserted(() ->
                assertThat(StoredSamples.of(infra.connectionFactory(), tenant)).hasSize(40));
        long t = start + 600; // a whole minute; its 1-minute window holds 4 samples, the steps 3 and 6 h before none
        String raw = query(key, "rate(rolled_total[1m])", t, t, "30s");
        String rolled = query(key, "rate(rolled_total[1m])", t - 6 * 3600, t, "3h");
        assertThat(JSON.readTree(raw).at("/data/result/0/values/0/1").asText()).isNotEmpty();
        assertThat(JSON.readTree(rolled)).isEqualTo(JSON.readTree(raw));

        reactor.core.publisher.Mono.usingWhen(infra.connectionFactory().create(),
                c -> reactor.core.publisher.Mono.from(c.createStatement("DELETE FROM sample_chunks WHERE series_id IN "
                        + "(SELECT id FROM series WHERE tenant = $1)").bind("$1", tenant).execute())
                        .flatMap(r -> reactor.core.publisher.Mono.from(r.getRowsUpdated())),
                io.r2dbc.spi.Connection::close).block(WAIT);
        // other expressions of the same meaning, so that no cached answer is served
        assertThat(JSON.readTree(query(key, "rate(rolled_total{job=\"r\"}[1m])", t - 6 * 3600, t, "3h")))
                .as("from the rollups").isEqualTo(JSON.readTree(raw));
        assertThat(JSON.readTree(query(key, "rate(rolled_total{job=\"r\"}[1m])", t, t, "30s")).at("/data/result"))
                .as("from the raw samples, now gone").isEmpty();
    }

    /**
     * An instant query whose window reaches past {@code retention.raw} (a Grafana stat panel over a long range, an
     * alert over a day) reads the 1-hour rollups for the whole hours inside it and raw samples after the last one: with
     * the raw chunks of those hours deleted, the count, sum and newest value still cover them, where raw samples alone
     * see only the last partial hour.
     */
    @Test
    void anInstantQueryPastRetentionRawReadsTheHourlyRollupsAndTheRecentRawSamples(TestInfrastructure infra)
            throws Exception {
        String tenant = "prom-i-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.FREE);
        long hour = 3_600_000;
        long now = System.currentTimeMillis();
        // every 5 minutes, 7 s past the minute, for the last 23 h 50 min (within ingest.late-window and retention.raw)
        long first = (now - 23 * hour - 50 * 60_000) / 60_000 * 60_000 + 7_000;
        java.util.List<long[]> points = new java.util.ArrayList<>();
        for (long ts = first; ts < now - 60_000; ts += 300_000) {
            points.add(new long[] {ts, 3L * points.size()});
        }
        for (int from = 0; from < points.size(); from += 100) {
            StringBuilder body = new StringBuilder();
            for (long[] p : points.subList(from, Math.min(points.size(), from + 100))) {
                body.append(body.length() == 0 ? "" : ",").append(sample("stat_total", "s", "i1", p[0],
                        Long.toString(p[1])));
            }
            HttpResponse<String> r = ingest(key, body.toString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
            assertThat(r.body()).doesNotContain("rejected\":[{");
        }
        await().atMost(WAIT).untilAsserted(() ->
                assertThat(StoredSamples.of(infra.connectionFactory(), tenant)).hasSize(points.size()));
        long t = points.get(points.size() - 1)[0] + 30_000; // not a whole minute
        long lo = -Math.floorDiv(-(t - 25 * hour), hour) * hour; // the first whole hour of the 25 h window
        long hi = Math.floorDiv(t + 1, hour) * hour; // the end of its last whole hour
        // the raw chunks of every hour before the last partial one go, as retention would take them
        reactor.core.publisher.Mono.usingWhen(infra.connectionFactory().create(),
                c -> reactor.core.publisher.Mono.from(c.createStatement("DELETE FROM sample_chunks WHERE series_id IN "
                        + "(SELECT id FROM series WHERE tenant = $1) AND hour < $2").bind("$1", tenant)
                        .bind("$2", java.time.Instant.ofEpochMilli(hi).atOffset(java.time.ZoneOffset.UTC)).execute())
                        .flatMap(r -> reactor.core.publisher.Mono.from(r.getRowsUpdated())),
                io.r2dbc.spi.Connection::close).block(WAIT);
        long count = 0;
        long sum = 0;
        long tailCount = 0;
        for (long[] p : points) {
            if (p[0] >= lo && p[0] <= t) {
                count++;
                sum += p[1];
            }
            if (p[0] >= hi && p[0] <= t) {
                tailCount++;
            }
        }
        assertThat(tailCount).as("some raw samples after the last whole hour").isPositive().isLessThan(count / 10);
        String time = String.format(java.util.Locale.ROOT, "%d.%03d", t / 1000, t % 1000);
        assertThat(instantValue(key, "count_over_time(stat_total[25h])", time)).isEqualTo(Long.toString(count));
        assertThat(instantValue(key, "sum_over_time(stat_total[25h])", time)).isEqualTo(Long.toString(sum));
        assertThat(instantValue(key, "max_over_time(stat_total[25h])", time))
                .isEqualTo(Long.toString(points.get(points.size() - 1)[1]));
        // a window inside the raw day reads raw samples only: just the last partial hour is left of them
        assertThat(instantValue(key, "count_over_time(stat_total[23h])", time)).isEqualTo(Long.toString(tailCount));
    }

    /** The value of an instant query's single sample. */
    private static String instantValue(String key, String expr, String time) throws Exception {
        HttpResponse<String> r = get(key, "/prometheus/api/v1/query?query=" + enc(expr) + "&time=" + time);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        com.fasterxml.jackson.databind.JsonNode result = JSON.readTree(r.body()).at("/data/result");
        assertThat(result.size()).as(r.body()).isEqualTo(1);
        return result.get(0).at("/value/1").asText();
    }

    private static String query(String key, String expr, long from, long to, String step) throws Exception {
        HttpResponse<String> r = get(key, "/prometheus/api/v1/query_range?query=" + enc(expr) + "&start=" + from
                + "&end=" + to + "&step=" + step);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return r.body();
    }

    // ---- Grafana's requests -------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"save-and-test-buildinfo", "save-and-test-query", "panel-query-range",
        "variable-label-values", "variable-label-values-match", "variable-series"})
    void grafanasRequestsGetTheAnswersGrafanaParses(String exchange) throws Exception {
        Map<String, String> values = Map.of("${BASIC}", basic("grafana", keyA).substring("Basic ".length()),
                "${START_15}", Long.toString(start + 15), "${START_30}", Long.toString(start + 30),
                "${START_45}", Long.toString(start + 45), "${START}", Long.toString(start),
                "${END}", Long.toString(start + 60));
        String request = fill(resource(exchange + ".http"), values);
        int headerEnd = request.indexOf("\n\n");
        String[] head = request.substring(0, headerEnd).split("\n");
        String body = request.substring(headerEnd + 2);
        String[] line = head[0].split(" ");
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(line[1]))
                .method(line[0], body.isEmpty() ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        for (int i = 1; i < head.length; i++) {
            String name = head[i].substring(0, head[i].indexOf(':'));
            if (!name.equalsIgnoreCase("Accept-Encoding")) { // the JDK client would not decompress
                b.header(name, head[i].substring(head[i].indexOf(':') + 1).trim());
            }
        }
        HttpResponse<String> r = send(b.build());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
        JsonNode expected = JSON.readTree(fill(resource(exchange + ".json"), values));
        JsonNode actual = JSON.readTree(r.body());
        if (exchange.equals("save-and-test-buildinfo")) {
            // Grafana: no "features" means Prometheus (not Mimir); the version is a semantic version >= 2.24
            assertThat(actual.at("/data/features").isMissingNode()).isTrue();
            assertThat(actual.at("/data/version").asText()).matches("2\\.(2[4-9]|[3-9][0-9])\\.[0-9]+");
            assertThat(actual.at("/data/revision").asText()).startsWith("sluice-");
            assertContains(expected, actual, "");
        } else {
            assertThat(actual).isEqualTo(expected);
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    /** Every field of {@code expected} is in {@code actual} with the same value. */
    private static void assertContains(JsonNode expected, JsonNode actual, String at) {
        if (!expected.isObject()) {
            assertThat(actual).as(at).isEqualTo(expected);
            return;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = expected.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            assertThat(actual.has(field.getKey())).as(at + "/" + field.getKey()).isTrue();
            assertContains(field.getValue(), actual.get(field.getKey()), at + "/" + field.getKey());
        }
    }

    private static void assertError(HttpResponse<String> r, int status, String errorType) throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        JsonNode body = JSON.readTree(r.body());
        assertThat(body.get("status").asText()).isEqualTo("error");
        assertThat(body.get("errorType").asText()).as(r.body()).isEqualTo(errorType);
        assertThat(body.get("error").asText()).isNotBlank();
    }

    private static String sample(String name, String job, String instance, long ms, String value) {
        return "{\"name\":\"" + name + "\",\"labels\":{\"job\":\"" + job + "\",\"instance\":\"" + instance
                + "\"},\"timestamp\":" + ms + ",\"value\":" + value + "}";
    }

    private static HttpResponse<String> ingest(String key, String samples) throws Exception {
        return send(HttpRequest.newBuilder(uri("/api/v1/ingest/metrics")).header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"samples\":[" + samples + "]}")).build());
    }

    private static HttpResponse<String> get(String key, String path) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)).header("Authorization", "Bearer " + key).build());
    }

    private static HttpResponse<String> post(String key, String path, String form) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)).header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build());
    }

    private static HttpResponse<String> send(HttpRequest request) throws Exception {
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = PrometheusApiTest.class.getResourceAsStream("/prometheus/grafana/" + name)) {
            assertThat(in).as(name).isNotNull();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("\r\n", "\n");
        }
    }

    private static String fill(String template, Map<String, String> values) {
        String out = template;
        // longer names first: ${START_15} before ${START}
        for (String name : values.keySet().stream().sorted((a, b) -> b.length() - a.length()).toList()) {
            out = out.replace(name, values.get(name));
        }
        return out;
    }
}
