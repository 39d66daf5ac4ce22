package io.sluice.gateway.prometheus;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpMethod;
import io.sluice.gateway.auth.ApiGuard;
import io.sluice.gateway.http.AcceptEncoding;
import io.sluice.gateway.http.DependencyErrors;
import io.sluice.gateway.http.HttpRouter;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.http.Json;
import io.sluice.gateway.ingest.NameSyntax;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.promql.PromqlException;
import io.sluice.storage.promql.PromqlQuery;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.query.QueryCache;
import io.sluice.storage.promql.PromqlSelectors;
import io.sluice.storage.promql.StoredSampleSource;
import io.sluice.storage.query.Matcher;
import io.sluice.storage.query.Queries;
import io.sluice.storage.query.QueryException;
import io.sluice.storage.query.QueryLimitException;
import io.sluice.storage.query.SeriesInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.TimeoutException;

/**
 * Prometheus' HTTP query API under {@link #PREFIX}, for Grafana's Prometheus data source and other Prometheus
 * clients: {@code query}, {@code query_range}, {@code series}, {@code labels}, {@code label/{name}/values},
 * {@code metadata} and {@code status/buildinfo}, each scoped to the caller's tenant, answered in Prometheus'
 * envelope ({@link PrometheusJson}).
 *
 * <p>Errors as Prometheus types them: 400 {@code bad_data} (a parameter, an expression that does not parse or is
 * outside Sluice's PromQL subset, a regular expression PostgreSQL refuses), 422 {@code execution} (a
 * {@code query.*} limit, a failure while evaluating), 503 {@code timeout} or {@code unavailable} with
 * {@code Retry-After} (the request's {@code timeout} or PostgreSQL's deadline passed, PostgreSQL unreachable),
 * 500 {@code internal}. Authentication (401) and rate limits (429) are the API guard's, in Sluice's error shape.
 */
public final class PrometheusRoutes implements AutoCloseable {

    /** Where the API lives, so that Sluice's own {@code /api/v1/query} stays as it is. */
    public static final String PREFIX = "/prometheus";
    /** The Prometheus version {@code status/buildinfo} names: Grafana enables its features by it. */
    public static final String PROMETHEUS_VERSION = "2.45.0";
    private static final String LABEL_VALUES_PREFIX = PREFIX + "/api/v1/label/";
    private static final String LABEL_VALUES_SUFFIX = "/values";
    private static final Logger log = LoggerFactory.getLogger(PrometheusRoutes.class);

    private final Queries queries;
    private final Clock clock;
    private final Duration deadline;
    private final RenderedAnswers rendered;

    /**
     * @param clock            what "now" is when a query names no {@code time}; a request's {@code timeout} may
     *                         shorten the queries' deadline ({@link Queries#deadline()}), never lengthen it
     * @param renderedMaxBytes most bytes of answers kept rendered ({@link RenderedAnswers}): {@code query.cache-max-bytes}'s
     *                         share for them ({@link io.sluice.config.QueryConfig#renderedCacheBytes()})
     */
    public PrometheusRoutes(Queries queries, Clock clock, long renderedMaxBytes) {
        this.queries = queries;
        this.clock = clock;
        this.deadline = queries.deadline();
        this.rendered = new RenderedAnswers(renderedMaxBytes, reactor.core.scheduler.Schedulers.parallel());
    }

    /**
     * Registers every route of this API under {@link #PREFIX}, each behind the API guard (the key from
     * {@code Authorization: Bearer} or {@code Basic} with the key as password; the tenant is the key's).
     */
    public static HttpRouter.Builder register(HttpRouter.Builder router, ApiGuard guard, PrometheusRoutes api) {
        String v1 = PREFIX + "/api/v1";
        for (HttpMethod method : List.of(HttpMethod.GET, HttpMethod.POST)) {
            router.route(method, v1 + "/query", guard.guard(api::query))
                    .route(method, v1 + "/query_range", guard.guard(api::queryRange))
                    .route(method, v1 + "/series", guard.guard(api::series))
                    .route(method, v1 + "/labels", guard.guard(api::labels));
        }
        return router.prefix(HttpMethod.GET, LABEL_VALUES_PREFIX, LABEL_VALUES_PREFIX + "{name}/values",
                        guard.guard(api::labelValues))
                .route(HttpMethod.GET, v1 + "/metadata", guard.guard(api::metadata))
                .route(HttpMethod.GET, v1 + "/status/buildinfo", guard.guard(api::buildInfo));
    }

