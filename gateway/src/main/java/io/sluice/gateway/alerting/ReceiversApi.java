package io.sluice.gateway.alerting;

import com.fasterxml.jackson.core.JsonGenerator;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.config.AlertingConfig;
import io.sluice.config.Settings;
import io.sluice.gateway.http.DependencyErrors;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.storage.alerting.notify.JsonTree;
import io.sluice.storage.alerting.notify.NotifyStore;
import io.sluice.storage.alerting.notify.Receiver;
import io.sluice.storage.auth.Principal;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.regex.Pattern;

/**
 * The receivers API: {@code POST /api/v1/alerts/receivers}, {@code GET /api/v1/alerts/receivers}, and
 * {@code GET|PUT|DELETE /api/v1/alerts/receivers/{name}}. A receiver is {@code {name, kind (alertmanager|webhook),
 * url (http or https), headers, send_resolved}}; header values are never shown back (they often hold credentials).
 * Scoped to the caller's tenant: another tenant's receiver is 404. A tenant has at most
 * {@code alerting.max-receivers-per-tenant} receivers: one more is 422 {@code too_many_receivers}. A receiver has at
 * most {@code alerting.max-receiver-headers} headers, each value at most
 * {@code alerting.max-receiver-header-value-length} characters, and a URL of at most
 * {@code alerting.max-receiver-url-length} characters: more is 400 naming the setting.
 */
public final class ReceiversApi {

