package io.sluice.gateway.query;

import io.netty.handler.codec.http.QueryStringDecoder;
import io.sluice.config.Values;
import io.sluice.gateway.http.Timestamps;
import io.sluice.storage.query.Aggregation;
import io.sluice.storage.query.Matcher;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads query-string parameters; each problem becomes an {@link InvalidQueryException} naming the parameter.
 * The query string must be valid percent-encoding of UTF-8 without NUL characters (PostgreSQL cannot
 * compare text holding one). Timestamps are RFC 3339, or epoch seconds (up to 11 digits, fractions allowed)
 * or milliseconds, within {@link Timestamps}' range; durations look like {@code 30s}, {@code 5m}, {@code 1h},
 * up to {@link #MAX_STEP}.
 */
public final class QueryParams {

    static final Pattern METRIC = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:.]{0,199}");
    static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]{0,99}");
    static final int MAX_MATCHERS = 20;
    static final int MAX_REGEX_LENGTH = 256;
    /** Longest {@code step}: ten years (a bucket needs no more, and step arithmetic stays exact). */
    public static final Duration MAX_STEP = Duration.ofDays(3650);

    private final Map<String, List<String>> params;

    public QueryParams(Map<String, List<String>> params) {
        this.params = params;
    }

    /**
     * The parameters of a request URI, decoded strictly: malformed percent-encoding, bytes that are not
     * UTF-8 and NUL characters are refused rather than turned into something else.
     */
    public static QueryParams of(String uri) {
        Map<String, List<String>> raw;
        try {
            // ISO-8859-1 keeps one char per byte, so that the bytes can then be decoded strictly as UTF-8
            raw = new QueryStringDecoder(uri, StandardCharsets.ISO_8859_1).parameters();
        } catch (IllegalArgumentException e) {
            throw new InvalidQueryException("query string: " + e.getMessage() + " (expected: valid percent-encoding)");
        }
        Map<String, List<String>> decoded = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> e : raw.entrySet()) {
            String name = utf8("query string", e.getKey());
            List<String> values = new ArrayList<>(e.getValue().size());
            for (String value : e.getValue()) {
                values.add(utf8(name, value));
            }
            decoded.put(name, values);
        }
        return new QueryParams(decoded);
    }

    private static String utf8(String name, String bytes) {
        String text;
        try {
            for (int i = 0; i < bytes.length(); i++) {
                if (bytes.charAt(i) > 0xff) {
                    throw new CharacterCodingException();
                }
            }
            text = StandardCharsets.UTF_8.newDecoder()
                    .decode(ByteBuffer.wrap(bytes.getBytes(StandardCharsets.ISO_8859_1))).toString();
        } catch (CharacterCodingException e) {
            throw new InvalidQueryException(name + ": not UTF-8 once percent-decoded (expected: UTF-8, percent-encoded)");
        }
        if (text.indexOf('\0') >= 0) {
            throw new InvalidQueryException(name + ": contains a NUL character (%00), which no label or name can hold");
        }
        return text;
    }

    /** Thrown for a parameter that cannot be used; answered with 400. */
    public static final class InvalidQueryException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public InvalidQueryException(String message) {
            super(message, null, false, false);
        }
    }

    /** The parameter's value, null when absent; given twice is an error. */
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
                return Timestamps.check(Instant.ofEpochMilli(Math.round(seconds * 1000)));
            }
            if (raw.matches("\\d{12,16}")) {
                return Timestamps.check(Instant.ofEpochMilli(Long.parseLong(raw)));
            }
            return Timestamps.parse(raw);
        } catch (DateTimeParseException | NumberFormatException e) {
            throw new InvalidQueryException(name + ": " + raw
                    + " (expected: RFC 3339 like 2026-11-23T10:00:00Z, or epoch seconds or milliseconds)");
        } catch (DateTimeException e) {
            throw new InvalidQueryException(name + ": " + raw + " (expected: a time from " + Timestamps.RANGE + ")");
        }
    }

    public Duration step(Duration fallback) {
        String raw = one("step");
        if (raw == null) {
            return fallback;
        }
        try {
            Duration step = Values.duration(raw);
            if (step.isZero() || step.isNegative() || step.compareTo(MAX_STEP) > 0) {
                throw new IllegalArgumentException();
            }
            return step;
        } catch (RuntimeException e) {
            throw new InvalidQueryException("step: " + raw + " (expected: a positive duration like 30s, 5m, 1h, at most "
                    + MAX_STEP.toDays() + "d)");
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
