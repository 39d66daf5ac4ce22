package io.sluice.config;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;

/**
 * Alert rules, their evaluation by the {@code alerter} role, and the delivery of notifications.
 *
 * @param defaultInterval     {@code alerting.default-interval}: a rule's evaluation interval when it names none
 * @param minIntervals        {@code alerting.<tier>.min-interval}: the shortest interval a tenant of that tier may ask for
 * @param maxRulesPerTenant   {@code alerting.max-rules-per-tenant}
 * @param evaluationTimeout   {@code alerting.evaluation-timeout}: deadline of one rule's evaluation, query included
 * @param pollInterval        {@code alerting.poll-interval}: how often an alerter claims due rules and due deliveries
 * @param claimBatch          {@code alerting.claim-batch}: most rules one alerter claims per round
 * @param resolvedRetention   {@code alerting.resolved-retention}: how long a resolved alert is kept (and notified)
 * @param groupWait           {@code alerting.group-wait}: default wait before a new group's first notification
 * @param groupInterval       {@code alerting.group-interval}: default least time between notifications of a changed group
 * @param repeatInterval      {@code alerting.repeat-interval}: default time before an unchanged firing group is sent again
 * @param webhookTimeout      {@code alerting.webhook-timeout}: deadline of one delivery attempt
 * @param retryInitialBackoff {@code alerting.retry-initial-backoff}: first retry's backoff cap (exponential, full jitter)
 * @param retryMaxBackoff     {@code alerting.retry-max-backoff}: largest backoff cap
 * @param deliveryMaxAge      {@code alerting.delivery-max-age}: a notification not delivered by then is dropped, counted
 * @param outboxMaxRows       {@code alerting.outbox-max-rows}: bound of the delivery outbox per tenant
 * @param limits              the sizes of rules, routes, silences and receivers ({@code alerting.max-*})
 * @param externalUrl         {@code alerting.external-url}: where clients reach Sluice's API, without a trailing
 *                            slash; empty when unknown
 */
