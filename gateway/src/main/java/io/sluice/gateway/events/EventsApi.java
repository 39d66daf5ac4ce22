package io.sluice.gateway.events;

import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.DependencyErrors;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.query.QueryParams;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.events.EventStore;
import io.sluice.storage.events.StoredEvent;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;

/**
 * {@code GET /api/v1/events?type=&key=&from=&to=&limit=&cursor=}: the tenant's stored events in time order
 * (ties by id), one page at a time. {@code type} and {@code key} filter exactly; {@code from} (inclusive) and
 * {@code to} (exclusive) take what the query API takes (RFC 3339, epoch seconds or milliseconds) and default to
 * every stored event. Answers {@code {"events": [{"id", "type", "timestamp", "key", "attributes"}],
 * "next_cursor"}}; {@code next_cursor} is null on the last page.
 */
public final class EventsApi {

    public static final int DEFAULT_PAGE = 100;
    public static final int MAX_PAGE = 1000;
    /** Longest type or key filter, in UTF-8 bytes: longer values cannot have been stored. */
    private static final int MAX_FILTER_BYTES = 1024;
    /** 9999-12-31T23:59:59.999Z: no stored event is later, and PostgreSQL takes every instant up to it. */
    private static final long LAST_STORABLE_MS = 253_402_300_799_999L;

    private final EventStore store;

    public EventsApi(EventStore store) {
        this.store = store;
    }

    public void list(HttpExchange exchange, Principal principal) {
        QueryParams params;
        String type;
        String key;
        Instant from;
        Instant to;
        int limit;
        EventStore.Position after;
        try {
            params = QueryParams.of(exchange.uri());
            type = filter(params, "type");
            key = filter(params, "key");
            from = params.time("from", null);
            to = params.time("to", null);
            limit = limit(params.one("limit"));
            after = cursor(params.one("cursor"));
        } catch (QueryParams.InvalidQueryException e) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_query", e.getMessage());
            return;
        } catch (IllegalArgumentException e) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_cursor", "cursor: not a cursor from this API");
            return;
        }
        if (from != null && to != null && !from.isBefore(to)) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_query", "from: must be before to");
            return;
        }
        store.list(principal.tenant(), type, key, from, to, after, limit).subscribe(
                events -> respond(exchange, events, limit),
                error -> DependencyErrors.respond(exchange, "events cannot be read", error));
    }

    private static void respond(HttpExchange exchange, List<StoredEvent> events, int limit) {
        exchange.respondJson(HttpResponseStatus.OK, json -> {
            json.writeStartObject();
            json.writeArrayFieldStart("events");
            for (StoredEvent e : events) {
                json.writeStartObject();
                json.writeStringField("id", e.id());
                json.writeStringField("type", e.type());
                json.writeNumberField("timestamp", e.timestampMs());
                json.writeStringField("key", e.key());
                json.writeFieldName("attributes");
                json.writeRawValue(e.attributesJson());
                json.writeEndObject();
            }
            json.writeEndArray();
            if (events.size() == limit) {
                StoredEvent last = events.get(events.size() - 1);
                json.writeStringField("next_cursor", Base64.getUrlEncoder().withoutPadding().encodeToString(
                        (last.timestampMs() + "|" + last.id()).getBytes(StandardCharsets.UTF_8)));
            } else {
                json.writeNullField("next_cursor");
            }
            json.writeEndObject();
        });
    }

    private static String filter(QueryParams params, String name) {
        String value = params.one(name);
        if (value == null) {
            return null;
        }
        if (value.indexOf('\0') >= 0 || value.getBytes(StandardCharsets.UTF_8).length > MAX_FILTER_BYTES) {
            throw new QueryParams.InvalidQueryException(name + ": expected at most " + MAX_FILTER_BYTES
                    + " bytes and no NUL character");
        }
        return value;
    }

    private static int limit(String raw) {
        if (raw == null) {
            return DEFAULT_PAGE;
        }
        try {
            int limit = Integer.parseInt(raw);
            if (limit >= 1 && limit <= MAX_PAGE) {
                return limit;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw new QueryParams.InvalidQueryException("limit: " + raw + " (expected: 1.." + MAX_PAGE + ")");
    }

    /** Throws IllegalArgumentException for anything this API did not hand out. */
    private static EventStore.Position cursor(String raw) {
        if (raw == null || raw.isEmpty()) {
            return null;
        }
        String decoded = new String(Base64.getUrlDecoder().decode(raw), StandardCharsets.UTF_8);
        int bar = decoded.indexOf('|');
        if (bar < 1) {
            throw new IllegalArgumentException("no position");
        }
        long millis;
        try {
            millis = Long.parseLong(decoded.substring(0, bar));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("no position", e);
        }
        String id = decoded.substring(bar + 1);
        if (millis < 0 || millis > LAST_STORABLE_MS || id.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("no position");
        }
        return new EventStore.Position(Instant.ofEpochMilli(millis), id);
    }
}
