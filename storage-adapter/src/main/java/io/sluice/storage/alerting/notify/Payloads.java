package io.sluice.storage.alerting.notify;

import com.fasterxml.jackson.core.JsonGenerator;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The bodies of notifications, rendered when a group's notification is accepted for delivery.
 * <ul>
 *   <li>{@code alertmanager}: Alertmanager's webhook payload (version 4), so that an Alertmanager webhook consumer
 *   takes it as it is: {@code version, groupKey, truncatedAlerts, status, receiver, groupLabels, commonLabels,
 *   commonAnnotations, externalURL, alerts[{status, labels, annotations, startsAt, endsAt, generatorURL,
 *   fingerprint}]}. {@code endsAt} is {@code 0001-01-01T00:00:00Z} while an alert fires.</li>
 *   <li>{@code webhook}: Sluice's JSON: {@code tenant, receiver, group_key, group_labels, status, idempotency_key,
 *   external_url, alerts[{fingerprint, state, value, labels, annotations, active_at, fired_at, resolved_at,
 *   generator_url}]}.</li>
 * </ul>
 * The external URL is {@code alerting.external-url}; an alert's generator URL is its rule's API resource,
 * {@code <external-url>/api/v1/alerts/rules/<rule id>} (Sluice has no UI to link to, as Prometheus links to its
 * graph page). When the setting is empty both are unknown: {@code ""} in Alertmanager's payload (as Alertmanager
 * consumers expect a string), {@code null} in Sluice's JSON.
 */
public final class Payloads {

    /** Alertmanager's zero time, the {@code endsAt} of an alert still firing. */
    public static final String ZERO_TIME = "0001-01-01T00:00:00Z";

    private Payloads() {
    }

    /** One group's notification: what it is about and the alerts it carries (firing and resolved). */
    public record Notification(String tenant, Receiver receiver, String groupKey, SortedMap<String, String> groupLabels,
                               List<Alert> alerts, String idempotencyKey) {

        /** {@code firing} when any alert fires, else {@code resolved}. */
        public String status() {
            return alerts.stream().anyMatch(Alert::firing) ? Alert.FIRING : Alert.RESOLVED;
        }
    }

    /**
     * The body of a notification.
     *
     * @param externalUrl {@code alerting.external-url} without a trailing slash; empty when unknown
     */
    public static String render(Notification n, String externalUrl) {
        return JsonTree.write(json -> {
            if (Receiver.ALERTMANAGER.equals(n.receiver().kind())) {
                alertmanager(json, n, externalUrl);
            } else {
                webhook(json, n, externalUrl);
            }
        });
    }

    /** The API resource of the rule that raised an alert; empty when the external URL is unknown. */
    static String generatorUrl(String externalUrl, Alert a) {
        return externalUrl.isEmpty() ? "" : externalUrl + "/api/v1/alerts/rules/" + a.ruleId();
    }

    private static void alertmanager(JsonGenerator json, Notification n, String externalUrl) throws IOException {
        json.writeStartObject();
        json.writeStringField("version", "4");
        json.writeStringField("groupKey", n.groupKey());
        json.writeNumberField("truncatedAlerts", 0);
        json.writeStringField("status", n.status());
        json.writeStringField("receiver", n.receiver().name());
        json.writeFieldName("groupLabels");
        JsonTree.writeStrings(json, n.groupLabels());
        json.writeFieldName("commonLabels");
        JsonTree.writeStrings(json, common(n.alerts(), true));
        json.writeFieldName("commonAnnotations");
        JsonTree.writeStrings(json, common(n.alerts(), false));
        json.writeStringField("externalURL", externalUrl);
        json.writeArrayFieldStart("alerts");
        for (Alert a : n.alerts()) {
            json.writeStartObject();
            json.writeStringField("status", a.state());
            json.writeFieldName("labels");
            JsonTree.writeStrings(json, a.labels());
            json.writeFieldName("annotations");
            JsonTree.writeStrings(json, a.annotations());
            json.writeStringField("startsAt", (a.firedAt() != null ? a.firedAt() : a.activeAt()).toString());
            json.writeStringField("endsAt", a.firing() || a.resolvedAt() == null ? ZERO_TIME
                    : a.resolvedAt().toString());
            json.writeStringField("generatorURL", generatorUrl(externalUrl, a));
            json.writeStringField("fingerprint", a.fingerprintHex());
            json.writeEndObject();
        }
        json.writeEndArray();
        json.writeEndObject();
    }

    private static void webhook(JsonGenerator json, Notification n, String externalUrl) throws IOException {
        json.writeStartObject();
        json.writeStringField("tenant", n.tenant());
        json.writeStringField("receiver", n.receiver().name());
        json.writeStringField("group_key", n.groupKey());
        json.writeFieldName("group_labels");
        JsonTree.writeStrings(json, n.groupLabels());
        json.writeStringField("status", n.status());
        json.writeStringField("idempotency_key", n.idempotencyKey());
        optional(json, "external_url", externalUrl);
        json.writeArrayFieldStart("alerts");
        for (Alert a : n.alerts()) {
            json.writeStartObject();
            json.writeStringField("fingerprint", a.fingerprintHex());
            json.writeStringField("state", a.state());
            json.writeFieldName("value");
            if (a.value() == null) {
                json.writeNull();
            } else if (Double.isFinite(a.value())) {
                json.writeNumber(a.value());
            } else {
                json.writeString(a.value().isNaN() ? "NaN" : a.value() > 0 ? "+Inf" : "-Inf");
            }
            json.writeFieldName("labels");
            JsonTree.writeStrings(json, a.labels());
            json.writeFieldName("annotations");
            JsonTree.writeStrings(json, a.annotations());
            time(json, "active_at", a.activeAt());
            time(json, "fired_at", a.firedAt());
            time(json, "resolved_at", a.resolvedAt());
            optional(json, "generator_url", generatorUrl(externalUrl, a));
            json.writeEndObject();
        }
        json.writeEndArray();
        json.writeEndObject();
    }

    /** A string field, {@code null} when empty (unknown). */
    private static void optional(JsonGenerator json, String field, String value) throws IOException {
        if (value.isEmpty()) {
            json.writeNullField(field);
        } else {
            json.writeStringField(field, value);
        }
    }

    private static void time(JsonGenerator json, String field, Instant t) throws IOException {
        if (t == null) {
            json.writeNullField(field);
        } else {
            json.writeStringField(field, t.toString());
        }
    }

    /** The labels (or annotations) every alert has with the same value. */
    static SortedMap<String, String> common(List<Alert> alerts, boolean labels) {
        SortedMap<String, String> common = null;
        for (Alert a : alerts) {
            Map<String, String> m = labels ? a.labels() : a.annotations();
            if (common == null) {
                common = new TreeMap<>(m);
            } else {
                common.entrySet().removeIf(e -> !e.getValue().equals(m.get(e.getKey())));
            }
        }
        return common == null ? new TreeMap<>() : common;
    }
}
