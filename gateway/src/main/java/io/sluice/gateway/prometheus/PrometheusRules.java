package io.sluice.gateway.prometheus;

import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.DependencyErrors;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.query.QueryParams;
import io.sluice.storage.alerting.AlertRule;
import io.sluice.storage.alerting.RuleStore;
import io.sluice.storage.alerting.RuleStore.ActiveAlert;
import io.sluice.storage.alerting.StoredRule;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.postgres.PostgresCalls;

import java.io.IOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code GET /prometheus/api/v1/rules}: the tenant's alerting rules in Prometheus' format (what Grafana reads from a
 * Prometheus data source), by group, with their health, last error, last evaluation and current (pending and firing)
 * alerts. {@code type=alert|record} filters (Sluice has no recording rules), {@code exclude_alerts=true} leaves the
 * alerts out.
 */
public final class PrometheusRules {

    /** What Prometheus writes for a rule never evaluated. */
    private static final String NEVER = "0001-01-01T00:00:00Z";

    private final RuleStore store;

    public PrometheusRules(RuleStore store) {
        this.store = store;
    }

    public void rules(HttpExchange exchange, Principal principal) {
        boolean excludeAlerts;
        boolean recordOnly;
        try {
            QueryParams params = QueryParams.of(exchange.uri());
            String type = params.one("type");
            if (type != null && !type.isEmpty() && !type.equals("alert") && !type.equals("record")) {
                throw new QueryParams.InvalidQueryException("unsupported type \"" + type + "\" (alert or record)");
            }
            recordOnly = "record".equals(type);
            String exclude = params.one("exclude_alerts");
            if (exclude != null && !exclude.equals("true") && !exclude.equals("false")) {
                throw new QueryParams.InvalidQueryException("exclude_alerts: \"" + exclude + "\" (true or false)");
            }
            excludeAlerts = "true".equals(exclude);
        } catch (QueryParams.InvalidQueryException e) {
            exchange.respondJson(HttpResponseStatus.BAD_REQUEST, json -> PrometheusJson.error(json, "bad_data",
                    e.getMessage()));
            return;
        }
        if (recordOnly) {
            exchange.respondJson(HttpResponseStatus.OK, json -> PrometheusJson.success(json, PrometheusRules::noGroups));
            return;
        }
        store.list(principal.tenant(), null).zipWith(store.activeAlerts(principal.tenant())).subscribe(answer -> {
            Map<Long, List<ActiveAlert>> alerts = new LinkedHashMap<>();
            for (ActiveAlert a : answer.getT2()) {
                alerts.computeIfAbsent(a.ruleId(), id -> new ArrayList<>()).add(a);
            }
            Map<String, List<StoredRule>> groups = new LinkedHashMap<>();
            for (StoredRule r : answer.getT1()) {
                groups.computeIfAbsent(r.rule().group(), g -> new ArrayList<>()).add(r);
            }
            exchange.respondJson(HttpResponseStatus.OK, json -> PrometheusJson.success(json, data -> {
                data.writeStartObject();
                data.writeArrayFieldStart("groups");
                for (Map.Entry<String, List<StoredRule>> g : groups.entrySet()) {
                    writeGroup(data, g.getKey(), g.getValue(), alerts, excludeAlerts);
                }
                data.writeEndArray();
                data.writeEndObject();
            }));
        }, error -> {
            if (PostgresCalls.isUnavailable(DependencyErrors.unwrap(error))) {
                exchange.responseHeaders().set(HttpHeaderNames.RETRY_AFTER,
                        Math.max(1, PostgresCalls.RETRY_AFTER.toSeconds()));
                exchange.respondJson(HttpResponseStatus.SERVICE_UNAVAILABLE, json -> PrometheusJson.error(json,
                        "unavailable", "alert rules cannot be read right now (PostgreSQL); retry later"));
            } else {
                exchange.internalError(error);
            }
        });
    }

    private static void noGroups(JsonGenerator json) throws IOException {
        json.writeStartObject();
        json.writeArrayFieldStart("groups");
        json.writeEndArray();
        json.writeEndObject();
    }

