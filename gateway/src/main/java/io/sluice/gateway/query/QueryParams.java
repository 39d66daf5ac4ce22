package io.sluice.gateway.query;

import io.sluice.config.Values;
import io.sluice.storage.query.Aggregation;
import io.sluice.storage.query.Matcher;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads query-string parameters; each problem becomes an {@link InvalidQueryException} naming the parameter.
 * Timestamps are RFC 3339, or epoch seconds (up to 11 digits, fractions allowed) or milliseconds;
 * durations look like {@code 30s}, {@code 5m}, {@code 1h}.
 */
public final class QueryParams {

    static final Pattern METRIC = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:.]{0,199}");
    static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]{0,99}");
    static final int MAX_MATCHERS = 20;
    static final int MAX_REGEX_LENGTH = 256;

    private final Map<String, List<String>> params;

    public QueryParams(Map<String, List<String>> params) {
        this.params = params;
    }

    /** Thrown for a parameter that cannot be used; answered with 400. */
    public static final class InvalidQueryException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public InvalidQueryException(String message) {
            super(message, null, false, false);
        }
    }

    public String one(String name) {
        List<String> values = params.get(name);
        if (values == null || values.isEmpty()) {
            return null;
        }
        if (values.size() > 1) {
            throw new InvalidQueryException(name + ": given " + values.size() + " times (expected: once)");
        }
        return values.get(0);
    }

    String metric(boolean required) {
        String metric = one("metric");
        if (metric == null) {
            if (required) {
                throw new InvalidQueryException("metric: missing (expected: a metric name)");
            }
            return null;
        }
        if (!METRIC.matcher(metric).matches()) {
            throw new InvalidQueryException("metric: " + metric + " (expected: " + METRIC.pattern() + ")");
        }
        return metric;
    }

    List<Matcher> matchers() {
        List<String> raw = params.getOrDefault("match", List.of());
        if (raw.size() > MAX_MATCHERS) {
            throw new InvalidQueryException("match: " + raw.size() + " matchers (expected: at most " + MAX_MATCHERS + ")");
        }
        List<Matcher> out = new ArrayList<>();
        for (String m : raw) {
            int i = 0;
            while (i < m.length() && (Character.isLetterOrDigit(m.charAt(i)) || m.charAt(i) == '_')) {
                i++;
            }
            String label = m.substring(0, i);
            String rest = m.substring(i);
            Matcher.Op op;
            if (rest.startsWith("!=")) {
                op = Matcher.Op.NEQ;
            } else if (rest.startsWith("=~")) {
                op = Matcher.Op.REGEX;
            } else if (rest.startsWith("=")) {
                op = Matcher.Op.EQ;
            } else {
                throw new InvalidQueryException("match: " + m + " (expected: label=value, label!=value or label=~regex)");
            }
            if (!LABEL.matcher(label).matches()) {
                throw new InvalidQueryException("match: " + m + " (expected: a label name matching " + LABEL.pattern() + ")");
            }
            String value = rest.substring(op.symbol().length());
            if (op == Matcher.Op.REGEX) {
                if (value.length() > MAX_REGEX_LENGTH) {
                    throw new InvalidQueryException("match: regex longer than " + MAX_REGEX_LENGTH + " characters");
                }
                try {
                    Pattern.compile(value);
                } catch (PatternSyntaxException e) {
                    throw new InvalidQueryException("match: " + m + " is not a valid regular expression ("
                            + e.getDescription() + ")");
                }
                if (value.contains("\\") && value.matches(".*\\\\[1-9pPQE].*")) {
                    throw new InvalidQueryException("match: " + m + " uses a construct PostgreSQL does not support "
                            + "(back-references, \\p, \\Q..\\E)");
                }
            }
            out.add(new Matcher(label, op, value));
        }
        return out;
    }

    public Instant time(String name, Instant fallback) {
        String raw = one(name);
        if (raw == null) {
            return fallback;
        }
        try {
            if (raw.matches("\\d{1,11}(\\.\\d{1,9})?")) {
                double seconds = Double.parseDouble(raw);
                return Instant.ofEpochMilli(Math.round(seconds * 1000));
            }
            if (raw.matches("\\d{12,16}")) {
                return Instant.ofEpochMilli(Long.parseLong(raw));
            }
            return OffsetDateTime.parse(raw).toInstant();
        } catch (DateTimeParseException | NumberFormatException e) {
            throw new InvalidQueryException(name + ": " + raw
                    + " (expected: RFC 3339 like 2026-11-23T10:00:00Z, or epoch seconds or milliseconds)");
        }
    }

    public Duration step(Duration fallback) {
        String raw = one("step");
        if (raw == null) {
            return fallback;
        }
        try {
            Duration step = Values.duration(raw);
            if (step.isZero() || step.isNegative()) {
                throw new IllegalArgumentException();
            }
            return step;
        } catch (RuntimeException e) {
            throw new InvalidQueryException("step: " + raw + " (expected: a positive duration like 30s, 5m, 1h)");
        }
    }

    Aggregation aggregation() {
        String raw = one("agg");
        if (raw == null) {
            return Aggregation.AVG;
        }
        try {
            return Aggregation.valueOf(raw.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidQueryException("agg: " + raw + " (expected: avg, min, max, sum or count)");
        }
    }

    List<String> groupBy() {
        String raw = one("group_by");
        if (raw == null || raw.isBlank()) {
            return List.of();
        }
        List<String> labels = Values.list(raw);
        for (String label : labels) {
            if (!LABEL.matcher(label).matches()) {
                throw new InvalidQueryException("group_by: " + label + " (expected: label names matching "
                        + LABEL.pattern() + ")");
            }
        }
        return labels;
    }
}
