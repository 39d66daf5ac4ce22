package io.sluice.storage.alerting;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SortedMap;

/**
 * A compiled alert annotation template: the part of Go's text/template that Prometheus alert annotations use in
 * practice, parsed once per rule and rendered cheaply per alert.
 *
 * <p>Text with actions {@code {{ PIPELINE }}} ({@code {{-} and {@code -}}} trim the whitespace before / after, as in
 * Go). A pipeline is commands joined by {@code |}; each later command gets the previous result as its last argument.
 * A command is an operand or a function with its arguments:
 * <ul>
 *   <li>operands: {@code $value} and {@code .Value} (the alert's value, a number), {@code $labels.NAME} and
 *       {@code .Labels.NAME} (a label's value, a string), and string literals ({@code "..."} or {@code `...`});</li>
 *   <li>{@code humanize}, {@code humanize1024}, {@code humanizePercentage}, {@code humanizeDuration}: a number (or a
 *       string holding one) formatted as Prometheus does;</li>
 *   <li>{@code toUpper}, {@code toLower}, {@code title}: of a string;</li>
 *   <li>{@code printf FORMAT ARG}: one argument, one verb of {@code %d %f %.Nf %g %e %s %v} (flags {@code -+ 0},
 *       width, precision), {@code %%} for a percent sign.</li>
 * </ul>
 * Anything else ({@code if}, {@code range}, {@code define}, comments, other functions or variables, an unclosed
 * action, a type mismatch such as {@code toUpper $value}) is refused by {@link #parse} with an
 * {@link InvalidTemplateException} naming the problem and its position (1-based character).
 *
 * <p>Rendering: a number renders like Go's {@code strconv.FormatFloat(v, 'f', -1, 64)} (the shortest decimal that
 * reads back as the value, without exponent; {@code NaN}, {@code +Inf}, {@code -Inf}). A label the alert does not
 * have renders as the empty string (Go would print {@code <no value>}). A humanize function given a string that is
 * not a number renders {@code <error expanding template: ...>} in place of the whole text, as Prometheus does.
 */
public final class AlertTemplate {

    /** A template Sluice cannot parse; the message names the problem and where it is. */
    public static final class InvalidTemplateException extends IllegalArgumentException {
        public InvalidTemplateException(String message) {
            super(message);
        }
    }

    private final String source;
    private final List<Segment> segments;

    private AlertTemplate(String source, List<Segment> segments) {
        this.source = source;
        this.segments = List.copyOf(segments);
    }

    /** The template as written. */
    public String source() {
        return source;
    }

    /** Parses a template; throws {@link InvalidTemplateException} naming the first problem and its position. */
    public static AlertTemplate parse(String text) {
        return new AlertTemplate(text, new Parser(text).segments());
    }

    /** Renders this template for one alert. */
    public String render(SortedMap<String, String> labels, double value) {
        StringBuilder out = new StringBuilder(source.length() + 16);
        try {
            for (Segment s : segments) {
                s.render(labels, value, out);
            }
        } catch (RenderException e) {
            return "<error expanding template: " + e.getMessage() + ">";
        }
        return out.toString();
    }

    @Override
    public String toString() {
        return source;
    }

    // ---------------------------------------------------------------------------------------------- model

    private enum Type { NUMBER, STRING }

    private static final class RenderException extends RuntimeException {
        RenderException(String message) {
            super(message, null, false, false);
        }
    }

    private interface Segment {
        void render(SortedMap<String, String> labels, double value, StringBuilder out);
    }

    private record Text(String text) implements Segment {
        @Override
        public void render(SortedMap<String, String> labels, double value, StringBuilder out) {
            out.append(text);
        }
    }

    /** A pipeline's result: a number or a string. */
    private interface Node {
        Type type();

        double number(SortedMap<String, String> labels, double value);

        String string(SortedMap<String, String> labels, double value);
    }

    private record Action(Node node) implements Segment {
        @Override
        public void render(SortedMap<String, String> labels, double value, StringBuilder out) {
            if (node.type() == Type.NUMBER) {
                out.append(plain(node.number(labels, value)));
            } else {
                out.append(node.string(labels, value));
            }
        }
    }

