package io.sluice.storage.alerting;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The one place a rule's annotations are rendered for its alerts: each annotation's {@link AlertTemplate}, parsed once
 * per evaluation ({@link #compile}) and rendered per alert with its labels and value. The rules API refuses templates
 * that do not parse; one that still fails here (a rule stored by an older version) renders as Prometheus renders a
 * failed expansion, {@code <error expanding template: ...>}, rather than failing the evaluation.
 */
public final class AlertAnnotations implements AlertStateMachine.AnnotationRenderer {

    private final Map<String, AlertTemplate> templates = new LinkedHashMap<>();
    private final Map<String, String> broken = new LinkedHashMap<>();

    private AlertAnnotations(AlertRule rule) {
        for (Map.Entry<String, String> a : rule.annotations().entrySet()) {
            try {
                templates.put(a.getKey(), AlertTemplate.parse(a.getValue()));
            } catch (AlertTemplate.InvalidTemplateException e) {
                broken.put(a.getKey(), "<error expanding template: " + e.getMessage() + ">");
            }
        }
    }

    /** The rule's annotation templates, parsed. */
    public static AlertAnnotations compile(AlertRule rule) {
        return new AlertAnnotations(rule);
    }

    @Override
    public SortedMap<String, String> render(AlertRule rule, SortedMap<String, String> labels, double value) {
        SortedMap<String, String> out = new TreeMap<>(broken);
        for (Map.Entry<String, AlertTemplate> t : templates.entrySet()) {
            out.put(t.getKey(), t.getValue().render(labels, value));
        }
        return out;
    }
}
