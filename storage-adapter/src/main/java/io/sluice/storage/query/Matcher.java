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
