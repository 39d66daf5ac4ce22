package io.sluice.gateway.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The metric names a PromQL expression (as a Grafana panel holds it) selects, each with its label matchers.
 *
 * <p>A small scanner, not a PromQL parser: it skips string literals, Grafana variables ({@code $job},
 * {@code ${datasource}}, {@code $__rate_interval}), range and subquery brackets, numbers and durations, the label
 * lists of {@code by}/{@code without}/{@code on}/{@code ignoring}/{@code group_left}/{@code group_right}, function
 * calls (an identifier followed by {@code (}) and keywords; every other identifier is a metric name.
 */
final class PromQlSelectors {

    /** A metric name and the text between the braces that follow it ("" when there are none). */
    record Selector(String metric, String matchers) {
    }

    private static final Set<String> LABEL_LISTS = Set.of("by", "without", "on", "ignoring", "group_left",
            "group_right");
    /** Aggregation operators (they may be followed by {@code by (...)} rather than {@code (}) and other keywords. */
    private static final Set<String> KEYWORDS = Set.of("sum", "min", "max", "avg", "count", "stddev", "stdvar",
            "topk", "bottomk", "quantile", "count_values", "group", "limitk", "limit_ratio", "and", "or", "unless",
            "bool", "offset", "atan2", "inf", "nan", "start", "end");

    private PromQlSelectors() {
    }

    static List<Selector> of(String expr) {
        List<Selector> selectors = new ArrayList<>();
        int i = 0;
        int n = expr.length();
        while (i < n) {
            char c = expr.charAt(i);
            if (c == '"' || c == '\'' || c == '`') {
                i = afterString(expr, i);
            } else if (c == '$') {
                i = afterVariable(expr, i);
            } else if (c == '[') {
                i = after(expr, i, ']');
            } else if (c == '{') {
                i = afterBlock(expr, i); // a selector without a name ({__name__=~"..."}): nothing to check by name
            } else if (Character.isDigit(c) || c == '.' && i + 1 < n && Character.isDigit(expr.charAt(i + 1))) {
                i = afterNumber(expr, i);
            } else if (Character.isLetter(c) || c == '_' || c == ':') {
                int start = i;
                while (i < n && (Character.isLetterOrDigit(expr.charAt(i)) || expr.charAt(i) == '_'
                        || expr.charAt(i) == ':')) {
                    i++;
                }
                String word = expr.substring(start, i);
                int next = skipSpaces(expr, i);
                char following = next < n ? expr.charAt(next) : 0;
                if (LABEL_LISTS.contains(word)) {
                    i = following == '(' ? after(expr, next, ')') : i;
                } else if (following == '(' || KEYWORDS.contains(word)) {
                    // a function call or a keyword
                } else if (following == '{') {
                    int end = afterBlock(expr, next);
                    selectors.add(new Selector(word, expr.substring(next + 1, end - 1)));
                    i = end;
                } else {
                    selectors.add(new Selector(word, ""));
                }
            } else {
                i++;
            }
        }
        return selectors;
    }

    private static int skipSpaces(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }

    private static int afterString(String s, int start) {
        char quote = s.charAt(start);
        int i = start + 1;
        while (i < s.length() && s.charAt(i) != quote) {
            i += s.charAt(i) == '\\' && quote != '`' ? 2 : 1;
        }
        if (i >= s.length()) {
            throw new IllegalArgumentException("unterminated string at " + start + " in: " + s);
        }
        return i + 1;
    }

    private static int afterVariable(String s, int start) {
        if (start + 1 < s.length() && s.charAt(start + 1) == '{') {
            return after(s, start + 1, '}');
        }
        int i = start + 1;
        while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
            i++;
        }
        return i;
    }

    /** Past the label matchers that start at {@code open}; braces inside their quoted values do not count. */
    private static int afterBlock(String s, int open) {
        int i = open + 1;
        while (i < s.length() && s.charAt(i) != '}') {
            char c = s.charAt(i);
            i = c == '"' || c == '\'' || c == '`' ? afterString(s, i) : i + 1;
        }
        if (i >= s.length()) {
            throw new IllegalArgumentException("unterminated { at " + open + " in: " + s);
        }
        return i + 1;
    }

    private static int after(String s, int open, char close) {
        int end = s.indexOf(close, open);
        if (end < 0) {
            throw new IllegalArgumentException("no " + close + " after " + open + " in: " + s);
        }
        return end + 1;
    }

    /** Numbers (1, 0.99, 1e3, 0x1f) and durations (5m, 1h30m). */
    private static int afterNumber(String s, int start) {
        int i = start;
        while (i < s.length()) {
            char c = s.charAt(i);
            boolean exponentSign = (c == '+' || c == '-') && (s.charAt(i - 1) == 'e' || s.charAt(i - 1) == 'E')
                    && i - 1 > start && !Character.isLetter(s.charAt(i - 2));
            if (Character.isLetterOrDigit(c) || c == '.' || c == '_' || exponentSign) {
                i++;
            } else {
                break;
            }
        }
        return i;
    }
}
