package io.sluice.loadtest.gatling;

import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.feed;
import static io.gatling.javaapi.core.CoreDsl.jmesPath;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import com.fasterxml.jackson.databind.JsonNode;
import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.CoreDsl;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Session;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

/**
 * The query mix: {@code GET /api/v1/query} as dashboards ask it. Seven queries in ten ask for a recent range (the
 * last 5 to 15 minutes at 10 to 30 second steps) and read raw samples; the others ask for a long range (the last hour
 * to 7 days at 5 minute to 1 hour steps) and read the 1-minute and 1-hour rollups. Some ask for every series, some
 * filter with {@code match} (equality, inequality, regex) and some aggregate with {@code group_by}. Ranges are
 * relative to now, so repeated questions are answered from the query cache as they would be for a dashboard that
 * refreshes. Each answer is checked for 200, the metric, the resolution the step calls for, and a {@code series}
 * array.
 *
 * <p>The data is this run's own: {@code before()} ingests one metric, {@code loadtest.cpu.<run id>}, with
 * {@code sluice.query.series} series over the last 55 minutes at 10 second spacing (ingest only accepts the last
 * hour), then polls the query API until every sample is queryable.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>property</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@code sluice.query.rate}</td><td>20</td><td>queries per second</td></tr>
 *   <tr><td>{@code sluice.query.series}</td><td>50</td><td>series of the fixture metric (at most 500, the
 *       server's {@code query.max-series})</td></tr>
 *   <tr><td>{@code sluice.query.p99}</td><td>500ms</td><td>the run fails if the 99th percentile of either kind of
 *       query is not below this</td></tr>
 * </table>
 */
public final class QueryLoad implements SluiceLoad.Workload {

    /** Request names in Gatling's statistics. */
    public static final String RECENT = "query recent (raw)";
    public static final String LONG = "query long (rollups)";

    /** The share of queries that ask for a recent range. */
    static final double RECENT_SHARE = 0.7;

    static final List<String> REGIONS = List.of("eu-west", "eu-central", "us-east", "ap-south");
    static final Duration SPACING = Duration.ofSeconds(10);
    static final Duration HISTORY = Duration.ofMinutes(55);
    private static final int INGEST_BATCH = 5_000;
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

    /** One kind of question: a range back from now, a step, an aggregation, and optional matcher and grouping. */
    private record Shape(String request, Duration range, String step, String resolution, String agg,
                         Function<ThreadLocalRandom, String> match, String groupBy) {
    }

    private final SluiceLoad load;
    private final String metric;
    private final double rate;
    private final int seriesCount;
    private final Duration p99;
    private final List<Shape> recent;
    private final List<Shape> longRanges;

    public QueryLoad(SluiceLoad load) {
        this.load = load;
        this.metric = "loadtest.cpu." + load.runId();
        this.rate = SluiceLoad.doubleProperty("sluice.query.rate", 20, 0.01);
        this.seriesCount = SluiceLoad.intProperty("sluice.query.series", 50, 1);
        if (seriesCount > 500) {
            throw new IllegalArgumentException("sluice.query.series: " + seriesCount
                    + " (expected: at most 500, the server's default query.max-series)");
        }
        this.p99 = SluiceLoad.durationProperty("sluice.query.p99", Duration.ofMillis(500), false);
        Function<ThreadLocalRandom, String> host = r -> "host=" + host(r.nextInt(seriesCount));
        Function<ThreadLocalRandom, String> region = r -> "region=" + REGIONS.get(r.nextInt(REGIONS.size()));
        this.recent = List.of(
                new Shape(RECENT, Duration.ofMinutes(5), "10s", "raw", "avg", null, null),
                new Shape(RECENT, Duration.ofMinutes(15), "30s", "raw", "max", host, null),
                new Shape(RECENT, Duration.ofMinutes(10), "10s", "raw", "avg", region, null),
                new Shape(RECENT, Duration.ofMinutes(15), "15s", "raw", "sum", null, "region"));
        this.longRanges = List.of(
                new Shape(LONG, Duration.ofHours(1), "5m", "1m", "avg", r -> "region!=us-east", null),
                new Shape(LONG, Duration.ofHours(6), "15m", "1m", "max", r -> "region=~eu-.*", "region"),
                new Shape(LONG, Duration.ofHours(24), "1h", "1h", "avg", host, null),
                new Shape(LONG, Duration.ofDays(7), "1h", "1h", "sum", null, "region"));
    }

