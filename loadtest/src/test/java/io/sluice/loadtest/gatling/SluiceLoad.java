package io.sluice.loadtest.gatling;

import static io.gatling.javaapi.core.CoreDsl.constantUsersPerSec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.http.HttpDsl.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.PopulationBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import io.sluice.config.Values;
import io.sluice.loadtest.Endpoints;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every Sluice simulation shares: where the server is and its API key, how long to run, the Gatling
 * protocols for the API and for redirects, and the fixture calls made with {@link HttpClient} in a
 * simulation's {@code before()} hook, before any load is applied.
 *
 * <p>Settings are system properties ({@code -Dname=value}). The target comes from {@code sluice.url} and
 * {@code sluice.apiKey}, else from the {@code endpoints.env} file that {@code bin/sluice dev} writes (properties win
 * key by key):
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>property</th><th>default</th></tr>
 *   <tr><td>{@code sluice.url}</td><td>{@code HTTP_URL} from the endpoints file</td></tr>
 *   <tr><td>{@code sluice.apiKey}</td><td>{@code DEV_API_KEY} from the endpoints file</td></tr>
 *   <tr><td>{@code sluice.endpoints}</td><td>{@code .sluice/dev/endpoints.env}, relative to the working directory
 *       (the repository root when run through the Maven plugin)</td></tr>
 *   <tr><td>{@code sluice.warmUp}</td><td>{@code 10s}: a first phase at the same rates whose requests are
 *       reported apart (named {@code ... (warm-up)}) and left out of the latency assertions, so that cold JITs and
 *       caches on either side are not what is measured; {@code 0s} for none</td></tr>
 *   <tr><td>{@code sluice.duration}</td><td>{@code 30s}: how long the measured phase injects users</td></tr>
 *   <tr><td>{@code sluice.maxFailedPercent}</td><td>{@code 1}: the run fails at or above this share of failed
 *       requests</td></tr>
 * </table>
 * Each workload adds its own rate and latency settings. Durations are written like Sluice's own settings:
 * {@code 250ms}, {@code 30s}, {@code 5m}, {@code 1h}.
 */
public final class SluiceLoad {

    /** One kind of traffic: its fixtures, its users, its protocol, and what it must achieve. */
    public interface Workload {

        /** Creates the data the workload reads; called from {@code before()}, after {@link SluiceLoad#checkServer()}. */
        void prepare();

        /**
         * What one user does. {@code phase} is appended to the scenario's and every request's name: empty for the
         * measured phase, {@link SluiceLoad#WARM_UP} for the warm-up, so the two are told apart in the report.
         */
        ScenarioBuilder scenario(String phase);

        /** Users per second; each user makes one request. */
        double rate();

        /** The protocol of the workload's requests. */
        HttpProtocolBuilder protocol();

        /** Latency assertions on the workload's measured requests. */
        List<Assertion> assertions();
    }

    /** The suffix of warm-up scenario and request names. */
    public static final String WARM_UP = " (warm-up)";

    static final String DEFAULT_ENDPOINTS = ".sluice/dev/endpoints.env";

    /** How many fixture requests are in flight at once. */
    static final int FIXTURE_CONCURRENCY = 48;

    /** How long a fixture request may take. */
    private static final Duration FIXTURE_TIMEOUT = Duration.ofSeconds(30);

    /** How often {@link #await} asks again. */
    private static final Duration POLL_INTERVAL = Duration.ofMillis(250);

    /** Extra time after injection ends for the last requests to complete (or time out, see gatling.conf). */
    private static final Duration DRAIN = Duration.ofSeconds(30);

    private static final Logger log = LoggerFactory.getLogger(SluiceLoad.class);

    private final URI baseUrl;
    private final String apiKey;
    private final String source;
    private final String runId;
    private final Duration warmUp;
    private final Duration duration;
    private final double maxFailedPercent;
    private final HttpClient client;
    private final ObjectMapper json = new ObjectMapper();

