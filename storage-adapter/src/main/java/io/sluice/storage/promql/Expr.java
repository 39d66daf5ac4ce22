package io.sluice.storage.promql;

import io.sluice.storage.query.Matcher;

import java.util.List;

/** A parsed PromQL expression (the parser's syntax tree), typed by what it evaluates to. */
sealed interface Expr {

    /** Prometheus' value types. */
    enum Type {
        SCALAR("scalar"), VECTOR("instant vector"), MATRIX("range vector"), STRING("string");

        final String label;

        Type(String label) {
            this.label = label;
        }
    }

    Type type();

    /** Where an {@code @} modifier pins evaluation: a fixed time, the query's start or its end. */
    record At(Kind kind, long timeMs) {
        enum Kind {
            TIME, START, END
        }

        long resolve(long queryStart, long queryEnd) {
            return switch (kind) {
                case TIME -> timeMs;
                case START -> queryStart;
                case END -> queryEnd;
            };
        }
    }

    record NumberLit(double value) implements Expr {
        public Type type() {
            return Type.SCALAR;
        }
    }

    record StringLit(String value) implements Expr {
        public Type type() {
            return Type.STRING;
        }
    }

    /** An instant vector selector; {@code at} is null without an {@code @} modifier. */
    record VectorSel(String name, List<Matcher> matchers, long offsetMs, At at) implements Expr {
        public Type type() {
            return Type.VECTOR;
        }
    }

    record MatrixSel(VectorSel selector, long rangeMs) implements Expr {
        public Type type() {
            return Type.MATRIX;
        }
    }

    /** {@code expr[range:step]}; {@code stepMs} 0 means the default resolution. */
    record Subquery(Expr expr, long rangeMs, long stepMs, long offsetMs, At at) implements Expr {
        public Type type() {
            return Type.MATRIX;
        }
    }

    record Paren(Expr expr) implements Expr {
        public Type type() {
            return expr.type();
        }
    }

    record Unary(boolean negate, Expr expr) implements Expr {
        public Type type() {
            return expr.type();
        }
    }

    /** Vector matching of a binary operation: {@code on}/{@code ignoring} labels and group_left/right. */
    record Matching(boolean on, List<String> labels, Card card, List<String> include) {
        enum Card {
            ONE_TO_ONE, MANY_TO_ONE, ONE_TO_MANY, MANY_TO_MANY
        }

        static final Matching DEFAULT = new Matching(false, List.of(), Card.ONE_TO_ONE, List.of());
    }

    record Binary(BinOp op, Expr lhs, Expr rhs, boolean returnBool, Matching matching) implements Expr {
        public Type type() {
            return lhs.type() == Type.SCALAR && rhs.type() == Type.SCALAR ? Type.SCALAR : Type.VECTOR;
        }
    }

    record Call(PromqlFunctions.Function function, List<Expr> args) implements Expr {
        public Type type() {
            return function.returns();
        }
    }

    record Aggregate(String op, Expr param, Expr expr, List<String> grouping, boolean without) implements Expr {
        public Type type() {
            return Type.VECTOR;
        }
    }

    /** Binary operators, lowest precedence first. */
    enum BinOp {
        OR("or", 1), AND("and", 2), UNLESS("unless", 2),
        EQL("==", 3), NEQ("!=", 3), GTR(">", 3), LSS("<", 3), GTE(">=", 3), LTE("<=", 3),
        ADD("+", 4), SUB("-", 4),
        MUL("*", 5), DIV("/", 5), MOD("%", 5), ATAN2("atan2", 5),
        POW("^", 6);

        final String symbol;
        final int precedence;

        BinOp(String symbol, int precedence) {
            this.symbol = symbol;
            this.precedence = precedence;
        }

        boolean isComparison() {
            return precedence == 3;
        }

        boolean isSetOperator() {
            return this == OR || this == AND || this == UNLESS;
        }

        boolean rightAssociative() {
            return this == POW;
        }
    }
}
