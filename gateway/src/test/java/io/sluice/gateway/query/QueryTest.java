package io.sluice.gateway.query;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.protocol.record.Series;
import io.sluice.storage.SeriesIds;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.chunks.SampleChunks;
import io.sluice.storage.chunks.Summary;
import io.sluice.storage.query.QueryCache;
import io.sluice.storage.query.QueryResult;
import io.sluice.storage.query.SeriesQuery;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.sluice.storage.writer.PartitionMaintenance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Queries on real PostgreSQL with generated data, checked against aggregates computed here. */
@RealInfrastructure
class QueryTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static final String METRIC = "req.latency";
    private static GatewayRole sluice;
    private static String keyA;
    private static String keyB;
    private static String keyC;
    private static Instant end;
    /** Generated samples of tenant qa: labels, timestamp ms, value. */
    private static final List<Object[]> samplesA = new ArrayList<>();

    @BeforeAll
    static void seed(TestInfrastructure infra) {
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "query.max-series", "6", "tenants.free.requests-per-minute", "100000")));
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        keyA = KeysCommand.create(keys, "qa", Tier.FREE);
        keyB = KeysCommand.create(keys, "qb", Tier.FREE);
        keyC = KeysCommand.create(keys, "qc", Tier.FREE);
        end = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.HOURS);
        Instant start = end.minus(Duration.ofHours(3));
        new PartitionMaintenance(infra.connectionFactory(), config.writer(), Clock.systemUTC())
                .ensureDays(List.of(LocalDate.ofInstant(start, ZoneOffset.UTC), LocalDate.ofInstant(end, ZoneOffset.UTC),
                        LocalDate.ofInstant(end.minus(Duration.ofDays(9)), ZoneOffset.UTC)))
                .block(Duration.ofSeconds(30));
        java.util.Random random = new java.util.Random(42);
        for (String host : List.of("a", "b", "c")) {
            for (String region : List.of("us", "eu")) {
                Map<String, String> labels = Map.of("host", host, "region", region);
                List<long[]> points = new ArrayList<>();
                for (Instant t = start; t.isBefore(end); t = t.plusSeconds(10)) {
                    double v = Math.round(random.nextDouble() * 1000) / 10.0;
                    samplesA.add(new Object[] {labels, t.toEpochMilli(), v});
                }
                insertSeries(infra.connectionFactory(), "qa", labels, samplesA.stream()
                        .filter(s -> s[0].equals(labels)).toList());
            }
        }
        insertSeries(infra.connectionFactory(), "qb", Map.of("host", "z", "region", "us"),
                List.<Object[]>of(new Object[] {null, start.toEpochMilli(), 5.0}));
        for (int i = 0; i < 7; i++) {
            insertSeries(infra.connectionFactory(), "qc", Map.of("host", "h" + i), List.<Object[]>of(
                    new Object[] {null, start.toEpochMilli(), 1.0}));
        }
        // 9 days ago only rollups exist (raw data past its 7-day retention)
        Series old = Series.of(METRIC, Map.of("host", "old", "region", "us"));
        long oldId = SeriesIds.of("qa", old);
        exec(infra.connectionFactory(), "INSERT INTO series VALUES (" + oldId + ", 'qa', '" + METRIC
                + "', '{\"host\":\"old\",\"region\":\"us\"}', now(), now()) ON CONFLICT DO NOTHING");
        exec(infra.connectionFactory(), "INSERT INTO rollups_1m VALUES (" + oldId + ", '"
                + end.minus(Duration.ofDays(9)) + "', 1, 3, 8, 4) ON CONFLICT DO NOTHING");
        sluice = GatewayRole.start(config);
    }

    @AfterAll
    static void stop() {
        sluice.close();
    }

    @ParameterizedTest(name = "{0} at step {1}")
    @CsvSource({"avg,30s,raw", "min,30s,raw", "max,30s,raw", "sum,30s,raw", "count,30s,raw",
            "avg,5m,1m", "min,5m,1m", "max,5m,1m", "sum,5m,1m", "count,5m,1m",
            "avg,1h,1h", "min,1h,1h", "max,1h,1h", "sum,1h,1h", "count,1h,1h"})
    void everyAggregationAtEveryResolutionEqualsTheIndependentAggregate(String agg, String step, String resolution)
            throws Exception {
        String json = query(keyA, "metric=" + METRIC + "&match=host=a&match=region=us&agg=" + agg + "&step=" + step
                + "&from=" + end.minus(Duration.ofHours(3)) + "&to=" + end);
        assertThat(json).contains("\"resolution\":\"" + resolution + "\"");
        long stepMs = io.sluice.config.Values.duration(step).toMillis();
        Map<Long, Double> expected = expected(s -> s.equals(Map.of("host", "a", "region", "us")), agg, stepMs);
        assertPoints(json, expected);
    }

    @ParameterizedTest(name = "{0} at step {1}, host {2}")
    @CsvSource({"count,30s,a", "count,30s,c", "sum,30s,a", "sum,30s,c", "min,30s,c", "max,30s,a", "count,5m,c",
            "sum,5m,a"})
    void rangesThatCutThroughChunksKeepOnlyTheirSamples(String agg, String step, String host) throws Exception {
        // from and to fall inside hours (and so inside chunks, which hold an hour each); the planner aligns them
        Instant from = end.minus(Duration.ofHours(3)).plus(Duration.ofMinutes(25)).plusSeconds(10);
        Instant to = end.minus(Duration.ofMinutes(20)).minusSeconds(5);
        String json = query(keyA, "metric=" + METRIC + "&match=host=" + host + "&agg=" + agg + "&step=" + step + "&group_by=host"
                + "&from=" + from + "&to=" + to);
        long stepMs = io.sluice.config.Values.duration(step).toMillis();
        long alignedFrom = Math.floorDiv(from.toEpochMilli(), stepMs) * stepMs;
        long alignedTo = -Math.floorDiv(-to.toEpochMilli(), stepMs) * stepMs;
        assertThat(json).contains("\"from\":" + alignedFrom + ",\"to\":" + alignedTo);
        Map<Long, Double> expected = expected(l -> l.get("host").equals(host), agg, stepMs, alignedFrom, alignedTo);
        assertThat(expected).hasSize((int) ((alignedTo - alignedFrom) / stepMs));
        assertPoints(json, expected);
    }

    @Test
    void matchersAndGroupBy() throws Exception {
        String json = query(keyA, "metric=" + METRIC + "&match=region!=us&match=host=~(a%7Cb)&agg=sum&step=1h&group_by=region"
                + "&from=" + end.minus(Duration.ofHours(3)) + "&to=" + end);
        assertThat(json).contains("\"labels\":{\"region\":\"eu\"}").doesNotContain("\"region\":\"us\"");
        assertPoints(json, expected(l -> l.get("region").equals("eu") && !l.get("host").equals("c"), "sum", 3_600_000));
        String perSeries = query(keyA, "metric=" + METRIC + "&match=host=~a%7Cb&step=1h&from=" + end.minus(Duration.ofHours(3))
                + "&to=" + end);
        assertThat(count(perSeries, "\"labels\":")).isEqualTo(4);
    }

    @Test
    void rollupsServeRangesWhoseRawDataIsPastRetention() throws Exception {
        Instant at = end.minus(Duration.ofDays(9));
        String json = query(keyA, "metric=" + METRIC + "&match=host=old&agg=avg&step=30s&from=" + at + "&to="
                + at.plus(Duration.ofMinutes(5)));
        assertThat(json).contains("\"resolution\":\"1m\"", "\"step_ms\":60000", "[" + at.toEpochMilli() + ",2.0]");
    }

    @Test
    void tenantsOnlySeeTheirOwnSeries() throws Exception {
        String b = query(keyB, "metric=" + METRIC + "&step=1h&from=" + end.minus(Duration.ofHours(3)) + "&to=" + end);
        assertThat(b).contains("\"host\":\"z\"").doesNotContain("\"host\":\"a\"");
        assertThat(get(keyB, "/api/v1/labels/host/values").body()).isEqualTo("{\"data\":[\"z\"]}");
        assertThat(get(keyA, "/api/v1/labels/host/values").body()).isEqualTo("{\"data\":[\"a\",\"b\",\"c\",\"old\"]}");
        assertThat(get(keyA, "/api/v1/labels").body()).isEqualTo("{\"data\":[\"host\",\"region\"]}");
        String series = get(keyA, "/api/v1/series?metric=" + METRIC + "&match=host=b").body();
        assertThat(count(series, "\"name\":")).isEqualTo(2);
    }

    @Test
    void limitsGetClearErrors() throws Exception {
        HttpResponse<String> tooMany = get(keyC, "/api/v1/query?metric=" + METRIC);
        assertThat(tooMany.statusCode()).isEqualTo(422);
        assertThat(tooMany.body()).contains("\"code\":\"too_many_series\"", "query.max-series");
        HttpResponse<String> points = get(keyA, "/api/v1/query?metric=" + METRIC + "&step=1s&from="
                + end.minus(Duration.ofDays(1)) + "&to=" + end);
        assertThat(points.statusCode()).isEqualTo(422);
        assertThat(points.body()).contains("too_many_points", "query.max-points-per-series");
        HttpResponse<String> range = get(keyA, "/api/v1/query?metric=" + METRIC + "&step=1d&from=0&to=" + end);
        assertThat(range.statusCode()).isEqualTo(422);
        assertThat(range.body()).contains("range_too_long");
        HttpResponse<String> bad = get(keyA, "/api/v1/query?metric=" + METRIC + "&match=" + enc("host=~(") + "&step=x");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).contains("invalid_query");
        assertThat(get(null, "/api/v1/query?metric=" + METRIC).statusCode()).isEqualTo(401);
        String metrics = get(null, "/metrics").body();
        for (String reason : new String[] {"too_many_series", "too_many_points", "range_too_long"}) {
            assertThat(metrics).as(reason).containsPattern("sluice_query_rejected_total\\{api=\"range\",[^}]*reason=\""
                    + reason + "\"[^}]*} [1-9]");
        }
    }

    @Test
    void aRepeatedQueryIsServedFromTheCache() throws Exception {
        String q = "/api/v1/query?metric=" + METRIC + "&match=host=c&step=1h&from=" + end.minus(Duration.ofHours(3))
                + "&to=" + end;
        HttpResponse<String> first = get(keyA, q);
        HttpResponse<String> second = get(keyA, q);
        assertThat(first.headers().firstValue("x-sluice-cache")).hasValue("miss");
        assertThat(second.headers().firstValue("x-sluice-cache")).hasValue("hit");
        assertThat(second.body()).isEqualTo(first.body());
    }

    @Test
    void concurrentIdenticalQueriesMakeOneDatabaseCallAndAStaleAnswerOutlivesPostgres(TestInfrastructure infra) {
        java.util.concurrent.atomic.AtomicInteger connections = new java.util.concurrent.atomic.AtomicInteger();
        ConnectionFactory counting = new ConnectionFactory() {
            @Override
            public org.reactivestreams.Publisher<? extends Connection> create() {
                return Mono.defer(() -> {
                    connections.incrementAndGet();
                    return Mono.from(infra.connectionFactory().create());
                });
            }

            @Override
            public io.r2dbc.spi.ConnectionFactoryMetadata getMetadata() {
                return infra.connectionFactory().getMetadata();
            }
        };
        SluiceConfig config = sluice.config();
        io.sluice.storage.query.QueryRepository repository = new io.sluice.storage.query.QueryRepository(counting,
                config.query().statementTimeout());
        io.sluice.storage.testing.MutableClock clock = new io.sluice.storage.testing.MutableClock(end);
        io.sluice.storage.query.QueryEngine engine = new io.sluice.storage.query.QueryEngine(repository, config.query(),
                config.writer(), clock);
        io.micrometer.core.instrument.simple.SimpleMeterRegistry registry =
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        QueryCache<SeriesQuery, QueryResult> cache = QueryCache.ranges(1 << 24, new io.sluice.storage.invalidation.Invalidations(registry), clock,
                registry);
        io.sluice.storage.query.SeriesQuery q = engine.plan("qa", METRIC, List.of(new io.sluice.storage.query.Matcher(
                "host", io.sluice.storage.query.Matcher.Op.NEQ, "old")), end.minus(Duration.ofMinutes(30)),
                end, Duration.ofMinutes(1), io.sluice.storage.query.Aggregation.MAX, List.of());

        List<java.util.concurrent.CompletableFuture<QueryCache.Answer<QueryResult>>> answers = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            answers.add(cache.get(q, k -> engine.run(k).toFuture()));
        }
        answers.forEach(a -> assertThat(a.join().result().series()).hasSize(6));
        assertThat(connections).as("one load: one series lookup and one data read").hasValue(2);

        clock.advance(Duration.ofMinutes(11)); // past the 10 min backstop TTL of a range ending now
        infra.postgres().stop();
        try {
            QueryCache.Answer<QueryResult> stale = cache.get(q, k -> engine.run(k).toFuture()).join();
            assertThat(stale.source()).isEqualTo(QueryCache.Source.STALE);
            assertThat(stale.result().series()).hasSize(6);
        } finally {
            infra.postgres().start();
        }
    }

    @Test
    void aQueryOverTheStatementTimeoutGets503(TestInfrastructure infra) throws Exception {
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "query.statement-timeout", "300ms")));
        Connection locker = Mono.from(infra.connectionFactory().create()).block(Duration.ofSeconds(10));
        try (GatewayRole slow = GatewayRole.start(config)) {
            // a lock held elsewhere makes the query wait past its statement timeout
            Mono.from(locker.beginTransaction()).then(Flux.from(locker.createStatement(
                    "LOCK TABLE series IN ACCESS EXCLUSIVE MODE").execute()).flatMap(r -> r.getRowsUpdated()).then())
                    .block(Duration.ofSeconds(10));
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + slow.port()
                            + "/api/v1/labels")).header("Authorization", "Bearer " + keyA).timeout(Duration.ofSeconds(30))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(503);
            assertThat(response.body()).contains("query_timeout", "query.statement-timeout");
        } finally {
            Mono.from(locker.rollbackTransaction()).then(Mono.from(locker.close())).block(Duration.ofSeconds(10));
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------

    private static Map<Long, Double> expected(Predicate<Map<String, String>> match, String agg, long stepMs) {
        return expected(match, agg, stepMs, Long.MIN_VALUE, Long.MAX_VALUE);
    }

    /** Per step bucket, the aggregate of the matching series' samples in [fromMs, toMs). */
    private static Map<Long, Double> expected(Predicate<Map<String, String>> match, String agg, long stepMs,
                                              long fromMs, long toMs) {
        Map<Long, double[]> acc = new TreeMap<>(); // min, max, sum, count
        for (Object[] s : samplesA) {
            @SuppressWarnings("unchecked")
            Map<String, String> labels = (Map<String, String>) s[0];
            if (!match.test(labels) || (long) s[1] < fromMs || (long) s[1] >= toMs) {
                continue;
            }
            long bucket = Math.floorDiv((long) s[1], stepMs) * stepMs;
            double v = (double) s[2];
            double[] a = acc.computeIfAbsent(bucket, b -> new double[] {Double.MAX_VALUE, -Double.MAX_VALUE, 0, 0});
            a[0] = Math.min(a[0], v);
            a[1] = Math.max(a[1], v);
            a[2] += v;
            a[3]++;
        }
        Map<Long, Double> out = new TreeMap<>();
        acc.forEach((b, a) -> out.put(b, switch (agg) {
            case "avg" -> a[2] / a[3];
            case "min" -> a[0];
            case "max" -> a[1];
            case "sum" -> a[2];
            default -> a[3];
        }));
        return out;
    }

    private static void assertPoints(String json, Map<Long, Double> expected) {
        Matcher m = Pattern.compile("\\[(\\d+),([-0-9.E]+)]").matcher(json);
        Map<Long, Double> actual = new TreeMap<>();
        while (m.find()) {
            actual.put(Long.parseLong(m.group(1)), Double.parseDouble(m.group(2)));
        }
        assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
        expected.forEach((ts, v) -> assertThat(actual.get(ts)).as("point at " + ts).isCloseTo(v, within(1e-6 * Math.max(1, Math.abs(v)))));
    }

    private static int count(String s, String needle) {
        int n = 0;
        for (int i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }

    private static String query(String key, String params) throws Exception {
        HttpResponse<String> response = get(key, "/api/v1/query?" + params.replace("+", "%2B"));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return response.body();
    }

    private static HttpResponse<String> get(String key, String pathAndQuery) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + pathAndQuery))
                .timeout(Duration.ofSeconds(30));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /**
     * Stores a series as the writer would: its samples in chunks per UTC hour, and its rollups computed from them.
     * The chunks vary in how the samples are split (one chunk per hour; two chunks whose time ranges interleave,
     * as two batches with late samples write them) and in format (host c: format 0, what migration V7 writes).
     */
    private static void insertSeries(ConnectionFactory cf, String tenant, Map<String, String> labels, List<Object[]> points) {
        long id = SeriesIds.of(tenant, Series.of(METRIC, labels));
        StringBuilder json = new StringBuilder("{");
        new TreeMap<>(labels).forEach((k, v) -> json.append(json.length() > 1 ? "," : "").append('"').append(k)
                .append("\":\"").append(v).append('"'));
        exec(cf, "INSERT INTO series VALUES (" + id + ", '" + tenant + "', '" + METRIC + "', '" + json + "}', now(), now())");
        TreeMap<Long, List<Object[]>> byHour = new TreeMap<>();
        for (Object[] p : points) {
            byHour.computeIfAbsent(Math.floorDiv((long) p[1], 3_600_000L) * 3_600_000L, h -> new ArrayList<>()).add(p);
        }
        boolean plain = "c".equals(labels.get("host"));
        byHour.forEach((hour, inHour) -> {
            List<List<Object[]>> chunks = new ArrayList<>(List.of(new ArrayList<>(), new ArrayList<>()));
            boolean split = inHour.size() > 1 && (hour / 3_600_000L) % 2 == 1;
            for (int i = 0; i < inHour.size(); i++) {
                chunks.get(split ? i % 2 : 0).add(inHour.get(i));
            }
            for (List<Object[]> chunk : chunks) {
                if (!chunk.isEmpty()) {
                    insertChunk(cf, id, hour, chunk, plain);
                }
            }
        });
        insertRollups(cf, "rollups_1m", id, points, 60_000L);
        insertRollups(cf, "rollups_1h", id, points, 3_600_000L);
    }

    private static void insertChunk(ConnectionFactory cf, long seriesId, long hour, List<Object[]> points, boolean plain) {
        long[] ts = new long[points.size()];
        double[] values = new double[points.size()];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = (Long) points.get(i)[1];
            values[i] = (Double) points.get(i)[2];
        }
        byte[] data;
        if (plain) {
            java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocate(1 + 16 * ts.length).put(SampleChunks.PLAIN);
            for (int i = 0; i < ts.length; i++) {
                buffer.putLong(ts[i]).putDouble(values[i]);
            }
            data = buffer.array();
        } else {
            data = SampleChunks.pack(ts, values, 0, ts.length);
        }
        Mono.usingWhen(cf.create(), (Connection c) -> Flux.from(c.createStatement("INSERT INTO sample_chunks "
                                + "(series_id, hour, min_ms, max_ms, samples, data) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind("$1", seriesId).bind("$2", Instant.ofEpochMilli(hour)).bind("$3", ts[0])
                        .bind("$4", ts[ts.length - 1]).bind("$5", ts.length).bind("$6", java.nio.ByteBuffer.wrap(data))
                        .execute()).flatMap(r -> r.getRowsUpdated()).then(), Connection::close)
                .block(Duration.ofSeconds(30));
    }

    /** Rollup rows by their definition: min, max, sum and count of the samples of each bucket. */
    private static void insertRollups(ConnectionFactory cf, String table, long seriesId, List<Object[]> points, long width) {
        TreeMap<Long, Summary> buckets = new TreeMap<>();
        for (Object[] p : points) {
            buckets.computeIfAbsent(Math.floorDiv((long) p[1], width) * width, b -> new Summary()).add((Double) p[2]);
        }
        StringBuilder sql = new StringBuilder("INSERT INTO " + table + " VALUES ");
        buckets.forEach((bucket, s) -> sql.append(sql.charAt(sql.length() - 1) == ')' ? ", (" : "(").append(seriesId)
                .append(", '").append(Instant.ofEpochMilli(bucket)).append("', ").append(s.min()).append(", ")
                .append(s.max()).append(", ").append(s.sum()).append(", ").append(s.count()).append(')'));
        exec(cf, sql.toString());
    }

    private static void exec(ConnectionFactory cf, String sql) {
        Mono.usingWhen(cf.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(Duration.ofSeconds(30));
    }

}
