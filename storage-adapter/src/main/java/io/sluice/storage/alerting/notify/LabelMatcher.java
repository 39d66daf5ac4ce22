package io.sluice.storage.alerting.notify;

import io.sluice.storage.query.DeadlineText;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * One label matcher of a notification route or a silence: {@code name op value} with op {@code =}, {@code !=},
 * {@code =~} or {@code !~}, as in Alertmanager. A regex is a Java regex anchored at both ends, compiled once; a label
 * the alert lacks matches as the empty string.
 */
public record LabelMatcher(String name, String op, String value, Pattern pattern) {

    public static final List<String> OPS = List.of("=", "!=", "=~", "!~");
    private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");

    /** Thrown when a matcher is not valid; the message names what is wrong. */
    public static final class InvalidMatcherException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        public InvalidMatcherException(String message) {
            super(message);
        }
    }

    /**
     * A checked matcher.
     *
     * @throws InvalidMatcherException for an unknown op, a bad label name or a regex that does not compile
     */
    public static LabelMatcher of(String name, String op, String value) {
        if (name == null || !LABEL_NAME.matcher(name).matches()) {
            throw new InvalidMatcherException("name: " + name + " is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)");
        }
        if (op == null || !OPS.contains(op)) {
            throw new InvalidMatcherException("op: " + op + " (expected one of =, !=, =~, !~)");
        }
        if (value == null) {
            throw new InvalidMatcherException("value: missing");
        }
        Pattern pattern = null;
        if (op.endsWith("~")) {
            try {
                pattern = Pattern.compile("(?:" + value + ")");
            } catch (PatternSyntaxException e) {
                throw new InvalidMatcherException("value: " + value + " is not a valid regex ("
                        + e.getDescription() + ")");
            }
        }
        return new LabelMatcher(name, op, value, pattern);
    }

    /** Whether the labels match (a missing label is ""), with no deadline (tests, trusted patterns). */
    public boolean matches(Map<String, String> labels) {
        return matches(labels, Long.MAX_VALUE);
    }

    /**
     * Whether the labels match (a missing label is ""). A regex is a user's and Java's regexes backtrack, so it is
     * matched on a {@link DeadlineText}: past {@code deadlineNanos} ({@link System#nanoTime()}'s scale) it fails
     * with a {@code QueryException} (TIMEOUT) instead of holding the thread.
     */
    public boolean matches(Map<String, String> labels, long deadlineNanos) {
        String v = labels.getOrDefault(name, "");
        return switch (op) {
            case "=" -> v.equals(value);
            case "!=" -> !v.equals(value);
            case "=~" -> pattern.matcher(text(v, deadlineNanos)).matches();
            default -> !pattern.matcher(text(v, deadlineNanos)).matches();
        };
    }

    private static CharSequence text(String v, long deadlineNanos) {
        if (deadlineNanos == Long.MAX_VALUE) {
            return v;
        }
        DeadlineText.check(deadlineNanos);
        return new DeadlineText(v, deadlineNanos);
    }

    /** Whether every matcher matches (true for none). */
    public static boolean all(List<LabelMatcher> matchers, Map<String, String> labels) {
        return all(matchers, labels, Long.MAX_VALUE);
    }

    /** Whether every matcher matches (true for none), regexes bounded by {@code deadlineNanos}. */
    public static boolean all(List<LabelMatcher> matchers, Map<String, String> labels, long deadlineNanos) {
        for (LabelMatcher m : matchers) {
            if (!m.matches(labels, deadlineNanos)) {
                return false;
            }
        }
        return true;
    }

    /** {@code name="value"} with the value quoted as in PromQL. */
    @Override
    public String toString() {
        return name + op + '"' + value.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }
}
