package io.sluice.gateway.alerting;

import com.fasterxml.jackson.core.JsonGenerator;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.DependencyErrors;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.http.Json;
import io.sluice.gateway.query.QueryParams;
import io.sluice.storage.alerting.AlertRule;
import io.sluice.storage.alerting.Durations;
import io.sluice.storage.alerting.InvalidRuleException;
import io.sluice.storage.alerting.RuleDocument;
import io.sluice.storage.alerting.RuleStore;
import io.sluice.storage.alerting.RuleValidator;
import io.sluice.storage.alerting.StoredRule;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.query.Matcher;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The alert rules API: {@code POST /api/v1/alerts/rules} (201), {@code GET /api/v1/alerts/rules[?group=]},
 * {@code GET|PUT|DELETE /api/v1/alerts/rules/{id}} and {@code POST /api/v1/alerts/rules/import} (a Prometheus rule
 * file in YAML replacing the groups it names). Every call is scoped to the caller's tenant; another tenant's id is
 * 404. Refusals are counted in {@code sluice_alert_rule_rejections_total{reason}}.
 */
public final class RulesApi {

    private static final String PREFIX = "/api/v1/alerts/rules/";

    private final RuleStore store;
    private final RuleValidator validator;
    private final MeterRegistry registry;
    private final Map<String, Counter> rejections = new ConcurrentHashMap<>();

    public RulesApi(RuleStore store, RuleValidator validator, MeterRegistry registry) {
        this.store = store;
        this.validator = validator;
        this.registry = registry;
    }

    public void create(HttpExchange exchange, Principal principal) {
        AlertRule rule;
        try {
            rule = validator.apiRule(RuleDocument.readJson(Json.REQUESTS, body(exchange)), principal.tenant(),
                    principal.tier());
        } catch (InvalidRuleException e) {
            invalid(exchange, e);
            return;
        }
        store.create(rule).subscribe(
                stored -> exchange.respondJson(HttpResponseStatus.CREATED, json -> writeRule(json, stored)),
                error -> failed(exchange, error));
    }

    public void list(HttpExchange exchange, Principal principal) {
        String group;
        try {
            group = QueryParams.of(exchange.uri()).one("group");
        } catch (QueryParams.InvalidQueryException e) {
            reject(exchange, HttpResponseStatus.BAD_REQUEST, "invalid_query", e.getMessage(), null);
            return;
        }
        store.list(principal.tenant(), group).subscribe(rules -> exchange.respondJson(HttpResponseStatus.OK, json -> {
            json.writeStartObject();
            json.writeArrayFieldStart("rules");
            for (StoredRule r : rules) {
                writeRule(json, r);
            }
            json.writeEndArray();
            json.writeEndObject();
        }), error -> failed(exchange, error));
    }