    /** {@code GET|POST /prometheus/api/v1/query}: query, time, timeout. */
    public void query(HttpExchange exchange, Principal principal) {
        Mono<QueryCache.Answer<PromqlResult>> answer;
        try {
            PrometheusParams params = PrometheusParams.of(exchange);
            String expr = params.required("query");
            long time = params.timeMs("time", clock.millis());
            answer = withTimeout(params, queries.promql(PromqlQuery.instant(principal.tenant(), expr, time)));
        } catch (RuntimeException e) {
            fail(exchange, e);
            return;
        }
        answer.subscribe(cached -> respondCached(exchange, cached), error -> fail(exchange, error));
    }

    /** {@code GET|POST /prometheus/api/v1/query_range}: query, start, end, step, timeout. */
    public void queryRange(HttpExchange exchange, Principal principal) {
        Mono<QueryCache.Answer<PromqlResult>> answer;
        try {
            PrometheusParams params = PrometheusParams.of(exchange);
            String expr = params.required("query");
            long start = params.timeMs("start");
            long end = params.timeMs("end");
            if (end < start) {
                throw PrometheusParams.badData("invalid parameter \"end\": end timestamp must not be before start time");
            }
            long step = params.durationMs("step");
            if (step <= 0) {
                throw PrometheusParams.badData("invalid parameter \"step\": zero or negative query resolution step "
                        + "widths are not accepted. Try a positive integer");
            }
            answer = withTimeout(params, queries.promql(PromqlQuery.range(principal.tenant(), expr, start, end, step)));
        } catch (RuntimeException e) {
            fail(exchange, e);
            return;
        }
        answer.subscribe(cached -> respondCached(exchange, cached), error -> fail(exchange, error));
    }

    /** Frees the answers kept rendered (direct memory); responses still writing one keep their own reference. */
    @Override
    public void close() {
        rendered.clear();
    }

    /**
     * A query's answer, with where it came from in {@code X-Sluice-Cache} ({@code hit}, {@code miss}, {@code stale}),
     * gzip-compressed for a client that takes it when the answer is kept compressed ({@link RenderedAnswers}).
     */
    private void respondCached(HttpExchange exchange, QueryCache.Answer<PromqlResult> cached) {
        RenderedAnswers.Body body = rendered.body(cached.result(), exchange.alloc(),
                cached.source() != QueryCache.Source.MISS,
                AcceptEncoding.takesGzip(exchange.headers().get(HttpHeaderNames.ACCEPT_ENCODING)));
        exchange.responseHeaders().set("X-Sluice-Cache", cached.source().name().toLowerCase(java.util.Locale.ROOT))
                .set(HttpHeaderNames.VARY, "Accept-Encoding");
        if (body.gzip()) {
            exchange.responseHeaders().set(HttpHeaderNames.CONTENT_ENCODING, HttpHeaderValues.GZIP);
        }
        exchange.respond(HttpResponseStatus.OK, HttpHeaderValues.APPLICATION_JSON, body.bytes());
    }

    /** {@code GET|POST /prometheus/api/v1/series}: match[] (at least one), start and end (checked, not applied). */
    public void series(HttpExchange exchange, Principal principal) {
        Mono<List<SeriesInfo>> answer;
        try {
            PrometheusParams params = PrometheusParams.of(exchange);
            checkRange(params);
            List<List<Matcher>> selectors = selectors(params);
            if (selectors.isEmpty()) {
                throw PrometheusParams.badData("no match[] parameter provided");
            }
            answer = queries.matching(principal.tenant(), selectors);
        } catch (RuntimeException e) {
            fail(exchange, e);
            return;
        }
        answer.map(PrometheusRoutes::sortedLabelSets).subscribe(series -> respond(exchange, json -> {
            json.writeStartArray();
            for (SortedMap<String, String> labels : series) {
                json.writeStartObject();
                for (var label : labels.entrySet()) {
                    json.writeStringField(label.getKey(), label.getValue());
                }
                json.writeEndObject();
            }
            json.writeEndArray();
        }), error -> fail(exchange, error));
    }

