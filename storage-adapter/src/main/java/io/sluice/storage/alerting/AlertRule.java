package io.sluice.storage.alerting;

import io.sluice.storage.query.Aggregation;
import io.sluice.storage.query.Matcher;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One alert rule of one tenant, as stored in {@code alert_rules} and validated by the rules API. Its condition is
 * either a PromQL expression ({@code expr}) or Sluice's query form ({@code query}), optionally compared with a
 * threshold; {@link #promql()} is the one expression the evaluator runs. Every element of that expression's answer
 * is an alert (Prometheus' rule semantics): the comparison filters, the value reported is the left-hand side's.
 *
 * @param id            {@code alert_rules.id}; 0 before it is stored
 * @param expr          PromQL, or null when {@code query} is set
 * @param query         Sluice's query form, or null when {@code expr} is set
 * @param threshold     comparison applied to the expression, or null (every element alerts)
 * @param forDuration   how long the condition must hold before the alert fires (0: fires at once)
 * @param keepFiringFor how long a firing alert keeps firing after the condition stopped holding
 * @param interval      evaluation interval
 * @param noData        what an evaluation whose answer is empty does to the rule's alerts
 * @param labels        added to every alert (they override the expression's labels of the same name)
 * @param annotations   templates rendered per alert ({@code {{ $labels.host }}}, {@code {{ $value }}})
 * @param version       bumped by every update; an evaluation claimed for an older version is not stored
 */
public record AlertRule(long id, String tenant, String group, String name, String expr, RuleQuery query,
                        Threshold threshold, Duration forDuration, Duration keepFiringFor, Duration interval,
                        NoData noData, SortedMap<String, String> labels, SortedMap<String, String> annotations,
                        int version) {

    /** The label that names an alert's rule on every alert, as in Prometheus. */
    public static final String ALERTNAME = "alertname";

    /** What an evaluation whose answer is empty does to the rule's alerts. */
    public enum NoData {
        /** Alerts keep their state (pending timers keep running, firing keeps firing); the default. */
        KEEP,
        /** One alert without expression labels goes pending / fires, as if the condition held (value NaN). */
        ALERT,
        /** Every alert of the rule stops holding (pending ones end, firing ones resolve). */
        RESOLVE
    }

    /** A comparison of the expression with a constant: {@code >, >=, <, <=, ==, !=}. */
    public record Threshold(String op, double value) {
        public static final List<String> OPS = List.of(">", ">=", "<", "<=", "==", "!=");

        public Threshold {
            if (!OPS.contains(op)) {
                throw new IllegalArgumentException("op: " + op + " (expected one of " + String.join(", ", OPS) + ")");
            }
        }
    }

    /**
     * Sluice's query form: one metric, its matchers, an aggregation over the window and across the series of each
     * group. Translated to PromQL with the same fold as {@code /api/v1/query}'s buckets: sum, count, min and max
     * over every sample of the window and of the group; avg is their sum divided by their count.
     */
    public record RuleQuery(String metric, List<Matcher> matchers, Aggregation aggregation, List<String> groupBy,
                            Duration window) {
        public RuleQuery {
            Objects.requireNonNull(metric);
            matchers = List.copyOf(matchers);
            Objects.requireNonNull(aggregation);
            groupBy = List.copyOf(groupBy);
            Objects.requireNonNull(window);
        }

        /** The PromQL this query form means. */
        public String promql() {
            StringBuilder selector = new StringBuilder(metric).append('{');
            for (int i = 0; i < matchers.size(); i++) {
                Matcher m = matchers.get(i);
                if (i > 0) {
                    selector.append(',');
                }
                selector.append(m.label()).append(m.op().symbol()).append(quoted(m.value()));
            }
            selector.append("}[").append(window.toMillis()).append("ms]");
            String by = " by (" + String.join(", ", groupBy) + ") ";
            return switch (aggregation) {
                case SUM -> "sum" + by + "(sum_over_time(" + selector + "))";
                case COUNT -> "sum" + by + "(count_over_time(" + selector + "))";
                case MIN -> "min" + by + "(min_over_time(" + selector + "))";
                case MAX -> "max" + by + "(max_over_time(" + selector + "))";
                case AVG -> "sum" + by + "(sum_over_time(" + selector + ")) / sum" + by + "(count_over_time("
                        + selector + "))";
            };
        }

        private static String quoted(String value) {
            StringBuilder out = new StringBuilder("\"");
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    default -> out.append(c);
                }
            }
            return out.append('"').toString();
        }
    }

    public AlertRule {
        Objects.requireNonNull(tenant);
        Objects.requireNonNull(group);
        Objects.requireNonNull(name);
        if ((expr == null) == (query == null)) {
            throw new IllegalArgumentException("a rule has either expr or query");
        }
        Objects.requireNonNull(forDuration);
        Objects.requireNonNull(keepFiringFor);
        Objects.requireNonNull(interval);
        Objects.requireNonNull(noData);
        labels = new TreeMap<>(labels);
        annotations = new TreeMap<>(annotations);
    }

    /** The expression the evaluator runs: the condition, compared with the threshold when there is one. */
    public String promql() {
        String base = expr != null ? expr : query.promql();
        if (threshold == null) {
            return base;
        }
        return "(" + base + ") " + threshold.op() + " " + number(threshold.value());
    }

    private static String number(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        return Double.toString(v);
    }
}
