package io.sluice.loadtest.gatling;

import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.feed;
import static io.gatling.javaapi.http.HttpDsl.header;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.CoreDsl;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Short-link redirects: {@code GET /{code}} over a set of links this workload creates, picked with a Zipf
 * distribution so that a few links are hot and most are cold, as real link traffic is. Each user is one click
 * from a fresh browser (its own connection), arriving at random at the configured mean rate: one request, not
 * followed, checked for 302 and a {@code Location} equal to the link's target.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>property</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@code sluice.redirect.rate}</td><td>200</td><td>redirects per second</td></tr>
 *   <tr><td>{@code sluice.redirect.links}</td><td>10000</td><td>links created in {@code before()}</td></tr>
 *   <tr><td>{@code sluice.redirect.zipf}</td><td>1.0</td><td>Zipf exponent; 0 is uniform, larger is more
 *       skewed</td></tr>
 *   <tr><td>{@code sluice.redirect.p99}</td><td>100ms</td><td>the run fails if the 99th percentile is not
 *       below this</td></tr>
 * </table>
 */
public final class RedirectLoad implements SluiceLoad.Workload {

    /** The request name in Gatling's statistics. */
    public static final String REQUEST = "redirect";

    private final SluiceLoad load;
    private final double rate;
    private final int linkCount;
    private final Duration p99;
    private final ZipfFeeder feeder;
    private volatile List<Map<String, Object>> links;

    public RedirectLoad(SluiceLoad load) {
        this.load = load;
        this.rate = SluiceLoad.doubleProperty("sluice.redirect.rate", 200, 0.01);
        this.linkCount = SluiceLoad.intProperty("sluice.redirect.links", 10_000, 1);
        this.p99 = SluiceLoad.durationProperty("sluice.redirect.p99", Duration.ofMillis(100), false);
        this.feeder = new ZipfFeeder(linkCount, SluiceLoad.doubleProperty("sluice.redirect.zipf", 1.0, 0.0), this::link);
    }

    private Map<String, Object> link(int rank) {
        List<Map<String, Object>> created = links;
        if (created == null) {
            throw new IllegalStateException("links have not been created: prepare() runs in the simulation's before()");
        }
        return created.get(rank);
    }

    /** Creates the links; rank 0 (the most popular) is the first target. */
    @Override
    public void prepare() {
        List<String> targets = new ArrayList<>(linkCount);
        for (int i = 0; i < linkCount; i++) {
            targets.add("https://example.com/sluice-loadtest/" + load.runId() + "/" + i);
        }
        List<String> codes = load.createLinks(targets);
        List<Map<String, Object>> records = new ArrayList<>(linkCount);
        for (int i = 0; i < linkCount; i++) {
            records.add(Map.of("code", codes.get(i), "target", targets.get(i)));
        }
        links = List.copyOf(records);
    }

    @Override
    public ScenarioBuilder scenario(String phase) {
        return CoreDsl.scenario("redirects" + phase)
                .exec(feed(feeder),
                        http(REQUEST + phase).get("/#{code}")
                                .check(status().is(302), header("Location").isEL("#{target}")));
    }

    @Override
    public double rate() {
        return rate;
    }

    @Override
    public HttpProtocolBuilder protocol() {
        return load.redirectProtocol();
    }

    @Override
    public List<Assertion> assertions() {
        return List.of(details(REQUEST).responseTime().percentile(99.0).lt((int) p99.toMillis()));
    }
}