    /** {@code GET|POST /prometheus/api/v1/labels}: optional match[]; start and end checked, not applied. */
    public void labels(HttpExchange exchange, Principal principal) {
        Mono<List<String>> answer;
        try {
            PrometheusParams params = PrometheusParams.of(exchange);
            checkRange(params);
            answer = queries.labelNames(principal.tenant(), selectors(params));
        } catch (RuntimeException e) {
            fail(exchange, e);
            return;
        }
        answer.subscribe(names -> respond(exchange, json -> PrometheusJson.strings(json, names)),
                error -> fail(exchange, error));
    }

    /** {@code GET /prometheus/api/v1/label/{name}/values}: optional match[]; start and end checked, not applied. */
    public void labelValues(HttpExchange exchange, Principal principal) {
        String path = exchange.path();
        if (!path.endsWith(LABEL_VALUES_SUFFIX)
                || path.length() <= LABEL_VALUES_PREFIX.length() + LABEL_VALUES_SUFFIX.length()) {
            error(exchange, HttpResponseStatus.NOT_FOUND, "not_found", "no route for " + path);
            return;
        }
        String label = path.substring(LABEL_VALUES_PREFIX.length(), path.length() - LABEL_VALUES_SUFFIX.length());
        Mono<List<String>> answer;
        try {
            if (!NameSyntax.LABEL.matches(label)) {
                throw PrometheusParams.badData("invalid label name: \"" + label + "\"");
            }
            PrometheusParams params = PrometheusParams.of(exchange);
            checkRange(params);
            answer = queries.labelValues(principal.tenant(), label, selectors(params));
        } catch (RuntimeException e) {
            fail(exchange, e);
            return;
        }
        answer.subscribe(values -> respond(exchange, json -> PrometheusJson.strings(json, values)),
                error -> fail(exchange, error));
    }

    /** {@code GET /prometheus/api/v1/metadata}: Sluice keeps no metric metadata (type, help, unit). */
    public void metadata(HttpExchange exchange, Principal principal) {
        respond(exchange, json -> {
            json.writeStartObject();
            json.writeEndObject();
        });
    }

    /**
     * {@code GET /prometheus/api/v1/status/buildinfo}: a Prometheus {@link #PROMETHEUS_VERSION} without
     * {@code features} (Grafana then treats the source as Prometheus, not Mimir), and Sluice's own version.
     */
    public void buildInfo(HttpExchange exchange, Principal principal) {
        String sluice = java.util.Objects.requireNonNullElse(
                PrometheusRoutes.class.getPackage().getImplementationVersion(), "development");
        respond(exchange, json -> {
            json.writeStartObject();
            json.writeStringField("version", PROMETHEUS_VERSION);
            json.writeStringField("revision", "sluice-" + sluice);
            json.writeStringField("branch", "sluice");
            json.writeStringField("buildUser", "sluice");
            json.writeStringField("buildDate", "");
            json.writeStringField("goVersion", "none");
            json.writeStringField("application", "sluice");
            json.writeStringField("sluiceVersion", sluice);
            json.writeEndObject();
        });
    }

    /** The series' label sets in Prometheus' order: label by label, name then value; a prefix first. */
    private static List<SortedMap<String, String>> sortedLabelSets(List<SeriesInfo> series) {
        List<SortedMap<String, String>> out = new ArrayList<>(series.size());
        for (SeriesInfo s : series) {
            out.add(StoredSampleSource.labels(s));
        }
        out.sort((a, b) -> {
            Iterator<Map.Entry<String, String>> x = a.entrySet().iterator();
            Iterator<Map.Entry<String, String>> y = b.entrySet().iterator();
            while (x.hasNext() && y.hasNext()) {
                Map.Entry<String, String> l = x.next();
                Map.Entry<String, String> r = y.next();
                int c = l.getKey().compareTo(r.getKey());
                if (c == 0) {
                    c = l.getValue().compareTo(r.getValue());
                }
                if (c != 0) {
                    return c;
                }
            }
            return Boolean.compare(x.hasNext(), y.hasNext());
        });
        return out;
    }

