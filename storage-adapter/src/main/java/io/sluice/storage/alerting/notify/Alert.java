package io.sluice.storage.alerting.notify;

import java.time.Instant;
import java.util.SortedMap;

/**
 * One row of {@code alert_instances} as the notifier reads it (the evaluator writes it): a firing or resolved alert
 * with its labels and already rendered annotations.
 */
public record Alert(long ruleId, long fingerprint, SortedMap<String, String> labels,
                    SortedMap<String, String> annotations, String state, Double value, Instant activeAt,
                    Instant firedAt, Instant resolvedAt) {

    public static final String FIRING = "firing";
    public static final String RESOLVED = "resolved";

    /** The fingerprint as Alertmanager shows one: 16 hex digits. */
    public String fingerprintHex() {
        return String.format("%016x", fingerprint);
    }

    public boolean firing() {
        return FIRING.equals(state);
    }
}