public record AlertingConfig(Duration defaultInterval, Map<Tier, Duration> minIntervals, int maxRulesPerTenant,
                             Duration evaluationTimeout, Duration pollInterval, int claimBatch,
                             Duration resolvedRetention, Duration groupWait, Duration groupInterval,
                             Duration repeatInterval, Duration webhookTimeout, Duration retryInitialBackoff,
                             Duration retryMaxBackoff, Duration deliveryMaxAge, int outboxMaxRows,
                             Limits limits, String externalUrl) {

    /**
     * The sizes the alerting APIs accept, each a setting.
     *
     * @param maxRuleNameLength            {@code alerting.max-rule-name-length}: characters of a rule or group name
     * @param maxExprBytes                 {@code alerting.max-expr-bytes}: UTF-8 bytes of a rule's expression
     * @param maxLabelsPerRule             {@code alerting.max-labels-per-rule}
     * @param maxAnnotationsPerRule        {@code alerting.max-annotations-per-rule}
     * @param maxLabelValueLength          {@code alerting.max-label-value-length}: characters of a rule's label value
     * @param maxAnnotationBytes           {@code alerting.max-annotation-bytes}: UTF-8 bytes of an annotation template
     * @param maxListedAlerts              {@code alerting.max-listed-alerts}: pending and firing alerts one listing
     *                                     shows
     * @param maxRoutesPerTenant           {@code alerting.max-routes-per-tenant}
     * @param maxSilenceTextLength         {@code alerting.max-silence-text-length}: characters of created_by and
     *                                     comment
     * @param maxReceiversPerTenant        {@code alerting.max-receivers-per-tenant}
     * @param maxReceiverHeaders           {@code alerting.max-receiver-headers}: HTTP headers of one receiver
     * @param maxReceiverHeaderValueLength {@code alerting.max-receiver-header-value-length}: characters of a
     *                                     receiver's header value
     * @param maxReceiverUrlLength         {@code alerting.max-receiver-url-length}: characters of a receiver's URL
     */
    public record Limits(int maxRuleNameLength, int maxExprBytes, int maxLabelsPerRule, int maxAnnotationsPerRule,
                         int maxLabelValueLength, int maxAnnotationBytes, int maxListedAlerts, int maxRoutesPerTenant,
                         int maxSilenceTextLength, int maxReceiversPerTenant, int maxReceiverHeaders,
                         int maxReceiverHeaderValueLength, int maxReceiverUrlLength) {
    }

    public AlertingConfig {
        EnumMap<Tier, Duration> copy = new EnumMap<>(Tier.class);
        copy.putAll(minIntervals);
        for (Tier tier : Tier.values()) {
            if (!copy.containsKey(tier)) {
                throw new IllegalArgumentException("alerting: no minimum interval for tier " + tier);
            }
        }
        minIntervals = Map.copyOf(copy);
        java.util.Objects.requireNonNull(limits, "limits");
        java.util.Objects.requireNonNull(externalUrl, "externalUrl");
        if (retryMaxBackoff.compareTo(retryInitialBackoff) < 0) {
            throw new ConfigException(Settings.ALERTING_RETRY_MAX_BACKOFF.name() + ": " + retryMaxBackoff.toMillis()
                    + "ms (expected: at least " + Settings.ALERTING_RETRY_INITIAL_BACKOFF.name() + ", "
                    + retryInitialBackoff.toMillis() + "ms)");
        }
    }

    /** The shortest evaluation interval a tenant of this tier may ask for. */
    public Duration minInterval(Tier tier) {
        return minIntervals.get(tier);
    }

    public AlertingConfig withPolling(Duration newPollInterval) {
        return new AlertingConfig(defaultInterval, minIntervals, maxRulesPerTenant, evaluationTimeout, newPollInterval,
                claimBatch, resolvedRetention, groupWait, groupInterval, repeatInterval, webhookTimeout,
                retryInitialBackoff, retryMaxBackoff, deliveryMaxAge, outboxMaxRows, limits, externalUrl);
    }

    public AlertingConfig withMinInterval(Tier tier, Duration min) {
        EnumMap<Tier, Duration> copy = new EnumMap<>(minIntervals);
        copy.put(tier, min);
        return new AlertingConfig(defaultInterval, copy, maxRulesPerTenant, evaluationTimeout, pollInterval,
                claimBatch, resolvedRetention, groupWait, groupInterval, repeatInterval, webhookTimeout,
                retryInitialBackoff, retryMaxBackoff, deliveryMaxAge, outboxMaxRows, limits, externalUrl);
    }

    public AlertingConfig withNotificationTimes(Duration newGroupWait, Duration newGroupInterval,
                                                Duration newRepeatInterval) {
        return new AlertingConfig(defaultInterval, minIntervals, maxRulesPerTenant, evaluationTimeout, pollInterval,
                claimBatch, resolvedRetention, newGroupWait, newGroupInterval, newRepeatInterval, webhookTimeout,
                retryInitialBackoff, retryMaxBackoff, deliveryMaxAge, outboxMaxRows, limits, externalUrl);
    }

    public AlertingConfig withDelivery(Duration newWebhookTimeout, Duration newInitialBackoff, Duration newMaxBackoff,
                                       Duration newMaxAge) {
        return new AlertingConfig(defaultInterval, minIntervals, maxRulesPerTenant, evaluationTimeout, pollInterval,
                claimBatch, resolvedRetention, groupWait, groupInterval, repeatInterval, newWebhookTimeout,
                newInitialBackoff, newMaxBackoff, newMaxAge, outboxMaxRows, limits, externalUrl);
    }

    /** This configuration with other {@code alerting.max-*} sizes. */
    public AlertingConfig withLimits(Limits newLimits) {
        return new AlertingConfig(defaultInterval, minIntervals, maxRulesPerTenant, evaluationTimeout, pollInterval,
                claimBatch, resolvedRetention, groupWait, groupInterval, repeatInterval, webhookTimeout,
                retryInitialBackoff, retryMaxBackoff, deliveryMaxAge, outboxMaxRows, newLimits, externalUrl);
    }

    /** This configuration with another {@code alerting.external-url} (empty: unknown). */
    public AlertingConfig withExternalUrl(String newExternalUrl) {
        return new AlertingConfig(defaultInterval, minIntervals, maxRulesPerTenant, evaluationTimeout, pollInterval,
                claimBatch, resolvedRetention, groupWait, groupInterval, repeatInterval, webhookTimeout,
                retryInitialBackoff, retryMaxBackoff, deliveryMaxAge, outboxMaxRows, limits, newExternalUrl);
    }

    /** This configuration with another {@code alerting.max-rules-per-tenant}. */
    public AlertingConfig withMaxRulesPerTenant(int newMax) {
        return new AlertingConfig(defaultInterval, minIntervals, newMax, evaluationTimeout, pollInterval,
                claimBatch, resolvedRetention, groupWait, groupInterval, repeatInterval, webhookTimeout,
                retryInitialBackoff, retryMaxBackoff, deliveryMaxAge, outboxMaxRows, limits, externalUrl);
    }

    /** This configuration with another {@code alerting.evaluation-timeout}. */
    public AlertingConfig withEvaluationTimeout(Duration newTimeout) {
        return new AlertingConfig(defaultInterval, minIntervals, maxRulesPerTenant, newTimeout, pollInterval,
                claimBatch, resolvedRetention, groupWait, groupInterval, repeatInterval, webhookTimeout,
                retryInitialBackoff, retryMaxBackoff, deliveryMaxAge, outboxMaxRows, limits, externalUrl);
    }

    /** This configuration with another {@code alerting.outbox-max-rows}. */
    public AlertingConfig withOutboxMaxRows(int newMax) {
        return new AlertingConfig(defaultInterval, minIntervals, maxRulesPerTenant, evaluationTimeout, pollInterval,
                claimBatch, resolvedRetention, groupWait, groupInterval, repeatInterval, webhookTimeout,
                retryInitialBackoff, retryMaxBackoff, deliveryMaxAge, newMax, limits, externalUrl);
    }

    /** This configuration with another {@code alerting.claim-batch}. */
    public AlertingConfig withClaimBatch(int newClaimBatch) {
        return new AlertingConfig(defaultInterval, minIntervals, maxRulesPerTenant, evaluationTimeout, pollInterval,
                newClaimBatch, resolvedRetention, groupWait, groupInterval, repeatInterval, webhookTimeout,
                retryInitialBackoff, retryMaxBackoff, deliveryMaxAge, outboxMaxRows, limits, externalUrl);
    }
}