    private static void writeGroup(JsonGenerator json, String name, List<StoredRule> rules,
                                   Map<Long, List<ActiveAlert>> alerts, boolean excludeAlerts) throws IOException {
        Instant last = null;
        double evaluationTime = 0;
        for (StoredRule r : rules) {
            if (r.lastEvaluation() != null && (last == null || r.lastEvaluation().isAfter(last))) {
                last = r.lastEvaluation();
            }
            evaluationTime += r.lastEvaluationMs() == null ? 0 : r.lastEvaluationMs() / 1000.0;
        }
        json.writeStartObject();
        json.writeStringField("name", name);
        json.writeStringField("file", "");
        json.writeArrayFieldStart("rules");
        for (StoredRule r : rules) {
            writeRule(json, r, alerts.getOrDefault(r.rule().id(), List.of()), excludeAlerts);
        }
        json.writeEndArray();
        json.writeNumberField("interval", rules.get(0).rule().interval().toMillis() / 1000.0);
        json.writeNumberField("limit", 0);
        json.writeNumberField("evaluationTime", evaluationTime);
        json.writeStringField("lastEvaluation", last == null ? NEVER : last.toString());
        json.writeEndObject();
    }

    private static void writeRule(JsonGenerator json, StoredRule stored, List<ActiveAlert> alerts,
                                  boolean excludeAlerts) throws IOException {
        AlertRule rule = stored.rule();
        String state = "inactive";
        for (ActiveAlert a : alerts) {
            if (a.state().equals("firing")) {
                state = "firing";
            } else if (state.equals("inactive")) {
                state = "pending";
            }
        }
        json.writeStartObject();
        json.writeStringField("state", state);
        json.writeStringField("name", rule.name());
        json.writeStringField("query", rule.promql());
        json.writeNumberField("duration", rule.forDuration().toMillis() / 1000.0);
        json.writeNumberField("keepFiringFor", rule.keepFiringFor().toMillis() / 1000.0);
        PrometheusJson.labels(json, "labels", rule.labels());
        PrometheusJson.labels(json, "annotations", rule.annotations());
        json.writeArrayFieldStart("alerts");
        if (!excludeAlerts) {
            for (ActiveAlert a : alerts) {
                json.writeStartObject();
                PrometheusJson.labels(json, "labels", a.labels());
                PrometheusJson.labels(json, "annotations", a.annotations());
                json.writeStringField("state", a.state());
                json.writeStringField("activeAt", a.activeAt().toString());
                json.writeStringField("value", a.value() == null ? "NaN" : exponent(a.value()));
                json.writeEndObject();
            }
        }
        json.writeEndArray();
        json.writeStringField("health", switch (stored.health()) {
            case "error" -> "err";
            case "ok" -> "ok";
            default -> "unknown";
        });
        json.writeStringField("lastError", stored.lastError() == null ? "" : stored.lastError());
        json.writeNumberField("evaluationTime",
                stored.lastEvaluationMs() == null ? 0 : stored.lastEvaluationMs() / 1000.0);
        json.writeStringField("lastEvaluation", stored.lastEvaluation() == null ? NEVER
                : stored.lastEvaluation().toString());
        json.writeStringField("type", "alerting");
        json.writeEndObject();
    }

    /** Go's {@code strconv.FormatFloat(v, 'e', -1, 64)}, how Prometheus writes an alert's value here. */
    static String exponent(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == 0) {
            return (Double.doubleToRawLongBits(v) < 0 ? "-" : "") + "0e+00";
        }
        BigDecimal d = new BigDecimal(Double.toString(v)).stripTrailingZeros();
        String digits = d.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - d.scale();
        StringBuilder out = new StringBuilder(v < 0 ? "-" : "").append(digits.charAt(0));
        if (digits.length() > 1) {
            out.append('.').append(digits, 1, digits.length());
        }
        out.append('e').append(exp < 0 ? '-' : '+');
        if (Math.abs(exp) < 10) {
            out.append('0');
        }
        return out.append(Math.abs(exp)).toString();
    }
}
