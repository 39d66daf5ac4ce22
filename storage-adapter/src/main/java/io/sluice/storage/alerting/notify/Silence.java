package io.sluice.storage.alerting.notify;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A silence: alerts matching every matcher between {@code startsAt} and {@code endsAt} keep their state but send
 * nothing. Expiring it sets {@code endsAt} to the time of expiry; it stays listed, with who made it and why.
 */
public record Silence(UUID id, String tenant, List<LabelMatcher> matchers, Instant startsAt, Instant endsAt,
                      String createdBy, String comment, Instant createdAt) {

    public Silence {
        matchers = List.copyOf(matchers);
    }

    /** {@code pending} before it starts, {@code active} while it holds, {@code expired} from its end. */
    public String state(Instant now) {
        if (now.isBefore(startsAt)) {
            return "pending";
        }
        return now.isBefore(endsAt) ? "active" : "expired";
    }

    /** Whether this silence mutes an alert with these labels now; regexes bounded by {@code deadlineNanos}. */
    public boolean mutes(Map<String, String> labels, Instant now, long deadlineNanos) {
        return state(now).equals("active") && LabelMatcher.all(matchers, labels, deadlineNanos);
    }
}