    static final String PREFIX = "/api/v1/alerts/receivers/";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    private static final Pattern HEADER_NAME = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}");
    /** Headers Sluice sets itself, or that the HTTP client does not let a caller set. */
    private static final Set<String> RESERVED_HEADERS = Set.of("content-type", "content-length", "idempotency-key",
            "host", "connection", "expect", "upgrade", "transfer-encoding", "te", "trailer", "keep-alive");
    private static final Set<String> FIELDS = Set.of("name", "kind", "url", "headers", "send_resolved");

    private final NotifyStore store;
    private final RequestBodies bodies;
    private final AlertingConfig.Limits limits;

    /** @param limits the {@code alerting.max-receiver*} settings among them */
    ReceiversApi(NotifyStore store, RequestBodies bodies, AlertingConfig.Limits limits) {
        this.store = store;
        this.bodies = bodies;
        this.limits = limits;
    }

    public void create(HttpExchange exchange, Principal principal) {
        Receiver receiver;
        try {
            receiver = parse(exchange, principal.tenant(), null);
        } catch (RequestBodies.BadRequest e) {
            bodies.reject(exchange, "receivers", e);
            return;
        }
        store.createReceiver(receiver, limits.maxReceiversPerTenant()).subscribe(
                r -> exchange.respondJson(HttpResponseStatus.CREATED, json -> write(json, r)),
                error -> {
                    if (error instanceof NotifyStore.ReceiverExistsException) {
                        exchange.error(HttpResponseStatus.CONFLICT, "receiver_exists", error.getMessage());
                    } else if (error instanceof NotifyStore.TooManyReceiversException) {
                        bodies.refuse(exchange, "receivers", HttpResponseStatus.UNPROCESSABLE_ENTITY,
                                "too_many_receivers", error.getMessage());
                    } else {
                        unavailable(exchange, error);
                    }
                });
    }

    public void list(HttpExchange exchange, Principal principal) {
        store.receivers(principal.tenant()).subscribe(receivers -> exchange.respondJson(HttpResponseStatus.OK,
                json -> {
                    json.writeStartObject();
                    json.writeArrayFieldStart("receivers");
                    for (Receiver r : receivers) {
                        write(json, r);
                    }
                    json.writeEndArray();
                    json.writeEndObject();
                }), error -> unavailable(exchange, error));
    }

    /** {@code GET|PUT|DELETE /api/v1/alerts/receivers/{name}}. */
    public void one(HttpExchange exchange, Principal principal) {
        String name = exchange.path().substring(PREFIX.length());
        if (!NAME.matcher(name).matches()) {
            notFound(exchange, name);
            return;
        }
        HttpMethod method = exchange.method();
        if (method.equals(HttpMethod.GET)) {
            store.receiver(principal.tenant(), name).subscribe(
                    r -> exchange.respondJson(HttpResponseStatus.OK, json -> write(json, r)),
                    error -> unavailable(exchange, error), () -> notFound(exchange, name));
        } else if (method.equals(HttpMethod.PUT)) {
            Receiver receiver;
            try {
                receiver = parse(exchange, principal.tenant(), name);
            } catch (RequestBodies.BadRequest e) {
                bodies.reject(exchange, "receivers", e);
                return;
            }
            store.updateReceiver(receiver).subscribe(
                    r -> exchange.respondJson(HttpResponseStatus.OK, json -> write(json, r)),
                    error -> unavailable(exchange, error), () -> notFound(exchange, name));
        } else if (method.equals(HttpMethod.DELETE)) {
            store.deleteReceiver(principal.tenant(), name).subscribe(deleted -> {
                if (deleted) {
                    exchange.respond(HttpResponseStatus.NO_CONTENT, "application/json",
                            io.netty.buffer.Unpooled.EMPTY_BUFFER);
                } else {
                    notFound(exchange, name);
                }
            }, error -> {
                if (error instanceof NotifyStore.ReceiverInUseException) {
                    exchange.error(HttpResponseStatus.CONFLICT, "receiver_in_use", error.getMessage());
                } else {
                    unavailable(exchange, error);
                }
            });
        } else {
            exchange.error(HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
                    method + " is not allowed on " + exchange.path());
        }
    }

    /** @param pathName the name in the path (PUT), which a body's name must equal; null for POST */
    private Receiver parse(HttpExchange exchange, String tenant, String pathName) {
        Map<String, Object> f = RequestBodies.object(exchange, FIELDS);
        String name = RequestBodies.text(f, "name", "name", pathName == null);
        if (name == null) {
            name = pathName;
        } else if (pathName != null && !pathName.equals(name)) {
            throw new RequestBodies.BadRequest("invalid_field", "name: " + name + " differs from the path's "
                    + pathName + " (a receiver cannot be renamed)");
        }
        if (!NAME.matcher(name).matches()) {
            throw new RequestBodies.BadRequest("invalid_name", "name: " + name
                    + " (expected 1 to 64 of A-Z, a-z, 0-9, _, ., -, starting with a letter or digit)");
        }
        String kind = RequestBodies.text(f, "kind", "kind", true);
        if (!Receiver.KINDS.contains(kind)) {
            throw new RequestBodies.BadRequest("invalid_kind", "kind: " + kind + " (expected alertmanager or webhook)");
        }
        String url = RequestBodies.text(f, "url", "url", true);
        checkUrl(url);
        SortedMap<String, String> headers = new java.util.TreeMap<>();
        if (f.get("headers") != null) {
            try {
                headers = JsonTree.stringMap(f.get("headers"), "headers");
            } catch (JsonTree.InvalidJsonException e) {
                throw new RequestBodies.BadRequest("invalid_header", e.getMessage());
            }
            int maxHeaders = limits.maxReceiverHeaders();
            if (headers.size() > maxHeaders) {
                throw new RequestBodies.BadRequest("invalid_header", "headers: " + headers.size() + " (at most "
                        + maxHeaders + ", " + Settings.ALERTING_MAX_RECEIVER_HEADERS.name() + ")");
            }
            for (Map.Entry<String, String> h : headers.entrySet()) {
                if (!HEADER_NAME.matcher(h.getKey()).matches()) {
                    throw new RequestBodies.BadRequest("invalid_header", "headers." + h.getKey()
                            + ": not a header name");
                }
                if (RESERVED_HEADERS.contains(h.getKey().toLowerCase(Locale.ROOT))) {
                    throw new RequestBodies.BadRequest("invalid_header", "headers." + h.getKey()
                            + ": set by Sluice, cannot be given");
                }
                int maxValue = limits.maxReceiverHeaderValueLength();
                if (h.getValue().length() > maxValue) {
                    throw new RequestBodies.BadRequest("invalid_header", "headers." + h.getKey() + ": a value of "
                            + h.getValue().length() + " characters (at most " + maxValue + ", "
                            + Settings.ALERTING_MAX_RECEIVER_HEADER_VALUE_LENGTH.name() + ")");
                }
                if (h.getValue().chars().anyMatch(c -> (c < 0x20 && c != '\t') || c > 0x7e)) {
                    throw new RequestBodies.BadRequest("invalid_header", "headers." + h.getKey()
                            + ": a value of printable ASCII characters and tabs only");
                }
            }
        }
        boolean sendResolved = RequestBodies.bool(f, "send_resolved", "send_resolved", true);
        return new Receiver(tenant, name, kind, url, headers, sendResolved);
    }

    private void checkUrl(String url) {
        int maxUrl = limits.maxReceiverUrlLength();
        if (url.length() > maxUrl) {
            throw new RequestBodies.BadRequest("invalid_url", "url: " + url.length() + " characters (at most "
                    + maxUrl + ", " + Settings.ALERTING_MAX_RECEIVER_URL_LENGTH.name() + ")");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new RequestBodies.BadRequest("invalid_url", "url: " + url + " is not a URL (" + e.getReason() + ")");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null
                || uri.getPort() > 65535 || uri.getRawUserInfo() != null) {
            throw new RequestBodies.BadRequest("invalid_url", "url: " + url
                    + " (expected an absolute http or https URL with a host, no user info (use headers))");
        }
    }

    static void write(JsonGenerator json, Receiver r) throws IOException {
        json.writeStartObject();
        json.writeStringField("name", r.name());
        json.writeStringField("kind", r.kind());
        json.writeStringField("url", r.url());
        json.writeArrayFieldStart("headers");
        for (String name : r.headers().keySet()) {
            json.writeString(name);
        }
        json.writeEndArray();
        json.writeBooleanField("send_resolved", r.sendResolved());
        json.writeEndObject();
    }

    private static void notFound(HttpExchange exchange, String name) {
        exchange.error(HttpResponseStatus.NOT_FOUND, "not_found", "no receiver " + name);
    }

    static void unavailable(HttpExchange exchange, Throwable error) {
        DependencyErrors.respond(exchange, "alert notifications cannot be served", error);
    }
}
