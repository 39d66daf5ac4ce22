package io.sluice.storage.alerting;

/**
 * An evaluation whose answer cannot be turned into alerts (a string answer, two elements with the same alert
 * labels, a rule that cannot be read): the rule is marked {@code health = error} with this message, its alerts
 * unchanged.
 */
public final class AlertEvaluationException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public AlertEvaluationException(String message) {
        super(message, null, false, false);
    }
}
