package io.sluice.storage.promql;

import io.sluice.storage.promql.Expr.Aggregate;
import io.sluice.storage.promql.Expr.At;
import io.sluice.storage.promql.Expr.BinOp;
import io.sluice.storage.promql.Expr.Binary;
import io.sluice.storage.promql.Expr.Call;
import io.sluice.storage.promql.Expr.Matching;
import io.sluice.storage.promql.Expr.MatrixSel;
import io.sluice.storage.promql.Expr.NumberLit;
import io.sluice.storage.promql.Expr.Paren;
import io.sluice.storage.promql.Expr.StringLit;
import io.sluice.storage.promql.Expr.Subquery;
import io.sluice.storage.promql.Expr.Type;
import io.sluice.storage.promql.Expr.Unary;
import io.sluice.storage.promql.Expr.VectorSel;
import io.sluice.storage.promql.PromqlLexer.Kind;
import io.sluice.storage.promql.PromqlLexer.Token;
import io.sluice.storage.query.Matcher;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A recursive-descent (precedence-climbing) parser for PromQL, following Prometheus' grammar and its type checks.
 * Syntax and type errors are {@code bad_data} {@link PromqlException}s with the position; a valid expression that uses
 * something outside Sluice's subset fails with {@link UnsupportedPromqlException} after it parsed whole.
 */
final class PromqlParser {