    /** start and end, when given, must parse and be in order (Prometheus checks them; Sluice keeps no series times). */
    private static void checkRange(PrometheusParams params) {
        long start = params.timeMs("start", Long.MIN_VALUE);
        long end = params.timeMs("end", Long.MAX_VALUE);
        if (end < start) {
            throw PrometheusParams.badData("invalid parameter \"end\": end timestamp must not be before start time");
        }
    }

    private static List<List<Matcher>> selectors(PrometheusParams params) {
        List<List<Matcher>> out = new ArrayList<>();
        for (String match : params.all("match[]")) {
            out.add(PromqlSelectors.parse(match));
        }
        return out;
    }

    private <T> Mono<T> withTimeout(PrometheusParams params, Mono<T> work) {
        String timeout = params.get("timeout");
        if (timeout == null || timeout.isEmpty()) {
            return work;
        }
        long ms = PrometheusParams.parseDuration("timeout", timeout);
        if (ms <= 0 || ms >= deadline.toMillis()) {
            return work; // the repository's deadline bounds every query already
        }
        return work.timeout(Duration.ofMillis(ms), Mono.error(() -> new RequestTimeout(timeout)));
    }

    private static void respond(HttpExchange exchange, Json.Writer data) {
        exchange.respondJson(HttpResponseStatus.OK, json -> PrometheusJson.success(json, data));
    }

    private static void error(HttpExchange exchange, HttpResponseStatus status, String errorType, String message) {
        exchange.respondJson(status, json -> PrometheusJson.error(json, errorType, message));
    }

    /** Every failure, typed as Prometheus types it. */
    private static void fail(HttpExchange exchange, Throwable failure) {
        Throwable e = DependencyErrors.unwrap(failure);
        if (e instanceof PromqlException p) {
            error(exchange, p.errorType() == PromqlException.ErrorType.BAD_DATA ? HttpResponseStatus.BAD_REQUEST
                    : HttpResponseStatus.UNPROCESSABLE_ENTITY, p.errorType().wire(), p.getMessage());
        } else if (e instanceof QueryLimitException limit) {
            error(exchange, HttpResponseStatus.UNPROCESSABLE_ENTITY, "execution", limit.getMessage());
        } else if (e instanceof QueryException q && q.kind() == QueryException.Kind.INVALID_REGEX) {
            // Java accepted the pattern, PostgreSQL's dialect did not (e.g. a{1,300}, named groups)
            error(exchange, HttpResponseStatus.BAD_REQUEST, "bad_data",
                    "a regular expression PostgreSQL does not accept (" + q.getMessage() + ")");
        } else if (e instanceof QueryException q && q.kind() == QueryException.Kind.TIMEOUT) {
            unavailable(exchange, "timeout", "the query ran longer than query.statement-timeout; narrow it");
        } else if (e instanceof RequestTimeout t) {
            unavailable(exchange, "timeout", t.getMessage());
        } else if (PostgresCalls.isUnavailable(e) && isDeadline(e)) {
            unavailable(exchange, "timeout", "PostgreSQL did not answer within the query's deadline "
                    + "(query.statement-timeout + postgres.call-timeout); retry later");
        } else if (PostgresCalls.isUnavailable(e)) {
            unavailable(exchange, "unavailable", (PostgresCalls.isUnreachable(e) ? "PostgreSQL cannot be reached"
                    : "PostgreSQL refused the query for now") + "; retry later");
        } else {
            log.error("{} {} failed", exchange.method(), exchange.path(), e);
            error(exchange, HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal", "internal error");
        }
    }

    private static boolean isDeadline(Throwable e) {
        return e instanceof io.sluice.storage.postgres.PostgresUnavailableException && e.getCause() == null
                || e instanceof TimeoutException;
    }

    private static void unavailable(HttpExchange exchange, String errorType, String message) {
        long seconds = Math.max(1, (PostgresCalls.RETRY_AFTER.toMillis() + 999) / 1000);
        exchange.responseHeaders().set(HttpHeaderNames.RETRY_AFTER, seconds);
        error(exchange, HttpResponseStatus.SERVICE_UNAVAILABLE, errorType, message);
    }

    /** The request's own {@code timeout} passed. */
    private static final class RequestTimeout extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RequestTimeout(String timeout) {
            super("query timed out in expression evaluation (timeout=" + timeout + ")", null, false, false);
        }
    }
}
