package io.sluice.gateway.alerting;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBufInputStream;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.http.Json;
import io.sluice.gateway.http.Timestamps;
import io.sluice.storage.alerting.notify.JsonTree;

import java.io.IOException;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * What the notification APIs share: a JSON body read as a tree within {@link Json#REQUESTS}' limits, typed fields
 * with 400s that name the field and what was wrong (422 for a tenant over a count limit), and the count of those
 * rejections,
 * {@code sluice_alerting_api_rejected_total{api, code}}.
 */
final class RequestBodies {

    private final MeterRegistry registry;
    private final ConcurrentMap<String, Counter> rejected = new ConcurrentHashMap<>();

    RequestBodies(MeterRegistry registry) {
        this.registry = registry;
    }

    /** A request that is refused with 400: {@code code} and a message naming the field. */
    static final class BadRequest extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final String code;

        BadRequest(String code, String message) {
            super(message, null, false, false);
            this.code = code;
        }
    }

    /** Answers 400 with the problem, counted. */
    void reject(HttpExchange exchange, String api, BadRequest e) {
        refuse(exchange, api, HttpResponseStatus.BAD_REQUEST, e.code, e.getMessage());
    }

    /** Answers {@code status} (a refusal: 400, 422) with {@code code} and the message, counted. */
    void refuse(HttpExchange exchange, String api, HttpResponseStatus status, String code, String message) {
        rejected.computeIfAbsent(api + '\0' + code, k -> Counter.builder("sluice_alerting_api_rejected")
                .description("Requests to the alerting notification APIs refused (invalid, or over a limit), by API "
                        + "and code")
                .tag("api", api).tag("code", code).register(registry)).increment();
        exchange.error(status, code, message);
    }

    /** The body as a JSON object, whose fields are all among {@code allowed}. */
    static Map<String, Object> object(HttpExchange exchange, Set<String> allowed) {
        Object doc;
        try (JsonParser p = Json.REQUESTS.createParser((java.io.InputStream) new ByteBufInputStream(
                exchange.body().duplicate()))) {
            doc = JsonTree.read(p);
        } catch (StreamConstraintsException e) {
            throw new BadRequest("invalid_json", "body exceeds a JSON limit: " + Json.describe(e));
        } catch (JsonProcessingException e) {
            throw new BadRequest("invalid_json", "body is not valid JSON: " + e.getOriginalMessage());
        } catch (JsonTree.InvalidJsonException e) {
            throw new BadRequest("invalid_json", e.getMessage());
        } catch (IOException e) {
            throw new BadRequest("invalid_json", "body could not be read");
        }
        if (!(doc instanceof Map<?, ?> map)) {
            throw new BadRequest("invalid_json", "expected a JSON object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> fields = (Map<String, Object>) map;
        check(fields, allowed, "");
        strings(fields, "");
        return fields;
    }

    /**
     * Refuses strings PostgreSQL cannot store (NUL) or that are not characters (a lone surrogate such as
     * {@code "\ud800"}), in names and values alike, naming where.
     */
    private static void strings(Object value, String where) {
        if (value instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> e : map.entrySet()) {
                String name = (String) e.getKey();
                String at = where.isEmpty() ? name : where + "." + name;
                string(name, at);
                strings(e.getValue(), at);
            }
        } else if (value instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                strings(list.get(i), where + "[" + i + "]");
            }
        } else if (value instanceof String text) {
            string(text, where);
        }
    }

    private static void string(String text, String where) {
        if (text.indexOf('\0') >= 0) {
            throw new BadRequest("invalid_field", where + ": a NUL character (\\u0000) is not allowed");
        }
        int at = Json.unpairedSurrogate(text);
        if (at >= 0) {
            throw new BadRequest("invalid_field", where + ": an unpaired surrogate at position " + at
                    + " is not a character");
        }
    }

    static void check(Map<String, Object> fields, Set<String> allowed, String where) {
        for (String name : fields.keySet()) {
            if (!allowed.contains(name)) {
                throw new BadRequest("invalid_field", where + "unknown field " + name + " (expected: "
                        + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
        }
    }

    static String text(Map<String, Object> fields, String name, String field, boolean required) {
        Object v = fields.get(name);
        if (v == null) {
            if (required) {
                throw new BadRequest("missing_field", field + ": required");
            }
            return null;
        }
        if (!(v instanceof String s)) {
            throw new BadRequest("invalid_field", field + ": expected a string");
        }
        int at = Json.unpairedSurrogate(s);
        if (at >= 0) {
            throw new BadRequest("invalid_field", field + ": an unpaired surrogate at position " + at
                    + " is not a character");
        }
        return s;
    }

    static boolean bool(Map<String, Object> fields, String name, String field, boolean def) {
        Object v = fields.get(name);
        if (v == null) {
            return def;
        }
        if (!(v instanceof Boolean b)) {
            throw new BadRequest("invalid_field", field + ": expected true or false");
        }
        return b;
    }

    static Instant time(Map<String, Object> fields, String name, String field) {
        String text = text(fields, name, field, true);
        try {
            return Timestamps.parse(text);
        } catch (DateTimeException e) {
            throw new BadRequest("invalid_time", field + ": " + text + " (expected: RFC 3339, within "
                    + Timestamps.RANGE + ")");
        }
    }

    static List<?> list(Map<String, Object> fields, String name, String field) {
        Object v = fields.get(name);
        if (v == null) {
            return null;
        }
        if (!(v instanceof List<?> l)) {
            throw new BadRequest("invalid_field", field + ": expected an array");
        }
        return l;
    }
}