    private record ValueNode() implements Node {
        public Type type() {
            return Type.NUMBER;
        }

        public double number(SortedMap<String, String> labels, double value) {
            return value;
        }

        public String string(SortedMap<String, String> labels, double value) {
            return plain(value);
        }
    }

    private record LabelNode(String name) implements Node {
        public Type type() {
            return Type.STRING;
        }

        public double number(SortedMap<String, String> labels, double value) {
            throw new IllegalStateException();
        }

        public String string(SortedMap<String, String> labels, double value) {
            String v = labels.get(name);
            return v == null ? "" : v;
        }
    }

    private record Literal(String text) implements Node {
        public Type type() {
            return Type.STRING;
        }

        public double number(SortedMap<String, String> labels, double value) {
            throw new IllegalStateException();
        }

        public String string(SortedMap<String, String> labels, double value) {
            return text;
        }
    }

    private enum Humanizer { HUMANIZE, HUMANIZE_1024, PERCENTAGE, DURATION }

    private record HumanizeNode(String function, Humanizer kind, Node arg) implements Node {
        public Type type() {
            return Type.STRING;
        }

        public double number(SortedMap<String, String> labels, double value) {
            throw new IllegalStateException();
        }

        public String string(SortedMap<String, String> labels, double value) {
            double v;
            if (arg.type() == Type.NUMBER) {
                v = arg.number(labels, value);
            } else {
                String s = arg.string(labels, value);
                try {
                    v = parseGoFloat(s);
                } catch (NumberFormatException e) {
                    throw new RenderException(function + ": \"" + s + "\" is not a number");
                }
            }
            return switch (kind) {
                case HUMANIZE -> humanize(v);
                case HUMANIZE_1024 -> humanize1024(v);
                case PERCENTAGE -> goG(v * 100, 4) + "%";
                case DURATION -> humanizeDuration(v);
            };
        }
    }

    private enum Case { UPPER, LOWER, TITLE }

    private record CaseNode(Case kind, Node arg) implements Node {
        public Type type() {
            return Type.STRING;
        }

        public double number(SortedMap<String, String> labels, double value) {
            throw new IllegalStateException();
        }

        public String string(SortedMap<String, String> labels, double value) {
            String s = arg.string(labels, value);
            return switch (kind) {
                case UPPER -> s.toUpperCase(Locale.ROOT);
                case LOWER -> s.toLowerCase(Locale.ROOT);
                case TITLE -> title(s);
            };
        }
    }

    private record PrintfNode(String prefix, Verb verb, String suffix, Node arg) implements Node {
        public Type type() {
            return Type.STRING;
        }

        public double number(SortedMap<String, String> labels, double value) {
            throw new IllegalStateException();
        }

        public String string(SortedMap<String, String> labels, double value) {
            String body = arg.type() == Type.NUMBER ? verb.number(arg.number(labels, value))
                    : verb.string(arg.string(labels, value));
            return prefix + body + suffix;
        }
    }

    /** One printf verb with its flags, width and precision (-1: none). */
    private record Verb(char verb, boolean minus, boolean plus, boolean space, boolean zero, int width,
                        int precision) {

        String number(double v) {
            String s;
            boolean finite = !Double.isNaN(v) && !Double.isInfinite(v);
            if (!finite) {
                s = Double.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
                if (v > 0 && space && !plus) {
                    s = " Inf";
                }
                if (Double.isNaN(v) && (plus || space)) {
                    s = (plus ? "+" : " ") + s;
                }
                return pad(s, false);
            }
            s = switch (verb) {
                case 'd' -> new BigDecimal(v).setScale(0, RoundingMode.HALF_EVEN).toPlainString();
                case 'f' -> fixed(v, precision < 0 ? 6 : precision);
                case 'e' -> exponent(v, precision < 0 ? 6 : precision, false);
                case 'g', 'v', 's' -> precision < 0 ? goShortestG(v) : goG(v, precision == 0 ? 1 : precision);
                default -> throw new IllegalStateException();
            };
            if (!s.startsWith("-")) {
                if (plus) {
                    s = "+" + s;
                } else if (space) {
                    s = " " + s;
                }
            }
            return pad(s, zero);
        }

        String string(String s) {
            if (precision >= 0 && s.codePointCount(0, s.length()) > precision) {
                s = s.substring(0, s.offsetByCodePoints(0, precision));
            }
            return pad(s, false);
        }

        private String pad(String s, boolean zeros) {
            int n = width - s.codePointCount(0, s.length());
            if (n <= 0) {
                return s;
            }
            if (minus) {
                return s + " ".repeat(n);
            }
            if (zeros) {
                int sign = !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+' || s.charAt(0) == ' ') ? 1 : 0;
                return s.substring(0, sign) + "0".repeat(n) + s.substring(sign);
            }
            return " ".repeat(n) + s;
        }
    }

