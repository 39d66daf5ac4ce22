package io.sluice.gateway.links;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import io.netty.buffer.ByteBufInputStream;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.DependencyErrors;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.http.Json;
import io.sluice.gateway.http.Timestamps;
import io.sluice.gateway.query.QueryParams;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.links.Link;
import io.sluice.storage.links.LinkCodes;
import io.sluice.storage.links.LinkStore;
import reactor.core.publisher.Mono;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.List;

/**
 * The links API: {@code POST /api/v1/links}, {@code GET /api/v1/links?cursor=}, and under
 * {@code /api/v1/links/{code}}: {@code GET}, {@code PATCH}, {@code DELETE} and {@code GET …/stats}. Every call
 * is scoped to the caller's tenant; another tenant's code is 404.
 */
public final class LinksApi {

    public static final int DEFAULT_PAGE = 100;
    public static final int MAX_PAGE = 1000;
    private static final JsonFactory JSON = Json.REQUESTS;
    private static final String PREFIX = "/api/v1/links/";

    private final LinkStore store;
    private final LinkRules rules;
    private final LinkIds ids;
    private final Mono<LinkCodes> codes;
    private final LinkInvalidation invalidation;
    private final RedirectCache cache;
    private final java.util.function.Supplier<String> baseUrl;
    private final Clock clock;

    public LinksApi(LinkStore store, LinkRules rules, LinkInvalidation invalidation, RedirectCache cache,
                    java.util.function.Supplier<String> baseUrl, Clock clock) {
        this.store = store;
        this.rules = rules;
        this.ids = new LinkIds(store::reserveIdBlock);
        this.codes = store.codeKey().map(LinkCodes::new)
                .cache(ok -> Duration.ofDays(36500), error -> Duration.ZERO, () -> Duration.ZERO); // never cache a failure
        this.invalidation = invalidation;
        this.cache = cache;
        this.baseUrl = baseUrl;
        this.clock = clock;
    }

    private record Fields(String url, String alias, Instant expiresAt, boolean expiresAtNull, Integer redirect) {
    }

    public void create(HttpExchange exchange, Principal principal) {
        Fields f;
        String target;
        try {
            f = parse(exchange);
            target = rules.checkTarget(f.url());
            if (f.alias() != null) {
                rules.checkAlias(f.alias());
            }
            if (f.redirect() != null) {
                LinkRules.checkRedirect(f.redirect());
            }
            if (f.expiresAt() != null && !f.expiresAt().isAfter(clock.instant())) {
                throw new BadRequest("invalid_expiry", "expires_at: " + f.expiresAt() + " is not in the future");
            }
        } catch (BadRequest | LinkRules.InvalidLinkException e) {
            badRequest(exchange, e);
            return;
        }
        Mono<String> code = f.alias() != null ? Mono.just(f.alias()) : ids.next().zipWith(codes, (id, c) -> c.code(id));
        // one deadline for the whole creation: an id block (now and then), the code key (once), the insert
        store.calls().call("links.create", code.flatMap(c -> store.insert(c, principal.tenant(), target,
                        f.redirect() == null ? 302 : f.redirect(), f.expiresAt())))
                .subscribe(link -> {
                    cache.created(link);
                    if (f.alias() != null) {
                        // an alias may have been asked for before it existed: drop cached "unknown" entries
                        // on the other nodes (a generated code has never been handed out, so nobody has it)
                        invalidation.publish(link.code());
                    }
                    exchange.respondJson(HttpResponseStatus.CREATED, json -> writeLink(json, link));
                }, error -> {
                    if (error instanceof LinkStore.CodeTakenException) {
                        exchange.error(HttpResponseStatus.CONFLICT, "alias_taken", "alias: " + f.alias() + " is taken");
                    } else {
                        unavailable(exchange, error);
                    }
                });
    }

