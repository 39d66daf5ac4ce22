package io.sluice.gateway.alerting;

import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.config.AlertingConfig;
import io.sluice.config.ConfigException;
import io.sluice.config.Setting;
import io.sluice.config.Settings;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.ingest.NameSyntax;
import io.sluice.storage.alerting.notify.JsonTree;
import io.sluice.storage.alerting.notify.NotifyStore;
import io.sluice.storage.alerting.notify.Route;
import io.sluice.storage.auth.Principal;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The routes API: {@code GET|PUT /api/v1/alerts/routes}, a tenant's whole ordered list of routes at once:
 * {@code {"routes": [{matchers, receiver, group_by, group_wait, group_interval, repeat_interval, continue}]}}. The
 * receiver must exist; the times default to, and lie within the bounds of, {@code alerting.group-wait},
 * {@code alerting.group-interval} and {@code alerting.repeat-interval}; group_by defaults to {@code ["alertname"]}.
 * A list holds at most {@code alerting.max-routes-per-tenant} routes.
 */
public final class RoutesApi {

    private static final Set<String> FIELDS = Set.of("matchers", "receiver", "group_by", "group_wait",
            "group_interval", "repeat_interval", "continue");

    private final NotifyStore store;
    private final AlertingConfig config;
    private final RequestBodies bodies;

    RoutesApi(NotifyStore store, AlertingConfig config, RequestBodies bodies) {
        this.store = store;
        this.config = config;
        this.bodies = bodies;
    }

    public void get(HttpExchange exchange, Principal principal) {
        store.routes(principal.tenant()).subscribe(routes -> exchange.respondJson(HttpResponseStatus.OK,
                json -> write(json, routes)), error -> ReceiversApi.unavailable(exchange, error));
    }

    public void put(HttpExchange exchange, Principal principal) {
        List<Route> routes;
        try {
            routes = parse(exchange);
        } catch (RequestBodies.BadRequest e) {
            bodies.reject(exchange, "routes", e);
            return;
        }
        store.replaceRoutes(principal.tenant(), routes).subscribe(
                saved -> exchange.respondJson(HttpResponseStatus.OK, json -> write(json, saved)),
                error -> {
                    if (error instanceof NotifyStore.UnknownReceiverException) {
                        bodies.reject(exchange, "routes", new RequestBodies.BadRequest("unknown_receiver",
                                error.getMessage()));
                    } else {
                        ReceiversApi.unavailable(exchange, error);
                    }
                });
    }

    private List<Route> parse(HttpExchange exchange) {
        Map<String, Object> body = RequestBodies.object(exchange, Set.of("routes"));
        List<?> items = RequestBodies.list(body, "routes", "routes");
        if (items == null) {
            throw new RequestBodies.BadRequest("missing_field", "routes: required (an array, [] for none)");
        }
        int max = config.limits().maxRoutesPerTenant();
        if (items.size() > max) {
            throw new RequestBodies.BadRequest("too_many_routes", "routes: " + items.size() + " (at most " + max
                    + ", " + Settings.ALERTING_MAX_ROUTES_PER_TENANT.name() + ")");
        }
        List<Route> routes = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            String at = "routes[" + i + "].";
            if (!(items.get(i) instanceof Map<?, ?> m)) {
                throw new RequestBodies.BadRequest("invalid_field", "routes[" + i + "]: expected an object");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> f = (Map<String, Object>) m;
            RequestBodies.check(f, FIELDS, at);
            List<io.sluice.storage.alerting.notify.LabelMatcher> matchers = List.of();
            if (f.get("matchers") != null) {
                try {
                    matchers = JsonTree.matchers(f.get("matchers"), at + "matchers");
                } catch (JsonTree.InvalidJsonException e) {
                    throw new RequestBodies.BadRequest("invalid_matcher", e.getMessage());
                }
            }
            String receiver = RequestBodies.text(f, "receiver", at + "receiver", true);
            List<String> groupBy = new ArrayList<>();
            List<?> names = RequestBodies.list(f, "group_by", at + "group_by");
            if (names == null) {
                groupBy.add("alertname");
            } else {
                for (Object n : names) {
                    if (!(n instanceof String s) || !NameSyntax.LABEL.matches(s) || groupBy.contains(s)) {
                        throw new RequestBodies.BadRequest("invalid_field", at + "group_by: " + n
                                + " is not a label name, or appears twice");
                    }
                    groupBy.add(s);
                }
            }
            Duration wait = duration(f, "group_wait", at, Settings.ALERTING_GROUP_WAIT, config.groupWait());
            Duration interval = duration(f, "group_interval", at, Settings.ALERTING_GROUP_INTERVAL,
                    config.groupInterval());
            Duration repeat = duration(f, "repeat_interval", at, Settings.ALERTING_REPEAT_INTERVAL,
                    config.repeatInterval());
            boolean cont = RequestBodies.bool(f, "continue", at + "continue", false);
            routes.add(new Route(matchers, receiver, groupBy, wait, interval, repeat, cont));
        }
        return routes;
    }

    /** A route's time, within the bounds of the setting that gives its default. */
    private static Duration duration(Map<String, Object> f, String name, String at, Setting<Duration> setting,
                                     Duration def) {
        String text = RequestBodies.text(f, name, at + name, false);
        if (text == null) {
            return def;
        }
        try {
            return setting.parse(text);
        } catch (ConfigException e) {
            throw new RequestBodies.BadRequest("invalid_duration", at + name + ": " + text + " (expected: "
                    + setting.expected() + ")");
        }
    }

    private static void write(JsonGenerator json, List<Route> routes) throws IOException {
        json.writeStartObject();
        json.writeArrayFieldStart("routes");
        for (Route r : routes) {
            json.writeStartObject();
            json.writeFieldName("matchers");
            JsonTree.writeMatchers(json, r.matchers());
            json.writeStringField("receiver", r.receiver());
            json.writeArrayFieldStart("group_by");
            for (String g : r.groupBy()) {
                json.writeString(g);
            }
            json.writeEndArray();
            json.writeStringField("group_wait", r.groupWait().toMillis() + "ms");
            json.writeStringField("group_interval", r.groupInterval().toMillis() + "ms");
            json.writeStringField("repeat_interval", r.repeatInterval().toMillis() + "ms");
            json.writeBooleanField("continue", r.continueMatching());
            json.writeEndObject();
        }
        json.writeEndArray();
        json.writeEndObject();
    }
}