    private SluiceLoad(URI baseUrl, String apiKey, String source, Duration warmUp, Duration duration,
                       double maxFailedPercent) {
        this.baseUrl = baseUrl;
        this.apiKey = apiKey;
        this.source = source;
        this.warmUp = warmUp;
        this.duration = duration;
        this.maxFailedPercent = maxFailedPercent;
        this.runId = Long.toString(System.currentTimeMillis(), 36)
                + Integer.toString(ThreadLocalRandom.current().nextInt(36 * 36), 36);
        this.client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    /** Settings from the system properties and the endpoints file; a missing or malformed one fails here. */
    public static SluiceLoad fromSystemProperties() {
        String url = System.getProperty("sluice.url");
        String key = System.getProperty("sluice.apiKey");
        String explicitFile = System.getProperty("sluice.endpoints");
        Path file = Path.of(explicitFile != null ? explicitFile : DEFAULT_ENDPOINTS).toAbsolutePath().normalize();
        List<String> sources = new ArrayList<>();
        if (url != null) {
            sources.add("-Dsluice.url");
        }
        if (key != null) {
            sources.add("-Dsluice.apiKey");
        }
        if (url == null || key == null || explicitFile != null) {
            if (Files.isRegularFile(file)) {
                Map<String, String> env = Endpoints.read(file).values();
                url = url != null ? url : env.get("HTTP_URL");
                key = key != null ? key : env.get("DEV_API_KEY");
                sources.add(file.toString());
            } else if (explicitFile != null) {
                throw new IllegalArgumentException("sluice.endpoints: " + file + " does not exist");
            }
        }
        if (url == null || url.isBlank() || key == null || key.isBlank()) {
            throw new IllegalArgumentException("No Sluice to load: " + (url == null || url.isBlank() ? "no URL" : "no API key")
                    + ". Start one with `bin/sluice dev --config loadtest/sluice-loadtest.properties` (it writes "
                    + DEFAULT_ENDPOINTS + "), or pass -Dsluice.url=http://host:port and -Dsluice.apiKey=KEY, or "
                    + "-Dsluice.endpoints=FILE (looked for " + file + ")");
        }
        URI base;
        try {
            base = URI.create(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("sluice.url: " + url + " (expected: an absolute http(s) URL)", e);
        }
        if (base.getHost() == null || !("http".equals(base.getScheme()) || "https".equals(base.getScheme()))) {
            throw new IllegalArgumentException("sluice.url: " + url + " (expected: an absolute http(s) URL)");
        }
        return new SluiceLoad(base, key.strip(), String.join(" and ", sources),
                durationProperty("sluice.warmUp", Duration.ofSeconds(10), true),
                durationProperty("sluice.duration", Duration.ofSeconds(30), false),
                doubleProperty("sluice.maxFailedPercent", 1.0, 0.0));
    }

    /** Unique per simulation run ({@code [0-9a-z]+}), so each run's links, metrics and events are its own. */
    public String runId() {
        return runId;
    }

    /** The longest a run may take: warm-up, measured phase, then time for the last requests to finish. */
    public Duration maxDuration() {
        return warmUp.plus(duration).plus(DRAIN);
    }

    /**
     * A workload's users: at its rate for the warm-up (requests named with {@link #WARM_UP}), then, once those
     * have finished, at its rate for the measured duration. Arrivals are random (Poisson) around the rate.
     */
    public PopulationBuilder population(Workload workload) {
        PopulationBuilder measured = workload.scenario("")
                .injectOpen(constantUsersPerSec(workload.rate()).during(duration).randomized())
                .protocols(workload.protocol());
        if (warmUp.isZero()) {
            return measured;
        }
        return workload.scenario(WARM_UP)
                .injectOpen(constantUsersPerSec(workload.rate()).during(warmUp).randomized())
                .protocols(workload.protocol())
                .andThen(measured);
    }

    /**
     * Every assertion of a run of these workloads: failed requests over the whole run, warm-up included (an error
     * is an error), then each workload's latency over its measured phase.
     */
    public List<Assertion> assertions(Workload... workloads) {
        List<Assertion> all = new ArrayList<>();
        all.add(global().failedRequests().percent().lt(maxFailedPercent));
        for (Workload w : workloads) {
            all.addAll(w.assertions());
        }
        return all;
    }

    /** The API: bearer key, JSON both ways, connections shared between users as an API client would. */
    public HttpProtocolBuilder apiProtocol() {
        return http.baseUrl(baseUrl.toString())
                .authorizationHeader("Bearer " + apiKey)
                .acceptHeader("application/json")
                .contentTypeHeader("application/json")
                .userAgentHeader("sluice-gatling")
                .shareConnections()
                .disableWarmUp();
    }

    /** Short-link redirects: no key, redirects are not followed, and each user is a browser with its own connection. */
    public HttpProtocolBuilder redirectProtocol() {
        return http.baseUrl(baseUrl.toString())
                .disableFollowRedirect()
                .userAgentHeader("sluice-gatling")
                .disableWarmUp();
    }

    /**
     * Fails with a message saying what to do when the server cannot be reached, is not ready, or rejects the key.
     */
    public void checkServer() {
        HttpResponse<String> ready = send(request("/health/ready", false).GET().build());
        if (ready.statusCode() != 200) {
            throw new IllegalStateException("Sluice at " + baseUrl + " is not ready: GET /health/ready answered "
                    + ready.statusCode() + " " + ready.body());
        }
        HttpResponse<String> labels = send(request("/api/v1/labels", true).GET().build());
        if (labels.statusCode() == 401) {
            throw new IllegalStateException("Sluice at " + baseUrl + " rejected the API key (from " + source
                    + "): " + labels.body() + ". Pass the key of a running instance with -Dsluice.apiKey=KEY.");
        }
        if (labels.statusCode() != 200) {
            throw new IllegalStateException("Sluice at " + baseUrl + " answered GET /api/v1/labels with "
                    + labels.statusCode() + " " + labels.body());
        }
        log.info("Sluice at {} is ready (settings from {}); run id {}", baseUrl, source, runId);
    }

    /**
     * Creates one link per target URL, {@link #FIXTURE_CONCURRENCY} requests at a time, and returns their codes
     * in the order of {@code targets}. Fails on the first link that is not created.
     */
    public List<String> createLinks(List<String> targets) {
        long started = System.nanoTime();
        String[] codes = new String[targets.size()];
        Semaphore permits = new Semaphore(FIXTURE_CONCURRENCY);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int i = 0; i < targets.size() && failure.get() == null; i++) {
            permits.acquireUninterruptibly();
            int index = i;
            HttpRequest create = request("/api/v1/links", true)
                    .POST(HttpRequest.BodyPublishers.ofString(toJson(Map.of("url", targets.get(i), "redirect", 302))))
                    .build();
            client.sendAsync(create, HttpResponse.BodyHandlers.ofString())
                    .thenAccept(response -> codes[index] = expect(response, 201, "POST /api/v1/links").path("code").asText(""))
                    .whenComplete((ignored, error) -> {
                        if (error != null) {
                            failure.compareAndSet(null, error instanceof CompletionException ? error.getCause() : error);
                        }
                        permits.release();
                    });
        }
        permits.acquireUninterruptibly(FIXTURE_CONCURRENCY);
        if (failure.get() != null) {
            throw fixtureFailure("creating links", failure.get());
        }
        for (int i = 0; i < codes.length; i++) {
            if (codes[i].isEmpty()) {
                throw new IllegalStateException("POST /api/v1/links answered without a code for " + targets.get(i));
            }
        }
        log.info("Created {} links in {} ms", codes.length, (System.nanoTime() - started) / 1_000_000);
        return List.of(codes);
    }

    /**
     * Posts {@code items} to an ingest route ({@code /api/v1/ingest/metrics} with field {@code samples}, or
     * {@code /api/v1/ingest/events} with {@code events}) in batches of {@code batchSize}, and fails unless every
     * item is accepted.
     */
    public void ingest(String path, String field, List<? extends Map<String, ?>> items, int batchSize) {
        List<CompletableFuture<Void>> batches = new ArrayList<>();
        Semaphore permits = new Semaphore(FIXTURE_CONCURRENCY);
        for (int from = 0; from < items.size(); from += batchSize) {
            List<? extends Map<String, ?>> batch = items.subList(from, Math.min(items.size(), from + batchSize));
            HttpRequest post = request(path, true)
                    .POST(HttpRequest.BodyPublishers.ofString(toJson(Map.of(field, batch))))
                    .build();
            permits.acquireUninterruptibly();
            batches.add(client.sendAsync(post, HttpResponse.BodyHandlers.ofString())
                    .thenAccept(response -> {
                        JsonNode answer = expect(response, 202, "POST " + path);
                        if (answer.path("accepted").asInt(-1) != batch.size()) {
                            throw new IllegalStateException("POST " + path + " accepted " + answer.path("accepted")
                                    + " of " + batch.size() + " items: " + answer.path("rejected"));
                        }
                    })
                    .whenComplete((ignored, error) -> permits.release()));
        }
        try {
            CompletableFuture.allOf(batches.toArray(CompletableFuture[]::new)).join();
        } catch (CompletionException e) {
            throw fixtureFailure("ingesting into " + path, e.getCause());
        }
    }

    /** GETs an API route (path and query string, already encoded) and returns its JSON; fails unless 200. */
    public JsonNode getJson(String pathAndQuery) {
        return expect(send(request(pathAndQuery, true).GET().build()), 200, "GET " + pathAndQuery);
    }

    /**
     * Polls {@code observed} until it reaches {@code expected}, and fails after {@code timeout} with how far it got.
     * Used to wait for fixture data to become queryable instead of sleeping for a guessed time.
     */
    public void await(String what, long expected, Duration timeout, LongSupplier observed) {
        long started = System.nanoTime();
        AtomicLong seen = new AtomicLong();
        try {
            Awaitility.await(what).atMost(timeout).pollInterval(POLL_INTERVAL)
                    .until(() -> {
                        seen.set(observed.getAsLong());
                        return seen.get() >= expected;
                    });
        } catch (ConditionTimeoutException e) {
            throw new IllegalStateException("Fixture not ready: " + seen.get() + " of " + expected + " " + what
                    + " after " + timeout.toSeconds() + " s", e);
        }
        log.info("{} {} after {} ms", expected, what, (System.nanoTime() - started) / 1_000_000);
    }

    private HttpRequest.Builder request(String pathAndQuery, boolean authenticated) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(baseUrl + pathAndQuery))
                .timeout(FIXTURE_TIMEOUT)
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .header("User-Agent", "sluice-gatling");
        return authenticated ? builder.header("Authorization", "Bearer " + apiKey) : builder;
    }

    private HttpResponse<String> send(HttpRequest request) {
        try {
            return client.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw fixtureFailure(request.method() + " " + request.uri().getPath(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted: " + request.method() + " " + request.uri(), e);
        }
    }

    private JsonNode expect(HttpResponse<String> response, int status, String what) {
        if (response.statusCode() == 401) {
            throw new IllegalStateException(what + ": the API key (from " + source + ") was rejected: " + response.body());
        }
        if (response.statusCode() != status) {
            throw new IllegalStateException(what + " answered " + response.statusCode() + " (expected " + status
                    + "): " + response.body());
        }
        try {
            return json.readTree(response.body());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(what + " answered " + status + " with a body that is not JSON: "
                    + response.body(), e);
        }
    }

    private RuntimeException fixtureFailure(String what, Throwable cause) {
        if (cause instanceof ConnectException) {
            return new IllegalStateException("Cannot connect to Sluice at " + baseUrl + " (from " + source + ") for "
                    + what + (cause.getMessage() != null ? ": " + cause.getMessage() : "") + ". Is it running? Start one"
                    + " with `bin/sluice dev --config loadtest/sluice-loadtest.properties`, or pass -Dsluice.url.", cause);
        }
        if (cause instanceof HttpTimeoutException) {
            return new IllegalStateException("Sluice at " + baseUrl + " did not answer within " + FIXTURE_TIMEOUT.toSeconds()
                    + " s while " + what, cause);
        }
        if (cause instanceof RuntimeException runtime) {
            return runtime;
        }
        return new IllegalStateException("Failed " + what + " at " + baseUrl + ": " + cause, cause);
    }

    private String toJson(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write JSON for " + value, e);
        }
    }

    /** An endless, thread-safe Gatling feeder whose every record comes from {@code next}. */
    static Iterator<Map<String, Object>> endless(Supplier<Map<String, Object>> next) {
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public Map<String, Object> next() {
                return next.get();
            }
        };
    }

    /** An integer system property at least {@code min}. */
    static int intProperty(String name, int fallback, int min) {
        String raw = System.getProperty(name);
        if (raw == null) {
            return fallback;
        }
        try {
            int value = Integer.parseInt(raw.strip());
            if (value >= min) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + ": " + raw + " (expected: an integer >= " + min + ")");
    }

    /** A decimal system property at least {@code min}. */
    static double doubleProperty(String name, double fallback, double min) {
        String raw = System.getProperty(name);
        if (raw == null) {
            return fallback;
        }
        try {
            double value = Double.parseDouble(raw.strip());
            if (value >= min && Double.isFinite(value)) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + ": " + raw + " (expected: a number >= " + min + ")");
    }

    /** A duration system property written like {@code 250ms}, {@code 30s}, {@code 5m}, {@code 1h}. */
    static Duration durationProperty(String name, Duration fallback, boolean zeroAllowed) {
        String raw = System.getProperty(name);
        return raw == null ? fallback : parseDuration(name, raw, zeroAllowed);
    }

    static Duration parseDuration(String name, String raw, boolean zeroAllowed) {
        try {
            Duration value = Values.duration(raw.strip().toLowerCase(Locale.ROOT));
            if (zeroAllowed || !value.isZero()) {
                return value;
            }
        } catch (IllegalArgumentException e) {
            // reported below, with the property's name
        }
        throw new IllegalArgumentException(name + ": " + raw + " (expected: a " + (zeroAllowed ? "" : "positive ")
                + "duration like 250ms, 30s, 5m, 1h)");
    }
}
