package io.sluice.storage.alerting;

import java.time.Instant;

/**
 * A rule as stored, with what the alerters last wrote about it.
 *
 * @param rule               the rule, with its id and version
 * @param health             {@code unknown} (not evaluated yet), {@code ok} or {@code error}
 * @param lastEvaluation     when it was last evaluated, or null
 * @param lastEvaluationMs   how long that took, or null
 * @param lastError          the last evaluation's error, or null
 */
public record StoredRule(AlertRule rule, String health, Instant lastEvaluation, Integer lastEvaluationMs,
                         String lastError, Instant createdAt, Instant updatedAt) {
}
