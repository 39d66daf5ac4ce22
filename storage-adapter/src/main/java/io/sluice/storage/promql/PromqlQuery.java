package io.sluice.storage.promql;

import java.util.Objects;

/**
 * One PromQL query as the answer cache keys it: the tenant, the expression as given, and its times. An instant query
 * has {@code startMs == endMs} and {@code stepMs == 0}.
 */
public record PromqlQuery(String tenant, String expr, long startMs, long endMs, long stepMs) {

    public PromqlQuery {
        Objects.requireNonNull(tenant);
        Objects.requireNonNull(expr);
    }

    /** An instant query at {@code timeMs}. */
    public static PromqlQuery instant(String tenant, String expr, long timeMs) {
        return new PromqlQuery(tenant, expr, timeMs, timeMs, 0);
    }

    /** A range query from {@code startMs} to {@code endMs} (both included) every {@code stepMs}. */
    public static PromqlQuery range(String tenant, String expr, long startMs, long endMs, long stepMs) {
        return new PromqlQuery(tenant, expr, startMs, endMs, stepMs);
    }

    public boolean isInstant() {
        return stepMs == 0;
    }
}