    // ---------------------------------------------------------------------------------------------- formatting

    /** Go's {@code strconv.FormatFloat(v, 'f', -1, 64)}: shortest round-tripping digits, no exponent. */
    static String plain(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == 0) {
            return Double.doubleToRawLongBits(v) == 0 ? "0" : "-0";
        }
        return new BigDecimal(Double.toString(v)).stripTrailingZeros().toPlainString();
    }

    /** Go's {@code %.Nf}: the exact binary value rounded half-even to N decimals. */
    private static String fixed(double v, int decimals) {
        String s = new BigDecimal(v).setScale(decimals, RoundingMode.HALF_EVEN).toPlainString();
        return v < 0 || (v == 0 && Double.doubleToRawLongBits(v) != 0) ? (s.startsWith("-") ? s : "-" + s) : s;
    }

    /** Go's {@code %.Ne}: N digits after the point, exponent with sign and at least two digits. */
    private static String exponent(double v, int decimals, boolean stripZeros) {
        if (v == 0) {
            String zero = decimals > 0 && !stripZeros ? "0." + "0".repeat(decimals) : "0";
            return (Double.doubleToRawLongBits(v) != 0 ? "-" : "") + zero + "e+00";
        }
        BigDecimal rounded = new BigDecimal(v).round(new MathContext(decimals + 1, RoundingMode.HALF_EVEN));
        return exponentForm(rounded, decimals, stripZeros);
    }

    private static String exponentForm(BigDecimal rounded, int decimals, boolean stripZeros) {
        String digits = rounded.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - rounded.scale();
        if (stripZeros) {
            digits = digits.replaceFirst("0+$", "");
            if (digits.isEmpty()) {
                digits = "0";
            }
        } else if (digits.length() < decimals + 1) {
            digits = digits + "0".repeat(decimals + 1 - digits.length());
        }
        StringBuilder out = new StringBuilder();
        if (rounded.signum() < 0) {
            out.append('-');
        }
        out.append(digits.charAt(0));
        if (digits.length() > 1) {
            out.append('.').append(digits, 1, digits.length());
        }
        out.append('e').append(exp < 0 ? '-' : '+');
        int abs = Math.abs(exp);
        if (abs < 10) {
            out.append('0');
        }
        return out.append(abs).toString();
    }

    /** Go's {@code %.Ng}: N significant digits, exponent form when the exponent is below -4 or at least N. */
    static String goG(double v, int significant) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == 0) {
            return Double.doubleToRawLongBits(v) == 0 ? "0" : "-0";
        }
        BigDecimal rounded = new BigDecimal(v).round(new MathContext(significant, RoundingMode.HALF_EVEN));
        return gForm(rounded, significant);
    }

    /** Go's {@code %v} / {@code %g} of a float64: shortest digits, exponent form below -4 or from 6 on. */
    static String goShortestG(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v) || v == 0) {
            return goG(v, 1);
        }
        return gForm(new BigDecimal(Double.toString(v)).stripTrailingZeros(), 6);
    }

    private static String gForm(BigDecimal rounded, int eprec) {
        BigDecimal stripped = rounded.stripTrailingZeros();
        String digits = stripped.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - stripped.scale();
        if (exp < -4 || exp >= eprec) {
            return exponentForm(stripped, digits.length() - 1, true);
        }
        return stripped.toPlainString();
    }

    private static final String[] BIG = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
    private static final String[] BIG_1024 = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
    private static final String[] SMALL = {"m", "u", "n", "p", "f", "a", "z", "y"};

    private static String humanize(double v) {
        if (v == 0 || Double.isNaN(v) || Double.isInfinite(v)) {
            return goG(v, 4);
        }
        String prefix = "";
        if (Math.abs(v) >= 1) {
            for (String p : BIG) {
                if (Math.abs(v) < 1000) {
                    break;
                }
                prefix = p;
                v /= 1000;
            }
        } else {
            for (String p : SMALL) {
                if (Math.abs(v) >= 1) {
                    break;
                }
                prefix = p;
                v *= 1000;
            }
        }
        return goG(v, 4) + prefix;
    }

    private static String humanize1024(double v) {
        if (Math.abs(v) <= 1 || Double.isNaN(v) || Double.isInfinite(v)) {
            return goG(v, 4);
        }
        String prefix = "";
        for (String p : BIG_1024) {
            if (Math.abs(v) < 1024) {
                break;
            }
            prefix = p;
            v /= 1024;
        }
        return goG(v, 4) + prefix;
    }

    private static String humanizeDuration(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return goG(v, 4);
        }
        if (v == 0) {
            return goG(v, 4) + "s";
        }
        if (Math.abs(v) >= 1) {
            String sign = "";
            if (v < 0) {
                sign = "-";
                v = -v;
            }
            long duration = (long) v;
            long seconds = duration % 60;
            long minutes = (duration / 60) % 60;
            long hours = (duration / 60 / 60) % 24;
            long days = duration / 60 / 60 / 24;
            if (days != 0) {
                return sign + days + "d " + hours + "h " + minutes + "m " + seconds + "s";
            }
            if (hours != 0) {
                return sign + hours + "h " + minutes + "m " + seconds + "s";
            }
            if (minutes != 0) {
                return sign + minutes + "m " + seconds + "s";
            }
            return sign + goG(v, 4) + "s";
        }
        String prefix = "";
        for (String p : SMALL) {
            if (Math.abs(v) >= 1) {
                break;
            }
            prefix = p;
            v *= 1000;
        }
        return goG(v, 4) + prefix + "s";
    }

    /** Go's (deprecated, but what Prometheus' {@code title} is) {@code strings.Title}: each word's first letter up. */
    private static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean wordStart = true;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            boolean letter = Character.isLetterOrDigit(cp) || cp == '_' || Character.getType(cp) == Character.NON_SPACING_MARK;
            out.appendCodePoint(wordStart && letter ? Character.toTitleCase(cp) : cp);
            wordStart = !letter;
            i += Character.charCount(cp);
        }
        return out.toString();
    }

    /** A string as Go's {@code strconv.ParseFloat} reads it (including {@code Inf}, {@code NaN}). */
    private static double parseGoFloat(String s) {
        String t = s.trim();
        if (!t.equals(s) || t.isEmpty()) {
            throw new NumberFormatException(s);
        }
        switch (t.toLowerCase(Locale.ROOT)) {
            case "nan":
                return Double.NaN;
            case "inf", "+inf", "infinity", "+infinity":
                return Double.POSITIVE_INFINITY;
            case "-inf", "-infinity":
                return Double.NEGATIVE_INFINITY;
            default:
                break;
        }
        if (!t.matches("[+-]?(\\d[\\d_]*(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?")) {
            throw new NumberFormatException(s);
        }
        return Double.parseDouble(t.replace("_", ""));
    }

    // ---------------------------------------------------------------------------------------------- parsing

    private static final class Parser {
        private final String text;
        private int pos;

        Parser(String text) {
            this.text = text;
        }

        private InvalidTemplateException error(String message, int at) {
            return new InvalidTemplateException(message + " at position " + (at + 1));
        }

        List<Segment> segments() {
            List<Segment> out = new ArrayList<>();
            StringBuilder pending = new StringBuilder();
            while (pos < text.length()) {
                int open = text.indexOf("{{", pos);
                if (open < 0) {
                    pending.append(text, pos, text.length());
                    break;
                }
                pending.append(text, pos, open);
                int start = open + 2;
                if (start + 1 < text.length() && text.charAt(start) == '-' && isSpace(text.charAt(start + 1))) {
                    trimTrailing(pending);
                    start++;
                }
                int close = closing(start);
                if (close < 0) {
                    throw error("unclosed action", open);
                }
                int end = close;
                boolean trimAfter = false;
                if (close - 1 >= start && text.charAt(close - 1) == '-' && close - 2 >= start
                        && isSpace(text.charAt(close - 2))) {
                    trimAfter = true;
                    end = close - 1;
                }
                Node node = new ActionParser(text, start, end, open).pipeline();
                if (pending.length() > 0) {
                    out.add(new Text(pending.toString()));
                    pending.setLength(0);
                }
                out.add(new Action(node));
                pos = close + 2;
                if (trimAfter) {
                    while (pos < text.length() && isSpace(text.charAt(pos))) {
                        pos++;
                    }
                }
            }
            if (pending.length() > 0) {
                out.add(new Text(pending.toString()));
            }
            return out;
        }

        /** Where the action starting at {@code from} ends ({@code }}} outside string literals, if any), or -1. */
        private int closing(int from) {
            char quote = 0;
            for (int i = from; i < text.length(); i++) {
                char c = text.charAt(i);
                if (quote != 0) {
                    if (c == '\\' && quote == '"') {
                        i++;
                    } else if (c == quote || (c == '\n' && quote == '"')) {
                        quote = 0;
                    }
                } else if (c == '"' || c == '`') {
                    quote = c;
                } else if (c == '}' && i + 1 < text.length() && text.charAt(i + 1) == '}') {
                    return i;
                }
            }
            // none outside strings: an unterminated string, reported as such by the action's parser
            return text.indexOf("}}", from);
        }

        private static void trimTrailing(StringBuilder sb) {
            int n = sb.length();
            while (n > 0 && isSpace(sb.charAt(n - 1))) {
                n--;
            }
            sb.setLength(n);
        }
    }

    private static boolean isSpace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
    }

    /** Parses the inside of one action, {@code [start, end)} of the text. */
    private static final class ActionParser {
        private final String text;
        private final int end;
        private final int actionStart;
        private int pos;

        ActionParser(String text, int start, int end, int actionStart) {
            this.text = text;
            this.pos = start;
            this.end = end;
            this.actionStart = actionStart;
        }

        private InvalidTemplateException error(String message, int at) {
            return new InvalidTemplateException(message + " at position " + (at + 1));
        }

        Node pipeline() {
            skipSpace();
            if (pos >= end) {
                throw error("empty action", actionStart);
            }
            if (text.startsWith("/*", pos)) {
                throw error("comments are not supported", pos);
            }
            Node node = command(null);
            skipSpace();
            while (pos < end) {
                if (text.charAt(pos) != '|') {
                    throw error("unexpected \"" + text.substring(pos, end).strip() + "\" (expected | or }})", pos);
                }
                pos++;
                skipSpace();
                if (pos >= end) {
                    throw error("missing command after |", pos);
                }
                node = command(node);
                skipSpace();
            }
            return node;
        }

        /** A command; {@code piped} (the previous command's result) is its last argument, or null. */
        private Node command(Node piped) {
            int at = pos;
            char c = text.charAt(pos);
            if (c == '$' || c == '.' || c == '"' || c == '`') {
                if (piped != null) {
                    throw error("a value cannot take piped input (expected a function after |)", at);
                }
                return operand();
            }
            String word = identifier();
            if (word.isEmpty()) {
                throw error("unexpected \"" + c + "\"", at);
            }
            if (Character.isDigit(word.charAt(0))) {
                throw error("number literals are not supported (\"" + word + "\")", at);
            }
            switch (word) {
                case "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
                        "nil", "true", "false" -> throw error("\"" + word + "\" is not supported in alert templates", at);
                default -> {
                }
            }
            List<Node> args = new ArrayList<>();
            List<Integer> argAt = new ArrayList<>();
            while (true) {
                int before = pos;
                skipSpace();
                if (pos >= end || text.charAt(pos) == '|') {
                    break;
                }
                if (pos == before) {
                    throw error("unexpected \"" + text.charAt(pos) + "\" after " + word, pos);
                }
                argAt.add(pos);
                args.add(operand());
            }
            if (piped != null) {
                args.add(piped);
                argAt.add(at);
            }
            return switch (word) {
                case "humanize" -> humanizer(word, Humanizer.HUMANIZE, args, at);
                case "humanize1024" -> humanizer(word, Humanizer.HUMANIZE_1024, args, at);
                case "humanizePercentage" -> humanizer(word, Humanizer.PERCENTAGE, args, at);
                case "humanizeDuration" -> humanizer(word, Humanizer.DURATION, args, at);
                case "toUpper" -> caseNode(word, Case.UPPER, args, at);
                case "toLower" -> caseNode(word, Case.LOWER, args, at);
                case "title" -> caseNode(word, Case.TITLE, args, at);
                case "printf" -> printf(args, argAt, at);
                default -> throw error("unknown function \"" + word + "\"", at);
            };
        }

        private Node humanizer(String name, Humanizer kind, List<Node> args, int at) {
            oneArgument(name, args, at);
            return new HumanizeNode(name, kind, args.get(0));
        }

        private Node caseNode(String name, Case kind, List<Node> args, int at) {
            oneArgument(name, args, at);
            if (args.get(0).type() != Type.STRING) {
                throw error(name + " needs a string, got the number $value (use printf or humanize first)", at);
            }
            return new CaseNode(kind, args.get(0));
        }

        private void oneArgument(String name, List<Node> args, int at) {
            if (args.size() != 1) {
                throw error(name + " takes 1 argument, got " + args.size(), at);
            }
        }

        private Node printf(List<Node> args, List<Integer> argAt, int at) {
            if (args.size() != 2) {
                throw error("printf takes a format string and 1 argument, got " + args.size() + " arguments", at);
            }
            if (!(args.get(0) instanceof Literal format)) {
                throw error("printf's format must be a string literal", argAt.get(0));
            }
            Node arg = args.get(1);
            String f = format.text();
            StringBuilder prefix = new StringBuilder();
            StringBuilder suffix = new StringBuilder();
            Verb verb = null;
            int formatAt = argAt.get(0);
            for (int i = 0; i < f.length(); i++) {
                char c = f.charAt(i);
                if (c != '%') {
                    (verb == null ? prefix : suffix).append(c);
                    continue;
                }
                if (i + 1 < f.length() && f.charAt(i + 1) == '%') {
                    (verb == null ? prefix : suffix).append('%');
                    i++;
                    continue;
                }
                if (verb != null) {
                    throw error("printf's format has more than one verb (only one argument is supported): \"" + f
                            + "\"", formatAt);
                }
                int j = i + 1;
                boolean minus = false;
                boolean plus = false;
                boolean space = false;
                boolean zero = false;
                for (; j < f.length(); j++) {
                    char fl = f.charAt(j);
                    if (fl == '-') {
                        minus = true;
                    } else if (fl == '+') {
                        plus = true;
                    } else if (fl == ' ') {
                        space = true;
                    } else if (fl == '0') {
                        zero = true;
                    } else {
                        break;
                    }
                }
                int width = -1;
                int w = j;
                while (j < f.length() && Character.isDigit(f.charAt(j)) && j - w < 3) {
                    j++;
                }
                if (j > w) {
                    width = Integer.parseInt(f.substring(w, j));
                }
                int precision = -1;
                if (j < f.length() && f.charAt(j) == '.') {
                    j++;
                    int p = j;
                    while (j < f.length() && Character.isDigit(f.charAt(j)) && j - p < 3) {
                        j++;
                    }
                    precision = j > p ? Integer.parseInt(f.substring(p, j)) : 0;
                }
                if (j >= f.length()) {
                    throw error("printf's format ends inside a verb: \"" + f + "\"", formatAt);
                }
                char v = f.charAt(j);
                if ("dfegsv".indexOf(v) < 0) {
                    throw error("printf verb %" + v + " is not supported (supported: %d %f %.Nf %g %e %s %v)",
                            formatAt);
                }
                if ("dfeg".indexOf(v) >= 0 && arg.type() != Type.NUMBER) {
                    throw error("printf %" + v + " needs a number, got a string", formatAt);
                }
                if (v == 'd' && precision >= 0) {
                    throw error("printf %d takes no precision", formatAt);
                }
                verb = new Verb(v, minus, plus, space, zero && !minus, width, precision);
                i = j;
            }
            if (verb == null) {
                throw error("printf's format has no verb for its argument: \"" + f + "\"", formatAt);
            }
            return new PrintfNode(prefix.toString(), verb, suffix.toString(), arg);
        }

        private Node operand() {
            int at = pos;
            char c = text.charAt(pos);
            if (c == '"') {
                return new Literal(quoted());
            }
            if (c == '`') {
                int close = text.indexOf('`', pos + 1);
                if (close < 0 || close >= end) {
                    throw error("unterminated raw string", at);
                }
                String s = text.substring(pos + 1, close);
                pos = close + 1;
                return new Literal(s);
            }
            if (c == '$') {
                pos++;
                String name = identifier();
                switch (name) {
                    case "value" -> {
                        return new ValueNode();
                    }
                    case "labels" -> {
                        return new LabelNode(field("$labels", at));
                    }
                    case "" -> throw error("\"$\" must be followed by a variable name ($value or $labels.NAME)", at);
                    default -> throw error("unknown variable \"$" + name + "\" (supported: $value, $labels.NAME)",
                            at);
                }
            }
            if (c == '.') {
                pos++;
                String name = identifier();
                switch (name) {
                    case "Value" -> {
                        return new ValueNode();
                    }
                    case "Labels" -> {
                        return new LabelNode(field(".Labels", at));
                    }
                    case "" -> throw error("\".\" alone is not supported (use .Value or .Labels.NAME)", at);
                    default -> throw error("unknown field \"." + name + "\" (supported: .Value, .Labels.NAME)", at);
                }
            }
            throw error("unexpected \"" + c + "\"", at);
        }

        private String field(String of, int at) {
            if (pos >= end || text.charAt(pos) != '.') {
                throw error(of + " must name a label (" + of + ".NAME)", at);
            }
            pos++;
            String name = identifier();
            if (name.isEmpty()) {
                throw error(of + " must name a label (" + of + ".NAME)", at);
            }
            if (pos < end && text.charAt(pos) == '.') {
                throw error("a label's value has no fields: " + text.substring(at, pos) + ".", at);
            }
            return name;
        }

        private String quoted() {
            int at = pos;
            StringBuilder out = new StringBuilder();
            pos++;
            while (pos < end) {
                char c = text.charAt(pos++);
                if (c == '"') {
                    return out.toString();
                }
                if (c == '\n') {
                    break;
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (pos >= end) {
                    break;
                }
                char e = text.charAt(pos++);
                switch (e) {
                    case 'n' -> out.append('\n');
                    case 't' -> out.append('\t');
                    case 'r' -> out.append('\r');
                    case '\\' -> out.append('\\');
                    case '"' -> out.append('"');
                    default -> throw error("unsupported escape \\" + e + " in string", pos - 2);
                }
            }
            throw error("unterminated string", at);
        }

        private String identifier() {
            int start = pos;
            while (pos < end) {
                char c = text.charAt(pos);
                if (Character.isLetterOrDigit(c) || c == '_') {
                    pos++;
                } else {
                    break;
                }
            }
            return text.substring(start, pos);
        }

        private void skipSpace() {
            while (pos < end && isSpace(text.charAt(pos))) {
                pos++;
            }
        }
    }
}
