package io.sluice.storage.alerting;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** A rule's annotations rendered per alert through {@link AlertTemplate}. */
class AlertAnnotationsTest {

    private static AlertRule rule(Map<String, String> annotations) {
        return new AlertRule(1, "acme", "g", "Hot", "temp", null, null, Duration.ZERO, Duration.ZERO,
                Duration.ofSeconds(10), AlertRule.NoData.KEEP, new TreeMap<>(), new TreeMap<>(annotations), 1);
    }

    @Test
    void eachAnnotationIsRenderedWithTheAlertsLabelsAndValue() {
        AlertRule rule = rule(Map.of("summary", "{{ $labels.room }} is {{ $value }}", "runbook", "https://x/hot"));
        AlertAnnotations annotations = AlertAnnotations.compile(rule);
        assertThat(annotations.render(rule, new TreeMap<>(Map.of("room", "kitchen")), 42.5))
                .containsExactly(Map.entry("runbook", "https://x/hot"), Map.entry("summary", "kitchen is 42.5"));
        assertThat(annotations.render(rule, new TreeMap<>(Map.of("room", "hall")), 7))
                .containsEntry("summary", "hall is 7");
    }

    @Test
    void aTemplateThatDoesNotParseRendersAsAFailedExpansion() {
        AlertRule rule = rule(Map.of("summary", "{{ if }}", "ok", "fine"));
        assertThat(AlertAnnotations.compile(rule).render(rule, new TreeMap<>(), 1))
                .containsEntry("ok", "fine")
                .hasEntrySatisfying("summary", v -> assertThat(v).startsWith("<error expanding template: "));
    }
}
