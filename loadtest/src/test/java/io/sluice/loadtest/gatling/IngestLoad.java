package io.sluice.loadtest.gatling;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.jmesPath;
import static io.gatling.javaapi.core.CoreDsl.percent;
import static io.gatling.javaapi.core.CoreDsl.randomSwitch;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.CoreDsl;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * HTTP ingest: {@code POST /api/v1/ingest/metrics} (three requests in four) and {@code POST /api/v1/ingest/events}
 * (one in four), each a batch of {@code sluice.ingest.batch} items stamped with the current time, checked for 202
 * and every item accepted. Samples go to this run's own metric, {@code loadtest.ingest.<run id>}, spread over
 * {@value #SERIES} series; events get ids unique to the run.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>property</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@code sluice.ingest.rate}</td><td>20</td><td>ingest requests per second</td></tr>
 *   <tr><td>{@code sluice.ingest.batch}</td><td>100</td><td>samples or events per request (at most 10,000, the
 *       server's default {@code ingest.max-items-per-request})</td></tr>
 *   <tr><td>{@code sluice.ingest.p99}</td><td>500ms</td><td>the run fails if the 99th percentile of either route
 *       is not below this</td></tr>
 * </table>
 */
public final class IngestLoad implements SluiceLoad.Workload {

    /** Request names in Gatling's statistics. */
    public static final String METRICS = "ingest metrics";
    public static final String EVENTS = "ingest events";

    /** How many series the samples are spread over. */
    static final int SERIES = 500;

    private static final List<String> REGIONS = QueryLoad.REGIONS;
    private static final List<String> EVENT_TYPES = List.of("deploy", "alert", "scale", "config_change");

    private final SluiceLoad load;
    private final String metric;
    private final double rate;
    private final int batch;
    private final Duration p99;
    private final AtomicLong nextSeries = new AtomicLong();
    private final AtomicLong nextEvent = new AtomicLong();

    public IngestLoad(SluiceLoad load) {
        this.load = load;
        this.metric = "loadtest.ingest." + load.runId();
        this.rate = SluiceLoad.doubleProperty("sluice.ingest.rate", 20, 0.01);
        this.batch = SluiceLoad.intProperty("sluice.ingest.batch", 100, 1);
        if (batch > 10_000) {
            throw new IllegalArgumentException("sluice.ingest.batch: " + batch
                    + " (expected: at most 10000, the server's default ingest.max-items-per-request)");
        }
        this.p99 = SluiceLoad.durationProperty("sluice.ingest.p99", Duration.ofMillis(500), false);
    }

    /** Nothing to create: every request carries its own data. */
    @Override
    public void prepare() {
    }

    /**
     * A metrics body: {@code batch} samples of consecutive series, stamped now (a batch larger than {@link #SERIES}
     * steps back a millisecond each time it wraps around, so no sample repeats another's series and time).
     */
    String metricsBody() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long now = System.currentTimeMillis();
        long first = nextSeries.getAndAdd(batch);
        StringBuilder body = new StringBuilder(batch * 120).append("{\"samples\":[");
        for (int i = 0; i < batch; i++) {
            int series = (int) ((first + i) % SERIES);
            if (i > 0) {
                body.append(',');
            }
            body.append("{\"name\":\"").append(metric)
                    .append("\",\"labels\":{\"host\":\"").append(QueryLoad.host(series))
                    .append("\",\"region\":\"").append(REGIONS.get(series % REGIONS.size()))
                    .append("\"},\"timestamp\":").append(now - i / SERIES)
                    .append(",\"value\":").append(String.format(Locale.ROOT, "%.3f", random.nextDouble(100)))
                    .append('}');
        }
        return body.append("]}").toString();
    }

    /** An events body: {@code batch} events with run-unique ids, all stamped now. */
    String eventsBody() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long now = System.currentTimeMillis();
        long first = nextEvent.getAndAdd(batch);
        StringBuilder body = new StringBuilder(batch * 160).append("{\"events\":[");
        for (int i = 0; i < batch; i++) {
            if (i > 0) {
                body.append(',');
            }
            body.append("{\"id\":\"").append(load.runId()).append('-').append(first + i)
                    .append("\",\"type\":\"").append(EVENT_TYPES.get(random.nextInt(EVENT_TYPES.size())))
                    .append("\",\"timestamp\":").append(now)
                    .append(",\"key\":\"svc-").append(random.nextInt(20))
                    .append("\",\"attributes\":{\"version\":\"1.").append(random.nextInt(50))
                    .append("\",\"region\":\"").append(REGIONS.get(random.nextInt(REGIONS.size())))
                    .append("\"}}");
        }
        return body.append("]}").toString();
    }

    @Override
    public ScenarioBuilder scenario(String phase) {
        return CoreDsl.scenario("ingest" + phase)
                .exec(randomSwitch().on(
                        percent(75).then(http(METRICS + phase).post("/api/v1/ingest/metrics")
                                .body(StringBody(session -> metricsBody()))
                                .check(status().is(202), jmesPath("accepted").ofInt().is(batch))),
                        percent(25).then(http(EVENTS + phase).post("/api/v1/ingest/events")
                                .body(StringBody(session -> eventsBody()))
                                .check(status().is(202), jmesPath("accepted").ofInt().is(batch)))));
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
        return List.of(details(METRICS).responseTime().percentile(99.0).lt(millis),
                details(EVENTS).responseTime().percentile(99.0).lt(millis));
    }
}
