package io.sluice.gateway.query;

import io.sluice.storage.query.Matcher;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.DependencyErrors;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.http.JsonDoubles;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.query.Queries;
import io.sluice.storage.query.QueryCache;
import io.sluice.storage.query.QueryException;
import io.sluice.storage.query.QueryLimitException;
import io.sluice.storage.query.QueryResult;
import io.sluice.storage.query.SeriesInfo;
import io.sluice.storage.query.SeriesQuery;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code GET /api/v1/query}, {@code GET /api/v1/series}, {@code GET /api/v1/labels} and
 * {@code GET /api/v1/labels/{name}/values}, each scoped to the caller's tenant: parses the parameters, asks
 * {@link Queries} and renders its answer.
 *
 * <p>Query answers carry {@code X-Sluice-Cache: hit|miss|stale}. 400 for a bad parameter, 422 for a
 * limit ({@code query.*}), 503 when PostgreSQL cannot answer and nothing stale is cached.
 */
public final class QueryRoutes {

    private final Queries queries;
    private final Clock clock;

    /** @param clock what "now" is when a query names no {@code to} */
    public QueryRoutes(Queries queries, Clock clock) {
        this.queries = queries;
        this.clock = clock;
    }

    public void query(HttpExchange exchange, Principal principal) {
        Mono<QueryCache.Answer<QueryResult>> answered;
        try {
            QueryParams params = params(exchange);
            Instant to = params.time("to", clock.instant());
            Instant from = params.time("from", to.minus(Duration.ofHours(1)));
            if (!from.isBefore(to)) {
                throw new QueryParams.InvalidQueryException("from: must be before to");
            }
            answered = queries.range(principal.tenant(), params.metric(true), params.matchers(), from, to,
                    params.step(Duration.ofMinutes(1)), params.aggregation(), params.groupBy());
        } catch (QueryParams.InvalidQueryException e) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_query", e.getMessage());
            return;
        }
        answered.subscribe(answer -> {
            exchange.responseHeaders().set("X-Sluice-Cache", answer.source().name().toLowerCase(java.util.Locale.ROOT));
            exchange.respondJson(HttpResponseStatus.OK, json -> {
                QueryResult result = answer.result();
                SeriesQuery q = result.query();
                json.writeStartObject();
                json.writeStringField("metric", q.metric());
                json.writeStringField("resolution", q.resolution().wireName());
                json.writeNumberField("step_ms", q.step().toMillis());
                json.writeStringField("aggregation", q.aggregation().wireName());
                json.writeNumberField("from", q.from().toEpochMilli());
                json.writeNumberField("to", q.to().toEpochMilli());
                json.writeArrayFieldStart("series");
                for (QueryResult.ResultSeries s : result.series()) {
                    json.writeStartObject();
                    writeLabels(json, s.labels());
                    json.writeArrayFieldStart("points");
                    for (int i = 0; i < s.timestamps().length; i++) {
                        json.writeStartArray();
                        json.writeNumber(s.timestamps()[i]);
                        JsonDoubles.write(json, s.values()[i]);
                        json.writeEndArray();
                    }
                    json.writeEndArray();
                    json.writeEndObject();
                }
                json.writeEndArray();
                json.writeEndObject();
            });
        }, error -> fail(exchange, error));
    }

    public void series(HttpExchange exchange, Principal principal) {
        QueryParams params;
        String metric;
        List<Matcher> matchers;
        try {
            params = params(exchange);
            metric = params.metric(false);
            matchers = params.matchers();
        } catch (QueryParams.InvalidQueryException e) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_query", e.getMessage());
            return;
        }
        queries.series(principal.tenant(), metric, matchers).subscribe(series -> exchange.respondJson(
                HttpResponseStatus.OK, json -> {
                    json.writeStartObject();
                    json.writeArrayFieldStart("series");
                    for (SeriesInfo s : series) {
                        json.writeStartObject();
                        json.writeStringField("name", s.name());
                        writeLabels(json, s.labels());
                        json.writeEndObject();
                    }
                    json.writeEndArray();
                    json.writeEndObject();
                }), error -> fail(exchange, error));
    }

    public void labels(HttpExchange exchange, Principal principal) {
        queries.labelNames(principal.tenant()).subscribe(names -> respondList(exchange, names),
                error -> fail(exchange, error));
    }

    /** {@code /api/v1/labels/{name}/values}. */
    public void labelValues(HttpExchange exchange, Principal principal) {
        String path = exchange.path();
        String prefix = "/api/v1/labels/";
        String suffix = "/values";
        if (!path.startsWith(prefix) || !path.endsWith(suffix) || path.length() <= prefix.length() + suffix.length()) {
            exchange.error(HttpResponseStatus.NOT_FOUND, "not_found", "no route for " + path);
            return;
        }
        String label = path.substring(prefix.length(), path.length() - suffix.length());
        if (!QueryParams.LABEL.matcher(label).matches()) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_query", "label: " + label
                    + " (expected: a label name matching " + QueryParams.LABEL.pattern() + ")");
            return;
        }
        queries.labelValues(principal.tenant(), label).subscribe(values -> respondList(exchange, values),
                error -> fail(exchange, error));
    }

    private static void respondList(HttpExchange exchange, List<String> values) {
        exchange.respondJson(HttpResponseStatus.OK, json -> {
            json.writeStartObject();
            json.writeArrayFieldStart("data");
            for (String v : values) {
                json.writeString(v);
            }
            json.writeEndArray();
            json.writeEndObject();
        });
    }

    private static void writeLabels(com.fasterxml.jackson.core.JsonGenerator json, Map<String, String> labels)
            throws java.io.IOException {
        json.writeObjectFieldStart("labels");
        for (Map.Entry<String, String> e : new TreeMap<>(labels).entrySet()) {
            json.writeStringField(e.getKey(), e.getValue());
        }
        json.writeEndObject();
    }

    private static QueryParams params(HttpExchange exchange) {
        return QueryParams.of(exchange.uri());
    }

    private static void fail(HttpExchange exchange, Throwable error) {
        Throwable e = DependencyErrors.unwrap(error);
        if (e instanceof QueryLimitException limit) {
            exchange.error(HttpResponseStatus.UNPROCESSABLE_ENTITY, limit.code(), limit.getMessage());
        } else if (e instanceof QueryException q && q.kind() == QueryException.Kind.INVALID_REGEX) {
            // Java accepted the pattern, PostgreSQL's dialect did not (e.g. a{1,300}, named groups, \\h)
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_query", "match: a regular expression "
                    + "PostgreSQL does not accept (" + q.getMessage() + ")");
        } else if (e instanceof QueryException q && q.kind() == QueryException.Kind.TIMEOUT) {
            exchange.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "query_timeout",
                    "the query ran longer than query.statement-timeout; narrow it or use a larger step");
        } else {
            DependencyErrors.respond(exchange, "the query has no cached answer and cannot be run", e);
        }
    }
}
