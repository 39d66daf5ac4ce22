package io.sluice.gateway.alerting;

import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.config.Settings;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.query.QueryParams;
import io.sluice.storage.alerting.notify.JsonTree;
import io.sluice.storage.alerting.notify.LabelMatcher;
import io.sluice.storage.alerting.notify.NotifyStore;
import io.sluice.storage.alerting.notify.Silence;
import io.sluice.storage.auth.Principal;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The silences API: {@code POST /api/v1/alerts/silences} ({@code matchers, starts_at, ends_at, created_by,
 * comment}, all required), {@code GET /api/v1/alerts/silences[?state=active|pending|expired]}, and
 * {@code GET|DELETE /api/v1/alerts/silences/{id}}; DELETE expires a silence (it ends now and stays listed).
 */
public final class SilencesApi {

    static final String PREFIX = "/api/v1/alerts/silences/";
    private static final Set<String> FIELDS = Set.of("matchers", "starts_at", "ends_at", "created_by", "comment");
    private static final Set<String> STATES = Set.of("active", "pending", "expired");

    private final NotifyStore store;
    private final RequestBodies bodies;
    private final Clock clock;
    private final int maxText;

    /** @param maxText {@code alerting.max-silence-text-length}: longest created_by and comment, in characters */
    SilencesApi(NotifyStore store, RequestBodies bodies, Clock clock, int maxText) {
        this.store = store;
        this.bodies = bodies;
        this.clock = clock;
        this.maxText = maxText;
    }

    private Instant now() {
        return clock.instant().truncatedTo(ChronoUnit.MICROS);
    }

    public void create(HttpExchange exchange, Principal principal) {
        Instant now = now();
        List<LabelMatcher> matchers;
        Instant starts;
        Instant ends;
        String by;
        String comment;
        try {
            Map<String, Object> f = RequestBodies.object(exchange, FIELDS);
            if (f.get("matchers") == null) {
                throw new RequestBodies.BadRequest("missing_field", "matchers: required");
            }
            try {
                matchers = JsonTree.matchers(f.get("matchers"), "matchers");
            } catch (JsonTree.InvalidJsonException e) {
                throw new RequestBodies.BadRequest("invalid_matcher", e.getMessage());
            }
            if (matchers.isEmpty()) {
                throw new RequestBodies.BadRequest("invalid_matcher", "matchers: at least one (a silence of "
                        + "everything is not allowed)");
            }
            starts = RequestBodies.time(f, "starts_at", "starts_at").truncatedTo(ChronoUnit.MICROS);
            ends = RequestBodies.time(f, "ends_at", "ends_at").truncatedTo(ChronoUnit.MICROS);
            if (!ends.isAfter(starts)) {
                throw new RequestBodies.BadRequest("invalid_time", "ends_at: " + ends + " is not after starts_at "
                        + starts);
            }
            if (!ends.isAfter(now)) {
                throw new RequestBodies.BadRequest("invalid_time", "ends_at: " + ends + " is not in the future");
            }
            by = RequestBodies.text(f, "created_by", "created_by", true);
            comment = RequestBodies.text(f, "comment", "comment", true);
            if (by.isBlank() || by.length() > maxText) {
                throw new RequestBodies.BadRequest("invalid_field", "created_by: 1 to " + maxText
                        + " characters, not blank (" + Settings.ALERTING_MAX_SILENCE_TEXT_LENGTH.name() + ")");
            }
            if (comment.isBlank() || comment.length() > maxText) {
                throw new RequestBodies.BadRequest("invalid_field", "comment: 1 to " + maxText
                        + " characters, not blank (" + Settings.ALERTING_MAX_SILENCE_TEXT_LENGTH.name() + ")");
            }
        } catch (RequestBodies.BadRequest e) {
            bodies.reject(exchange, "silences", e);
            return;
        }
        store.createSilence(principal.tenant(), matchers, starts, ends, by, comment, now).subscribe(
                s -> exchange.respondJson(HttpResponseStatus.CREATED, json -> write(json, s, now())),
                error -> ReceiversApi.unavailable(exchange, error));
    }

    public void list(HttpExchange exchange, Principal principal) {
        String state;
        try {
            state = QueryParams.of(exchange.uri()).one("state");
        } catch (QueryParams.InvalidQueryException e) {
            bodies.reject(exchange, "silences", new RequestBodies.BadRequest("invalid_query", e.getMessage()));
            return;
        }
        if (state != null && !STATES.contains(state)) {
            bodies.reject(exchange, "silences", new RequestBodies.BadRequest("invalid_query", "state: " + state
                    + " (expected active, pending or expired)"));
            return;
        }
        Instant now = now();
        store.silences(principal.tenant(), null).subscribe(silences -> exchange.respondJson(HttpResponseStatus.OK,
                json -> {
                    json.writeStartObject();
                    json.writeArrayFieldStart("silences");
                    for (Silence s : silences) {
                        if (state == null || state.equals(s.state(now))) {
                            write(json, s, now);
                        }
                    }
                    json.writeEndArray();
                    json.writeEndObject();
                }), error -> ReceiversApi.unavailable(exchange, error));
    }

    /** {@code GET|DELETE /api/v1/alerts/silences/{id}}. */
    public void one(HttpExchange exchange, Principal principal) {
        String text = exchange.path().substring(PREFIX.length());
        UUID id;
        try {
            id = UUID.fromString(text);
            if (!id.toString().equals(text.toLowerCase(java.util.Locale.ROOT))) {
                throw new IllegalArgumentException();
            }
        } catch (IllegalArgumentException e) {
            notFound(exchange, text);
            return;
        }
        HttpMethod method = exchange.method();
        if (method.equals(HttpMethod.GET)) {
            store.silence(principal.tenant(), id).subscribe(
                    s -> exchange.respondJson(HttpResponseStatus.OK, json -> write(json, s, now())),
                    error -> ReceiversApi.unavailable(exchange, error), () -> notFound(exchange, text));
        } else if (method.equals(HttpMethod.DELETE)) {
            Instant now = now();
            store.expireSilence(principal.tenant(), id, now).subscribe(
                    s -> exchange.respondJson(HttpResponseStatus.OK, json -> write(json, s, now)),
                    error -> ReceiversApi.unavailable(exchange, error), () -> notFound(exchange, text));
        } else {
            exchange.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
                    method + " is not allowed on " + exchange.path());
        }
    }

    private static void write(JsonGenerator json, Silence s, Instant now) throws IOException {
        json.writeStartObject();
        json.writeStringField("id", s.id().toString());
        json.writeFieldName("matchers");
        JsonTree.writeMatchers(json, s.matchers());
        json.writeStringField("starts_at", s.startsAt().toString());
        json.writeStringField("ends_at", s.endsAt().toString());
        json.writeStringField("created_by", s.createdBy());
        json.writeStringField("comment", s.comment());
        json.writeStringField("created_at", s.createdAt().toString());
        json.writeStringField("state", s.state(now));
        json.writeEndObject();
    }

    private static void notFound(HttpExchange exchange, String id) {
        exchange.error(HttpResponseStatus.NOT_FOUND, "not_found", "no silence " + id);
    }
}