    /** Everything under {@code /api/v1/alerts/rules/}: {id} with GET, PUT, DELETE. */
    public void one(HttpExchange exchange, Principal principal) {
        String rest = exchange.path().substring(PREFIX.length());
        long id;
        try {
            id = Long.parseLong(rest);
            if (id <= 0) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            notFound(exchange, rest);
            return;
        }
        HttpMethod method = exchange.method();
        if (method.equals(HttpMethod.GET)) {
            store.get(principal.tenant(), id).subscribe(
                    stored -> exchange.respondJson(HttpResponseStatus.OK, json -> writeRule(json, stored)),
                    error -> failed(exchange, error), () -> notFound(exchange, rest));
        } else if (method.equals(HttpMethod.PUT)) {
            AlertRule rule;
            try {
                rule = validator.apiRule(RuleDocument.readJson(Json.REQUESTS, body(exchange)), principal.tenant(),
                        principal.tier());
            } catch (InvalidRuleException e) {
                invalid(exchange, e);
                return;
            }
            store.update(id, rule).subscribe(
                    stored -> exchange.respondJson(HttpResponseStatus.OK, json -> writeRule(json, stored)),
                    error -> failed(exchange, error), () -> notFound(exchange, rest));
        } else if (method.equals(HttpMethod.DELETE)) {
            store.delete(principal.tenant(), id).subscribe(deleted -> {
                if (deleted) {
                    exchange.respond(HttpResponseStatus.NO_CONTENT, "application/json", Unpooled.EMPTY_BUFFER);
                } else {
                    notFound(exchange, rest);
                }
            }, error -> failed(exchange, error));
        } else {
            exchange.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
                    method + " is not allowed on " + exchange.path());
        }
    }

    /** {@code POST /api/v1/alerts/rules/import}: a Prometheus rule file replacing the groups it names. */
    public void importFile(HttpExchange exchange, Principal principal) {
        String type = exchange.headers().get(HttpHeaderNames.CONTENT_TYPE, "").toLowerCase(Locale.ROOT);
        String mediaType = type.contains(";") ? type.substring(0, type.indexOf(';')).strip() : type.strip();
        if (!List.of("application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml").contains(mediaType)) {
            reject(exchange, HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "Content-Type: " + (type.isEmpty() ? "missing" : type) + " (expected application/yaml or "
                            + "text/yaml: a Prometheus rule file)", null);
            return;
        }
        RuleValidator.RuleFile file;
        try {
            file = validator.ruleFile(RuleDocument.readYaml(body(exchange)), principal.tenant(), principal.tier());
        } catch (InvalidRuleException e) {
            invalid(exchange, e);
            return;
        }
        store.replaceGroups(principal.tenant(), file.groups(), file.rules()).subscribe(
                result -> exchange.respondJson(HttpResponseStatus.OK, json -> {
                    json.writeStartObject();
                    json.writeArrayFieldStart("groups");
                    for (String g : file.groups()) {
                        json.writeString(g);
                    }
                    json.writeEndArray();
                    json.writeNumberField("created", result.created());
                    json.writeNumberField("updated", result.updated());
                    json.writeNumberField("unchanged", result.unchanged());
                    json.writeNumberField("deleted", result.deleted());
                    json.writeEndObject();
                }), error -> failed(exchange, error));
    }

    private static InputStream body(HttpExchange exchange) {
        return new ByteBufInputStream(exchange.body().duplicate());
    }

    /** A rule as the API writes it. */
    static void writeRule(JsonGenerator json, StoredRule stored) throws IOException {
        AlertRule rule = stored.rule();
        json.writeStartObject();
        json.writeNumberField("id", rule.id());
        json.writeStringField("group", rule.group());
        json.writeStringField("name", rule.name());
        if (rule.expr() != null) {
            json.writeStringField("expr", rule.expr());
        } else {
            AlertRule.RuleQuery q = rule.query();
            json.writeObjectFieldStart("query");
            json.writeStringField("metric", q.metric());
            json.writeArrayFieldStart("matchers");
            for (Matcher m : q.matchers()) {
                json.writeStartObject();
                json.writeStringField("label", m.label());
                json.writeStringField("op", m.op().symbol());
                json.writeStringField("value", m.value());
                json.writeEndObject();
            }
            json.writeEndArray();
            json.writeStringField("aggregation", q.aggregation().wireName());
            json.writeArrayFieldStart("group_by");
            for (String label : q.groupBy()) {
                json.writeString(label);
            }
            json.writeEndArray();
            json.writeStringField("window", Durations.format(q.window()));
            json.writeEndObject();
        }
        if (rule.threshold() != null) {
            json.writeStringField("op", rule.threshold().op());
            json.writeNumberField("threshold", rule.threshold().value());
        }
        json.writeStringField("promql", rule.promql());
        json.writeStringField("for", Durations.format(rule.forDuration()));
        json.writeStringField("keep_firing_for", Durations.format(rule.keepFiringFor()));
        json.writeStringField("interval", Durations.format(rule.interval()));
        json.writeStringField("no_data", rule.noData().name().toLowerCase(Locale.ROOT));
        writeMap(json, "labels", rule.labels());
        writeMap(json, "annotations", rule.annotations());
        json.writeNumberField("version", rule.version());
        json.writeStringField("health", stored.health());
        if (stored.lastEvaluation() == null) {
            json.writeNullField("last_evaluation");
        } else {
            json.writeStringField("last_evaluation", stored.lastEvaluation().toString());
        }
        if (stored.lastEvaluationMs() == null) {
            json.writeNullField("last_evaluation_duration_ms");
        } else {
            json.writeNumberField("last_evaluation_duration_ms", stored.lastEvaluationMs());
        }
        if (stored.lastError() == null) {
            json.writeNullField("last_error");
        } else {
            json.writeStringField("last_error", stored.lastError());
        }
        json.writeStringField("created_at", stored.createdAt().toString());
        json.writeStringField("updated_at", stored.updatedAt().toString());
        json.writeEndObject();
    }

    private static void writeMap(JsonGenerator json, String name, Map<String, String> map) throws IOException {
        json.writeObjectFieldStart(name);
        for (Map.Entry<String, String> e : map.entrySet()) {
            json.writeStringField(e.getKey(), e.getValue());
        }
        json.writeEndObject();
    }

    private void invalid(HttpExchange exchange, InvalidRuleException e) {
        reject(exchange, HttpResponseStatus.BAD_REQUEST, e.code(), e.getMessage(), json -> {
            json.writeArrayFieldStart("problems");
            for (String p : e.problems()) {
                json.writeString(p);
            }
            json.writeEndArray();
        });
    }

    private void failed(HttpExchange exchange, Throwable error) {
        if (error instanceof RuleStore.DuplicateRuleException) {
            reject(exchange, HttpResponseStatus.CONFLICT, "duplicate_rule", error.getMessage(), null);
        } else if (error instanceof RuleStore.TooManyRulesException) {
            reject(exchange, HttpResponseStatus.UNPROCESSABLE_ENTITY, "too_many_rules", error.getMessage(), null);
        } else {
            DependencyErrors.respond(exchange, "alert rules cannot be served", error);
        }
    }

    private void reject(HttpExchange exchange, HttpResponseStatus status, String code, String message,
                        Json.Writer details) {
        rejections.computeIfAbsent(code, reason -> Counter.builder("sluice_alert_rule_rejections")
                .description("Alert rule requests refused, by reason (invalid_rule, invalid_json, invalid_yaml, "
                        + "duplicate_rule, too_many_rules, unsupported_media_type, invalid_query)")
                .tag("reason", reason).register(registry)).increment();
        exchange.error(status, code, message, details);
    }

    private static void notFound(HttpExchange exchange, String id) {
        exchange.error(HttpResponseStatus.NOT_FOUND, "not_found", "no alert rule " + id);
    }
}
