package io.sluice.storage.alerting.notify;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One of a tenant's ordered notification routes: alerts matching every matcher go to {@code receiver}, grouped by
 * the values of {@code groupBy}; the first matching route takes an alert unless it says {@code continueMatching}.
 */
public record Route(List<LabelMatcher> matchers, String receiver, List<String> groupBy, Duration groupWait,
                    Duration groupInterval, Duration repeatInterval, boolean continueMatching) {

    public Route {
        matchers = List.copyOf(matchers);
        groupBy = List.copyOf(groupBy);
    }

    /** Whether an alert with these labels takes this route; regexes bounded by {@code deadlineNanos}. */
    public boolean matches(Map<String, String> labels, long deadlineNanos) {
        return LabelMatcher.all(matchers, labels, deadlineNanos);
    }

    /** The route's part of a group key: its matchers, {@code {severity="critical"}} (Alertmanager's form). */
    public String matcherKey() {
        StringBuilder key = new StringBuilder("{");
        for (int i = 0; i < matchers.size(); i++) {
            key.append(i == 0 ? "" : ",").append(matchers.get(i));
        }
        return key.append('}').toString();
    }
}
