package io.sluice.storage.query;

import java.util.Objects;

/**
 * A label matcher: {@code host=a}, {@code region!=us}, {@code host=~web-.*}, {@code host!~db-.*} (regular
 * expressions must match the whole value). A missing label has the value "".
 */
public record Matcher(String label, Op op, String value) implements Comparable<Matcher> {

    /** The label that holds the metric name (Prometheus' {@code __name__}); stored as the series' name. */
    public static final String NAME = "__name__";

    public enum Op {
        EQ("="), NEQ("!="), REGEX("=~"), NOT_REGEX("!~");

        private final String symbol;

        Op(String symbol) {
            this.symbol = symbol;
        }

        public String symbol() {
            return symbol;
        }
    }

    public Matcher {
        Objects.requireNonNull(label);
        Objects.requireNonNull(op);
        Objects.requireNonNull(value);
    }

    /**
     * Whether a series without this label (its value "") matches. Prometheus refuses a selector all of whose
     * matchers match "", since it would select every series; see {@link #selectsEverything(java.util.List)}.
     */
    public boolean matchesEmpty() {
        return switch (op) {
            case EQ -> value.isEmpty();
            case NEQ -> !value.isEmpty();
            case REGEX -> java.util.regex.Pattern.compile(value).matcher("").matches();
            case NOT_REGEX -> !java.util.regex.Pattern.compile(value).matcher("").matches();
        };
    }

    /**
     * Whether these matchers together would select every series (none of them needs a non-empty value):
     * Prometheus refuses such a selector ("vector selector must contain at least one non-empty matcher").
     *
     * @throws java.util.regex.PatternSyntaxException when a regular expression does not compile
     */
    public static boolean selectsEverything(java.util.List<Matcher> matchers) {
        for (Matcher m : matchers) {
            if (!m.matchesEmpty()) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int compareTo(Matcher o) {
        int c = label.compareTo(o.label);
        if (c != 0) {
            return c;
        }
        c = op.compareTo(o.op);
        return c != 0 ? c : value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return label + op.symbol + value;
    }
}