    private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "offset", "and", "or", "unless", "atan2");

    private final String input;
    private final List<Token> tokens;
    /** How deep an expression's tree may be. */
    static final int MAX_DEPTH = 256;

    private int index;
    private String unsupported;
    private int depth;

    private PromqlParser(String input) {
        this.input = input;
        this.tokens = PromqlLexer.tokens(input);
    }

    /** Parses and type-checks an expression. */
    static Expr parse(String input) {
        PromqlParser parser = new PromqlParser(input);
        if (parser.peek().kind() == Kind.EOF) {
            throw parser.error(parser.peek(), "no expression found in input");
        }
        Expr expr = parser.expr(0);
        if (parser.peek().kind() != Kind.EOF) {
            throw parser.error(parser.peek(), "unexpected " + parser.peek().describe());
        }
        if (parser.unsupported != null) {
            throw new UnsupportedPromqlException(parser.unsupported);
        }
        return expr;
    }

    /** The matchers of a selector alone ({@code foo{a="b"}} or {@code {__name__="foo"}}), for series look-ups. */
    static List<Matcher> parseSelector(String input) {
        Expr e = parse(input);
        if (!(e instanceof VectorSel vs) || vs.offsetMs() != 0 || vs.at() != null) {
            throw new PromqlException(PromqlException.ErrorType.BAD_DATA, "invalid series selector: " + input);
        }
        return vs.matchers();
    }

    private void unsupported(String feature) {
        if (unsupported == null) {
            unsupported = feature;
        }
    }

    private Token peek() {
        return tokens.get(index);
    }

    private Token peek(int ahead) {
        return tokens.get(Math.min(index + ahead, tokens.size() - 1));
    }

    private Token take() {
        Token t = tokens.get(index);
        if (t.kind() != Kind.EOF) {
            index++;
        }
        return t;
    }

    private PromqlException error(Token at, String message) {
        return PromqlLexer.error(input, at.pos(), message);
    }

    private Token expect(String op, String context) {
        Token t = take();
        if (!t.is(op)) {
            throw error(t, "unexpected " + t.describe() + " in " + context + ", expected \"" + op + "\"");
        }
        return t;
    }

    private BinOp binOp(Token t) {
        if (t.kind() == Kind.OP) {
            for (BinOp op : BinOp.values()) {
                if (op.symbol.equals(t.text())) {
                    return op;
                }
            }
            return null;
        }
        if (t.kind() == Kind.IDENT) {
            return switch (t.text().toLowerCase(Locale.ROOT)) {
                case "and" -> BinOp.AND;
                case "or" -> BinOp.OR;
                case "unless" -> BinOp.UNLESS;
                case "atan2" -> BinOp.ATAN2;
                default -> null;
            };
        }
        return null;
    }

    private Expr expr(int minPrecedence) {
        int entered = depth;
        nest(peek());
        try {
            Expr lhs = unary();
            while (true) {
                Token opToken = peek();
                BinOp op = binOp(opToken);
                if (op == null || op.precedence < minPrecedence) {
                    return lhs;
                }
                take();
                boolean returnBool = false;
                if (peek().isKeyword("bool")) {
                    if (!op.isComparison()) {
                        throw error(peek(), "bool modifier can only be used on comparison operators");
                    }
                    take();
                    returnBool = true;
                }
                Matching matching = matching(op);
                Expr rhs = expr(op.rightAssociative() ? op.precedence : op.precedence + 1);
                lhs = binary(opToken, op, lhs, rhs, returnBool, matching);
                nest(opToken); // a chain (a + b + c ...) is a tree one level deeper per operator
            }
        } finally {
            depth = entered;
        }
    }

    /**
     * One level deeper into the tree: every recursion of the parser, the evaluator and the planner goes through the
     * tree's depth, so it is bounded ({@link #MAX_DEPTH}) before a query could exhaust a thread's stack.
     */
    private void nest(Token at) {
        if (++depth > MAX_DEPTH) {
            throw error(at, "the expression is nested more than " + MAX_DEPTH + " levels deep (parentheses, "
                    + "function calls and chained operators count)");
        }
    }

    private Matching matching(BinOp op) {
        boolean explicit = false;
        boolean on = false;
        List<String> labels = List.of();
        if (peek().isKeyword("on") || peek().isKeyword("ignoring")) {
            explicit = true;
            on = take().isKeyword("on");
            labels = labelList();
        }
        Matching.Card card = op.isSetOperator() ? Matching.Card.MANY_TO_MANY : Matching.Card.ONE_TO_ONE;
        List<String> include = List.of();
        if (peek().isKeyword("group_left") || peek().isKeyword("group_right")) {
            Token g = take();
            if (op.isSetOperator()) {
                throw error(g, "no grouping allowed for \"" + op.symbol + "\" operation");
            }
            if (!explicit) {
                throw error(g, "unexpected " + g.describe() + ", expected on or ignoring before it");
            }
            explicit = true;
            card = g.isKeyword("group_left") ? Matching.Card.MANY_TO_ONE : Matching.Card.ONE_TO_MANY;
            if (peek().is("(")) {
                include = labelList();
            }
            for (String l : include) {
                if (on && labels.contains(l)) {
                    throw error(g, "label \"" + l + "\" must not occur in ON and GROUP clause at once");
                }
            }
        }
        if (!explicit && card != Matching.Card.MANY_TO_MANY) {
            return Matching.DEFAULT;
        }
        return new Matching(on, labels, card, include);
    }

    private Expr binary(Token at, BinOp op, Expr lhs, Expr rhs, boolean returnBool, Matching matching) {
        for (Expr side : List.of(lhs, rhs)) {
            if (side.type() != Type.SCALAR && side.type() != Type.VECTOR) {
                throw error(at, "binary expression must contain only scalar and instant vector types");
            }
        }
        boolean scalars = lhs.type() == Type.SCALAR && rhs.type() == Type.SCALAR;
        if (op.isComparison() && scalars && !returnBool) {
            throw error(at, "comparisons between scalars must use BOOL modifier");
        }
        if (op.isSetOperator() && (lhs.type() == Type.SCALAR || rhs.type() == Type.SCALAR)) {
            throw error(at, "set operator \"" + op.symbol + "\" not allowed in binary scalar expression");
        }
        boolean explicitMatching = matching != Matching.DEFAULT
                && !(op.isSetOperator() && !matching.on() && matching.labels().isEmpty());
        if (explicitMatching && (lhs.type() != Type.VECTOR || rhs.type() != Type.VECTOR)) {
            throw error(at, "vector matching only allowed between instant vectors");
        }
        return new Binary(op, lhs, rhs, returnBool, matching);
    }

    private List<String> labelList() {
        expect("(", "grouping opts");
        List<String> labels = new ArrayList<>();
        while (!peek().is(")")) {
            Token t = take();
            if (t.kind() == Kind.IDENT && isLabelName(t.text())) {
                labels.add(t.text());
            } else if (t.kind() == Kind.STRING) {
                labels.add(t.text());
            } else {
                throw error(t, "unexpected " + t.describe() + " in grouping opts, expected label");
            }
            if (peek().is(",")) {
                take();
            } else if (!peek().is(")")) {
                throw error(peek(), "unexpected " + peek().describe() + " in grouping opts, expected \",\" or \")\"");
            }
        }
        take();
        return List.copyOf(labels);
    }

    private Expr unary() {
        Token t = peek();
        if (t.is("-") || t.is("+")) {
            take();
            Expr operand = expr(BinOp.POW.precedence);
            if (operand.type() != Type.SCALAR && operand.type() != Type.VECTOR) {
                throw error(t, "unary expression only allowed on expressions of type scalar or instant vector");
            }
            if (t.is("+")) {
                return operand instanceof NumberLit ? operand : new Unary(false, operand);
            }
            if (operand instanceof NumberLit n) {
                return new NumberLit(-n.value());
            }
            return new Unary(true, operand);
        }
        return postfix(primary());
    }

    private Expr postfix(Expr e) {
        while (true) {
            Token t = peek();
            if (t.is("[")) {
                e = range(e);
            } else if (t.isKeyword("offset")) {
                take();
                e = offset(t, e);
            } else if (t.is("@")) {
                take();
                e = at(t, e);
            } else {
                return e;
            }
        }
    }

    private long durationMs(String context) {
        Token t = take();
        if (t.kind() == Kind.DURATION) {
            return t.duration();
        }
        if (t.kind() == Kind.NUMBER && Double.isFinite(t.number())) {
            return Math.round(t.number() * 1000);
        }
        throw error(t, "unexpected " + t.describe() + " in " + context + ", expected duration");
    }

    private Expr range(Expr e) {
        Token open = take();
        long rangeMs = durationMs("range");
        if (peek().is(":")) {
            take();
            long stepMs = 0;
            if (!peek().is("]")) {
                stepMs = durationMs("subquery");
                if (stepMs <= 0) {
                    throw error(open, "step must be positive in subquery");
                }
            }
            expect("]", "subquery");
            if (e.type() != Type.VECTOR) {
                throw error(open, "subquery is only allowed on instant vector, got " + e.type().label + " instead");
            }
            if (rangeMs <= 0) {
                throw error(open, "range must be positive in subquery");
            }
            return new Subquery(e, rangeMs, stepMs, 0, null);
        }
        expect("]", "range");
        if (!(e instanceof VectorSel vs)) {
            throw error(open, "ranges only allowed for vector selectors");
        }
        if (vs.offsetMs() != 0 || vs.at() != null) {
            throw error(open, "no offset modifiers allowed before range");
        }
        if (rangeMs <= 0) {
            throw error(open, "range must be positive");
        }
        return new MatrixSel(vs, rangeMs);
    }

    private Expr offset(Token at, Expr e) {
        boolean negative = false;
        if (peek().is("-") || peek().is("+")) {
            negative = take().is("-");
        }
        long ms = durationMs("offset");
        long offset = negative ? -ms : ms;
        if (e instanceof VectorSel vs) {
            if (vs.offsetMs() != 0) {
                throw error(at, "offset may not be set multiple times");
            }
            return new VectorSel(vs.name(), vs.matchers(), offset, vs.at());
        }
        if (e instanceof MatrixSel ms2) {
            VectorSel vs = ms2.selector();
            if (vs.offsetMs() != 0) {
                throw error(at, "offset may not be set multiple times");
            }
            return new MatrixSel(new VectorSel(vs.name(), vs.matchers(), offset, vs.at()), ms2.rangeMs());
        }
        if (e instanceof Subquery sq) {
            if (sq.offsetMs() != 0) {
                throw error(at, "offset may not be set multiple times");
            }
            return new Subquery(sq.expr(), sq.rangeMs(), sq.stepMs(), offset, sq.at());
        }
        throw error(at, "offset modifier must be preceded by an instant vector selector or range vector selector "
                + "or a subquery");
    }

    private Expr at(Token atToken, Expr e) {
        At at;
        Token t = peek();
        if ((t.isKeyword("start") || t.isKeyword("end")) && peek(1).is("(")) {
            take();
            take();
            expect(")", "@ modifier");
            at = new At(t.isKeyword("start") ? At.Kind.START : At.Kind.END, 0);
        } else {
            boolean negative = false;
            if (t.is("-") || t.is("+")) {
                negative = take().is("-");
            }
            Token n = take();
            if (n.kind() != Kind.NUMBER) {
                throw error(n, "unexpected " + n.describe() + " in @, expected timestamp");
            }
            double seconds = negative ? -n.number() : n.number();
            if (!Double.isFinite(seconds) || Math.abs(seconds) > 9.2e15) {
                throw error(n, "timestamp out of bounds for @ modifier: " + seconds);
            }
            at = new At(At.Kind.TIME, Math.round(seconds * 1000));
        }
        if (e instanceof VectorSel vs) {
            if (vs.at() != null) {
                throw error(atToken, "@ <timestamp> may not be set multiple times");
            }
            return new VectorSel(vs.name(), vs.matchers(), vs.offsetMs(), at);
        }
        if (e instanceof MatrixSel ms) {
            VectorSel vs = ms.selector();
            if (vs.at() != null) {
                throw error(atToken, "@ <timestamp> may not be set multiple times");
            }
            return new MatrixSel(new VectorSel(vs.name(), vs.matchers(), vs.offsetMs(), at), ms.rangeMs());
        }
        if (e instanceof Subquery sq) {
            if (sq.at() != null) {
                throw error(atToken, "@ <timestamp> may not be set multiple times");
            }
            return new Subquery(sq.expr(), sq.rangeMs(), sq.stepMs(), sq.offsetMs(), at);
        }
        throw error(atToken, "@ modifier must be preceded by an instant vector selector or range vector selector "
                + "or a subquery");
    }

    private Expr primary() {
        Token t = take();
        switch (t.kind()) {
            case NUMBER:
                return new NumberLit(t.number());
            case DURATION:
                return new NumberLit(t.duration() / 1000.0);
            case STRING:
                return new StringLit(t.text());
            case EOF:
                throw error(t, "unexpected end of input");
            case OP:
                if (t.is("(")) {
                    Expr inner = expr(0);
                    expect(")", "paren expression");
                    return new Paren(inner);
                }
                if (t.is("{")) {
                    return selector(t, null);
                }
                throw error(t, "unexpected " + t.describe());
            case IDENT:
            default:
                break;
        }
        String word = t.text();
        String lower = word.toLowerCase(Locale.ROOT);
        if (PromqlFunctions.AGGREGATIONS.containsKey(lower)) {
            return aggregation(t, lower);
        }
        if (peek().is("(")) {
            return call(t);
        }
        if (KEYWORDS.contains(lower)) {
            throw error(t, "unexpected " + t.describe());
        }
        if (peek().is("{")) {
            return selector(t, word);
        }
        return selector(t, word, List.of());
    }

    private Expr call(Token nameToken) {
        PromqlFunctions.Function f = PromqlFunctions.get(nameToken.text());
        if (f == null) {
            throw error(nameToken, "unknown function with name \"" + nameToken.text() + "\"");
        }
        take();
        List<Expr> args = new ArrayList<>();
        while (!peek().is(")")) {
            args.add(expr(0));
            if (peek().is(",")) {
                take();
                if (peek().is(")")) {
                    throw error(peek(), "unexpected \")\" in function call arguments");
                }
            } else if (!peek().is(")")) {
                throw error(peek(), "unexpected " + peek().describe() + " in function call arguments, expected "
                        + "\",\" or \")\"");
            }
        }
        take();
        int fixed = f.args().size();
        if (f.variadic() == 0) {
            if (args.size() != fixed) {
                throw error(nameToken, "expected " + fixed + " argument(s) in call to \"" + f.name() + "\", got "
                        + args.size());
            }
        } else {
            int min = fixed - 1;
            if (args.size() < min) {
                throw error(nameToken, "expected at least " + min + " argument(s) in call to \"" + f.name()
                        + "\", got " + args.size());
            }
            if (f.variadic() > 0 && args.size() > min + f.variadic()) {
                throw error(nameToken, "expected at most " + (min + f.variadic()) + " argument(s) in call to \""
                        + f.name() + "\", got " + args.size());
            }
        }
        for (int i = 0; i < args.size(); i++) {
            Type want = f.args().get(Math.min(i, fixed - 1));
            Type got = args.get(i).type();
            if (want != got) {
                throw error(nameToken, "expected type " + want.label + " in call to function \"" + f.name()
                        + "\", got " + got.label);
            }
        }
        if (!f.supported()) {
            unsupported("function " + f.name());
        }
        return new Call(f, List.copyOf(args));
    }

    private Expr aggregation(Token opToken, String op) {
        List<String> grouping = null;
        boolean without = false;
        if (peek().isKeyword("by") || peek().isKeyword("without")) {
            without = take().isKeyword("without");
            grouping = labelList();
        }
        if (!peek().is("(")) {
            throw error(peek(), "unexpected " + peek().describe() + " in aggregation, expected \"(\"");
        }
        take();
        List<Expr> args = new ArrayList<>();
        while (!peek().is(")")) {
            args.add(expr(0));
            if (peek().is(",")) {
                take();
            } else if (!peek().is(")")) {
                throw error(peek(), "unexpected " + peek().describe() + " in aggregation, expected \",\" or \")\"");
            }
        }
        take();
        if (peek().isKeyword("by") || peek().isKeyword("without")) {
            if (grouping != null) {
                throw error(peek(), "aggregation must only contain one grouping clause");
            }
            without = take().isKeyword("without");
            grouping = labelList();
        }
        boolean parameterised = PromqlFunctions.PARAMETERISED.contains(op);
        int want = parameterised ? 2 : 1;
        if (args.size() != want) {
            throw error(opToken, "wrong number of arguments for aggregate expression provided, expected " + want
                    + ", got " + args.size());
        }
        Expr param = parameterised ? args.get(0) : null;
        Expr vector = args.get(want - 1);
        if (vector.type() != Type.VECTOR) {
            throw error(opToken, "expected type instant vector in aggregation expression, got "
                    + vector.type().label);
        }
        if (param != null) {
            Type pt = op.equals("count_values") ? Type.STRING : Type.SCALAR;
            if (param.type() != pt) {
                throw error(opToken, "expected type " + pt.label + " in aggregation parameter, got "
                        + param.type().label);
            }
        }
        if (!PromqlFunctions.AGGREGATIONS.get(op)) {
            unsupported("aggregation " + op);
        }
        return new Aggregate(op, param, vector, grouping == null ? List.of() : grouping, without);
    }

    private Expr selector(Token at, String name) {
        if (name != null) {
            take();
        }
        List<Matcher> matchers = new ArrayList<>();
        while (!peek().is("}")) {
            Token label = take();
            if (label.kind() == Kind.STRING && (peek().is(",") || peek().is("}"))) {
                if (name != null) {
                    throw error(label, "metric name must not be set twice: \"" + name + "\" or \"" + label.text()
                            + "\"");
                }
                name = label.text();
            } else {
                if (!(label.kind() == Kind.STRING || (label.kind() == Kind.IDENT && isLabelName(label.text())))) {
                    throw error(label, "unexpected " + label.describe() + " in label matching, expected label");
                }
                Token op = take();
                Matcher.Op mop = switch (op.kind() == Kind.OP ? op.text() : "") {
                    case "=" -> Matcher.Op.EQ;
                    case "!=" -> Matcher.Op.NEQ;
                    case "=~" -> Matcher.Op.REGEX;
                    case "!~" -> Matcher.Op.NOT_REGEX;
                    default -> throw error(op, "unexpected " + op.describe()
                            + " in label matching, expected one of \"=\", \"!=\", \"=~\" or \"!~\"");
                };
                Token value = take();
                if (value.kind() != Kind.STRING) {
                    throw error(value, "unexpected " + value.describe() + " in label matching, expected string");
                }
                if (mop == Matcher.Op.REGEX || mop == Matcher.Op.NOT_REGEX) {
                    try {
                        compileRegex(value.text());
                    } catch (PatternSyntaxException e) {
                        throw error(value, "invalid regular expression \"" + value.text() + "\": "
                                + e.getDescription());
                    }
                }
                matchers.add(new Matcher(label.text(), mop, value.text()));
            }
            if (peek().is(",")) {
                take();
            } else if (!peek().is("}")) {
                throw error(peek(), "unexpected " + peek().describe() + " in label matching, expected \",\" or \"}\"");
            }
        }
        take();
        return selector(at, name, matchers);
    }

    private Expr selector(Token at, String name, List<Matcher> labelMatchers) {
        List<Matcher> matchers = new ArrayList<>();
        if (name != null) {
            for (Matcher m : labelMatchers) {
                if (m.label().equals("__name__")) {
                    throw error(at, "metric name must not be set twice: \"" + name + "\" or \"" + m.value() + "\"");
                }
            }
            matchers.add(new Matcher("__name__", Matcher.Op.EQ, name));
        }
        matchers.addAll(labelMatchers);
        boolean nonEmpty = false;
        for (Matcher m : matchers) {
            nonEmpty |= !matches(m, "");
        }
        if (!nonEmpty) {
            throw error(at, "vector selector must contain at least one non-empty matcher");
        }
        if (name == null) {
            for (Matcher m : matchers) {
                if (m.label().equals("__name__") && m.op() == Matcher.Op.EQ) {
                    name = m.value();
                }
            }
        }
        return new VectorSel(name, List.copyOf(matchers), 0, null);
    }

    /** Compiles a matcher's regular expression as Prometheus anchors it (whole value, dot matches newline). */
    static Pattern compileRegex(String re) {
        return Pattern.compile("(?s:" + re + ")");
    }

    /** Whether a label value (empty when the label is missing) satisfies a matcher. */
    static boolean matches(Matcher m, String value) {
        return switch (m.op()) {
            case EQ -> value.equals(m.value());
            case NEQ -> !value.equals(m.value());
            case REGEX -> compileRegex(m.value()).matcher(value).matches();
            case NOT_REGEX -> !compileRegex(m.value()).matcher(value).matches();
        };
    }

    private static boolean isLabelName(String s) {
        return !s.isEmpty() && s.indexOf(':') < 0;
    }
}