    static String host(int i) {
        return String.format(Locale.ROOT, "h%03d", i);
    }

    /** Ingests the fixture metric and waits until all of it is queryable. */
    @Override
    public void prepare() {
        long spacing = SPACING.toMillis();
        long end = Math.floorDiv(System.currentTimeMillis(), spacing) * spacing;
        long start = end - HISTORY.toMillis();
        List<Map<String, Object>> samples = new ArrayList<>();
        for (int s = 0; s < seriesCount; s++) {
            Map<String, String> labels = Map.of("host", host(s), "region", REGIONS.get(s % REGIONS.size()));
            for (long t = start; t <= end; t += spacing) {
                double value = 40 + s % 10 + 30 * Math.sin(2 * Math.PI * t / 900_000.0 + s);
                samples.add(Map.of("name", metric, "labels", labels, "timestamp", t, "value", value));
            }
        }
        load.ingest("/api/v1/ingest/metrics", "samples", samples, INGEST_BATCH);
        // Counts per 30 s bucket over raw samples. Each poll asks a range one step longer than the one before, so
        // no poll is answered from the query cache's copy of an earlier, incomplete answer.
        int[] poll = {0};
        load.await("samples of " + metric + " queryable", samples.size(), READY_TIMEOUT, () -> {
            long from = start / 1000 - 30L * ++poll[0];
            JsonNode answer = load.getJson("/api/v1/query?metric=" + metric + "&agg=count&step=30s&from=" + from
                    + "&to=" + (end / 1000 + 30));
            long count = 0;
            for (JsonNode series : answer.path("series")) {
                for (JsonNode point : series.path("points")) {
                    count += point.path(1).asLong();
                }
            }
            return count;
        });
    }

    /** Endless records: which request, its query parameters, and the resolution the answer must report. */
    private Iterator<Map<String, Object>> queries() {
        return SluiceLoad.endless(() -> {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            List<Shape> kind = random.nextDouble() < RECENT_SHARE ? recent : longRanges;
            Shape shape = kind.get(random.nextInt(kind.size()));
            List<Map.Entry<String, Object>> params = new ArrayList<>();
            params.add(Map.entry("metric", metric));
            params.add(Map.entry("from", System.currentTimeMillis() / 1000 - shape.range().toSeconds()));
            params.add(Map.entry("step", shape.step()));
            params.add(Map.entry("agg", shape.agg()));
            if (shape.match() != null) {
                params.add(Map.entry("match", shape.match().apply(random)));
            }
            if (shape.groupBy() != null) {
                params.add(Map.entry("group_by", shape.groupBy()));
            }
            Map<String, Object> record = new LinkedHashMap<>();
            record.put("queryName", shape.request());
            record.put("queryParams", params);
            record.put("resolution", shape.resolution());
            return record;
        });
    }

    @Override
    public ScenarioBuilder scenario(String phase) {
        return CoreDsl.scenario("query mix" + phase)
                .exec(feed(queries()),
                        http(session -> session.getString("queryName") + phase).get("/api/v1/query")
                                .queryParamSeq((Session session) -> session.<Map.Entry<String, Object>>getList("queryParams"))
                                .check(status().is(200),
                                        jmesPath("metric").is(metric),
                                        jmesPath("resolution").isEL("#{resolution}"),
                                        jmesPath("length(series)").ofInt().exists()));
    }

    @Override
    public double rate() {
        return rate;
    }

    @Override
    public HttpProtocolBuilder protocol() {
        return load.apiProtocol();
    }

    @Override
    public List<Assertion> assertions() {
        int millis = (int) p99.toMillis();
        return List.of(details(RECENT).responseTime().percentile(99.0).lt(millis),
                details(LONG).responseTime().percentile(99.0).lt(millis));
    }
}
