package io.sluice.storage.alerting.notify;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** The notification bodies' external and generator URLs, from {@code alerting.external-url}, in both formats. */
class PayloadsTest {

    private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

    private static Payloads.Notification notification(String kind) {
        Alert firing = new Alert(42, 0x1a30ba71cca2921fL, new TreeMap<>(Map.of("alertname", "HighCPU", "host", "a")),
                new TreeMap<>(), Alert.FIRING, 0.97, T0, T0, null);
        Alert resolved = new Alert(7, 2, new TreeMap<>(Map.of("alertname", "HighCPU", "host", "b")),
                new TreeMap<>(), Alert.RESOLVED, null, T0, T0, T0.plusSeconds(60));
        return new Payloads.Notification("acme", new Receiver("acme", "ops", kind, "http://example.invalid/hook",
                new TreeMap<>(), true), "{}:{alertname=\"HighCPU\"}", new TreeMap<>(Map.of("alertname", "HighCPU")),
                List.of(firing, resolved), "key");
    }

    private static Map<?, ?> render(String kind, String externalUrl) {
        return (Map<?, ?>) JsonTree.parse(Payloads.render(notification(kind), externalUrl));
    }

    private static List<Object> alertField(Map<?, ?> payload, String field) {
        return ((List<?>) payload.get("alerts")).stream().map(a -> (Object) ((Map<?, ?>) a).get(field)).toList();
    }

    @Test
    void alertmanagerPayloadLinksToTheRulesApiResourcesUnderTheExternalUrl() {
        Map<?, ?> payload = render(Receiver.ALERTMANAGER, "https://sluice.example.com/base");
        assertThat(payload.get("externalURL")).isEqualTo("https://sluice.example.com/base");
        assertThat(alertField(payload, "generatorURL")).containsExactly(
                "https://sluice.example.com/base/api/v1/alerts/rules/42",
                "https://sluice.example.com/base/api/v1/alerts/rules/7");
    }

    @Test
    void alertmanagerPayloadHasEmptyUrlsWhenTheExternalUrlIsUnknown() {
        Map<?, ?> payload = render(Receiver.ALERTMANAGER, "");
        assertThat(payload.get("externalURL")).isEqualTo("");
        assertThat(alertField(payload, "generatorURL")).containsExactly("", "");
    }

    @Test
    void webhookPayloadCarriesTheUrlsAndNullWhenUnknown() {
        Map<?, ?> payload = render(Receiver.WEBHOOK, "http://sluice.internal:8080");
        assertThat(payload.get("external_url")).isEqualTo("http://sluice.internal:8080");
        assertThat(alertField(payload, "generator_url")).containsExactly(
                "http://sluice.internal:8080/api/v1/alerts/rules/42", "http://sluice.internal:8080/api/v1/alerts/rules/7");

        Map<?, ?> unknown = render(Receiver.WEBHOOK, "");
        assertThat(unknown.containsKey("external_url")).isTrue();
        assertThat(unknown.get("external_url")).isNull();
        List<?> alerts = (List<?>) unknown.get("alerts");
        assertThat(alerts).allSatisfy(a -> {
            assertThat(((Map<?, ?>) a).containsKey("generator_url")).isTrue();
            assertThat(((Map<?, ?>) a).get("generator_url")).isNull();
        });
    }
}