    public void list(HttpExchange exchange, Principal principal) {
        int limit;
        Instant afterCreated = null;
        String afterCode = null;
        QueryParams query;
        String limitParam;
        String cursor;
        try {
            query = QueryParams.of(exchange.uri());
            limitParam = query.one("limit");
            cursor = query.one("cursor");
        } catch (QueryParams.InvalidQueryException e) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_query", e.getMessage());
            return;
        }
        try {
            limit = limitParam == null ? DEFAULT_PAGE : Integer.parseInt(limitParam);
            if (limit < 1 || limit > MAX_PAGE) {
                throw new NumberFormatException();
            }
            if (cursor != null && !cursor.isEmpty()) {
                String decoded = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
                int bar = decoded.indexOf('|');
                afterCreated = Timestamps.check(Instant.parse(decoded.substring(0, bar)));
                afterCode = decoded.substring(bar + 1);
                if (!LinkRules.isCode(afterCode)) {
                    throw new IllegalArgumentException();
                }
            }
        } catch (NumberFormatException e) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_query", "limit: expected 1.." + MAX_PAGE);
            return;
        } catch (RuntimeException e) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_cursor", "cursor: not a cursor from this API");
            return;
        }
        int pageSize = limit;
        store.list(principal.tenant(), afterCreated, afterCode, pageSize).subscribe(links -> exchange.respondJson(
                HttpResponseStatus.OK, json -> {
                    json.writeStartObject();
                    json.writeArrayFieldStart("links");
                    for (Link l : links) {
                        writeLink(json, l);
                    }
                    json.writeEndArray();
                    if (links.size() == pageSize) {
                        Link last = links.get(links.size() - 1);
                        json.writeStringField("next_cursor", Base64.getUrlEncoder().withoutPadding().encodeToString(
                                (last.createdAt() + "|" + last.code()).getBytes(StandardCharsets.UTF_8)));
                    } else {
                        json.writeNullField("next_cursor");
                    }
                    json.writeEndObject();
                }), error -> unavailable(exchange, error));
    }

    /** Everything under {@code /api/v1/links/}: {code} with GET, PATCH, DELETE, and {code}/stats. */
    public void one(HttpExchange exchange, Principal principal) {
        String rest = exchange.path().substring(PREFIX.length());
        boolean stats = rest.endsWith("/stats");
        String code = stats ? rest.substring(0, rest.length() - "/stats".length()) : rest;
        if (!LinkRules.isCode(code)) {
            exchange.error(HttpResponseStatus.NOT_FOUND, "not_found", "no link " + code);
            return;
        }
        HttpMethod method = exchange.method();
        if (stats && method.equals(HttpMethod.GET)) {
            stats(exchange, principal, code);
        } else if (!stats && method.equals(HttpMethod.GET)) {
            store.find(principal.tenant(), code).subscribe(
                    link -> exchange.respondJson(HttpResponseStatus.OK, json -> writeLink(json, link)),
                    error -> unavailable(exchange, error),
                    () -> notFound(exchange, code));
        } else if (!stats && method.equals(HttpMethod.PATCH)) {
            update(exchange, principal, code);
        } else if (!stats && method.equals(HttpMethod.DELETE)) {
            store.delete(principal.tenant(), code).subscribe(deleted -> {
                if (!deleted) {
                    notFound(exchange, code);
                    return;
                }
                cache.invalidate(code);
                invalidation.publish(code);
                exchange.respond(HttpResponseStatus.NO_CONTENT, "application/json", io.netty.buffer.Unpooled.EMPTY_BUFFER);
            }, error -> unavailable(exchange, error));
        } else {
            exchange.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
                    method + " is not allowed on " + exchange.path());
        }
    }

    private void update(HttpExchange exchange, Principal principal, String code) {
        Fields f;
        String target;
        try {
            f = parse(exchange);
            target = f.url() == null ? null : rules.checkTarget(f.url());
            if (f.redirect() != null) {
                LinkRules.checkRedirect(f.redirect());
            }
            if (f.alias() != null) {
                throw new BadRequest("invalid_field", "alias: a link's code cannot change");
            }
        } catch (BadRequest | LinkRules.InvalidLinkException e) {
            badRequest(exchange, e);
            return;
        }
        store.update(principal.tenant(), code, target, f.redirect(), f.expiresAt(), f.expiresAtNull()).subscribe(link -> {
            cache.invalidate(code);
            invalidation.publish(code);
            exchange.respondJson(HttpResponseStatus.OK, json -> writeLink(json, link));
        }, error -> unavailable(exchange, error), () -> notFound(exchange, code));
    }

    private void stats(HttpExchange exchange, Principal principal, String code) {
        Instant from;
        Instant to;
        Duration step;
        try {
            QueryParams params = QueryParams.of(exchange.uri());
            to = params.time("to", clock.instant());
            from = params.time("from", to.minus(Duration.ofDays(1)));
            step = params.step(Duration.ofHours(1));
            if (!from.isBefore(to)) {
                throw new BadRequest("invalid_query", "from: must be before to");
            }
            if (step.compareTo(Duration.ofMinutes(1)) < 0 || step.toMillis() % 60_000 != 0) {
                throw new BadRequest("invalid_query", "step: " + step + " (expected: whole minutes, at least 1m)");
            }
            if (Duration.between(from, to).toMillis() / step.toMillis() > 100_000) {
                throw new BadRequest("invalid_query", "too many points; use a larger step");
            }
        } catch (BadRequest e) {
            badRequest(exchange, e);
            return;
        } catch (RuntimeException e) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "invalid_query", e.getMessage());
            return;
        }
        Instant f = from;
        Instant t = to;
        store.stats(principal.tenant(), code, f, t, step)
                .subscribe(points -> exchange.respondJson(HttpResponseStatus.OK, json -> {
                    json.writeStartObject();
                    json.writeStringField("code", code);
                    json.writeNumberField("step_ms", step.toMillis());
                    json.writeArrayFieldStart("clicks");
                    for (long[] p : points) {
                        json.writeStartArray();
                        json.writeNumber(p[0]);
                        json.writeNumber(p[1]);
                        json.writeEndArray();
                    }
                    json.writeEndArray();
                    json.writeArrayFieldStart("bots");
                    for (long[] p : points) {
                        json.writeStartArray();
                        json.writeNumber(p[0]);
                        json.writeNumber(p[2]);
                        json.writeEndArray();
                    }
                    json.writeEndArray();
                    json.writeEndObject();
                }), error -> unavailable(exchange, error), () -> notFound(exchange, code));
    }

    private void writeLink(JsonGenerator json, Link link) throws IOException {
        json.writeStartObject();
        json.writeStringField("code", link.code());
        json.writeStringField("short_url", baseUrl.get() + "/" + link.code());
        json.writeStringField("url", link.target());
        json.writeNumberField("redirect", link.redirect());
        if (link.expiresAt() == null) {
            json.writeNullField("expires_at");
        } else {
            json.writeStringField("expires_at", link.expiresAt().toString());
        }
        json.writeStringField("created_at", link.createdAt().toString());
        json.writeEndObject();
    }

    private static final class BadRequest extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String code;

        BadRequest(String code, String message) {
            super(message, null, false, false);
            this.code = code;
        }
    }

    private static void badRequest(HttpExchange exchange, RuntimeException e) {
        String code = e instanceof BadRequest b ? b.code : ((LinkRules.InvalidLinkException) e).code();
        exchange.error(HttpResponseStatus.BAD_REQUEST, code, e.getMessage());
    }

    private static void notFound(HttpExchange exchange, String code) {
        exchange.error(HttpResponseStatus.NOT_FOUND, "not_found", "no link " + code);
    }

    private static void unavailable(HttpExchange exchange, Throwable error) {
        DependencyErrors.respond(exchange, "links cannot be served", error);
    }

    private static Fields parse(HttpExchange exchange) {
        String url = null;
        String alias = null;
        Instant expiresAt = null;
        boolean expiresNull = false;
        Integer redirect = null;
        try (JsonParser p = JSON.createParser((java.io.InputStream) new ByteBufInputStream(exchange.body().duplicate()))) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new BadRequest("invalid_json", "expected a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                switch (name) {
                    case "url" -> url = text(p, t, name);
                    case "alias" -> alias = text(p, t, name);
                    case "expires_at" -> {
                        if (t == JsonToken.VALUE_NULL) {
                            expiresNull = true;
                        } else {
                            String text = text(p, t, name);
                            try {
                                expiresAt = Timestamps.parse(text);
                            } catch (DateTimeParseException e) {
                                throw new BadRequest("invalid_expiry", "expires_at: expected RFC 3339 or null");
                            } catch (DateTimeException e) {
                                throw new BadRequest("invalid_expiry", "expires_at: " + text
                                        + " (expected: a time from " + Timestamps.RANGE + ", or null)");
                            }
                        }
                    }
                    case "redirect" -> {
                        if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() != JsonParser.NumberType.INT) {
                            throw new BadRequest("invalid_redirect", "redirect: expected 301, 302, 307 or 308");
                        }
                        redirect = p.getIntValue();
                    }
                    default -> throw new BadRequest("invalid_field", "unknown field " + name
                            + " (expected: url, alias, expires_at, redirect)");
                }
            }
            if (p.nextToken() != null) {
                throw new BadRequest("invalid_json", "unexpected content after the JSON object");
            }
        } catch (StreamConstraintsException e) {
            throw new BadRequest("invalid_json", "body exceeds a JSON limit: " + Json.describe(e));
        } catch (JsonProcessingException e) {
            throw new BadRequest("invalid_json", "body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new BadRequest("invalid_json", "body could not be read");
        }
        return new Fields(url, alias, expiresAt, expiresNull, redirect);
    }

    private static String text(JsonParser p, JsonToken t, String name) throws IOException {
        if (t != JsonToken.VALUE_STRING) {
            throw new BadRequest("invalid_field", name + ": expected a string");
        }
        String text = p.getText();
        int at = Json.unpairedSurrogate(text);
        if (at >= 0) {
            throw new BadRequest("invalid_field", name + ": an unpaired surrogate (\\u"
                    + Integer.toHexString(text.charAt(at)) + ") at position " + at + " is not a character");
        }
        return text;
    }

}
