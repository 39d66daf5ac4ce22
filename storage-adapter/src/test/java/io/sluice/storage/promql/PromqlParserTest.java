package io.sluice.storage.promql;

import io.sluice.storage.promql.Expr.Aggregate;
import io.sluice.storage.promql.Expr.Binary;
import io.sluice.storage.promql.Expr.Call;
import io.sluice.storage.promql.Expr.MatrixSel;
import io.sluice.storage.promql.Expr.NumberLit;
import io.sluice.storage.promql.Expr.Paren;
import io.sluice.storage.promql.Expr.StringLit;
import io.sluice.storage.promql.Expr.Subquery;
import io.sluice.storage.promql.Expr.Unary;
import io.sluice.storage.promql.Expr.VectorSel;
import io.sluice.storage.query.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The PromQL parser: Prometheus' grammar, precedence, associativity, type checks and errors. */
class PromqlParserTest {

    /** Renders a tree fully parenthesised, so a test states the structure it expects. */
    static String show(Expr e) {
        if (e instanceof NumberLit n) {
            double v = n.value();
            return v == Math.rint(v) && !Double.isInfinite(v) ? Long.toString((long) v) : Double.toString(v);
        }
        if (e instanceof StringLit s) {
            return "'" + s.value() + "'";
        }
        if (e instanceof Paren p) {
            return show(p.expr());
        }
        if (e instanceof VectorSel vs) {
            String m = vs.matchers().stream().map(Matcher::toString).collect(Collectors.joining(","));
            return "sel{" + m + "}" + (vs.offsetMs() != 0 ? " offset " + vs.offsetMs() : "")
                    + (vs.at() != null ? " @" + vs.at().kind() + vs.at().timeMs() : "");
        }
        if (e instanceof MatrixSel ms) {
            return show(ms.selector()) + "[" + ms.rangeMs() + "]";
        }
        if (e instanceof Subquery sq) {
            return show(sq.expr()) + "[" + sq.rangeMs() + ":" + sq.stepMs() + "]"
                    + (sq.offsetMs() != 0 ? " offset " + sq.offsetMs() : "");
        }
        if (e instanceof Unary u) {
            return (u.negate() ? "-" : "+") + show(u.expr());
        }
        if (e instanceof Binary b) {
            String mod = (b.returnBool() ? " bool" : "");
            if (b.matching() != Expr.Matching.DEFAULT && !b.op().isSetOperator()) {
                mod += (b.matching().on() ? " on" : " ignoring") + b.matching().labels();
                if (b.matching().card() == Expr.Matching.Card.MANY_TO_ONE) {
                    mod += " group_left" + b.matching().include();
                }
                if (b.matching().card() == Expr.Matching.Card.ONE_TO_MANY) {
                    mod += " group_right" + b.matching().include();
                }
            }
            return "(" + show(b.lhs()) + " " + b.op().symbol + mod + " " + show(b.rhs()) + ")";
        }
        if (e instanceof Call c) {
            return c.function().name() + "(" + c.args().stream().map(PromqlParserTest::show)
                    .collect(Collectors.joining(", ")) + ")";
        }
        Aggregate a = (Aggregate) e;
        return a.op() + (a.without() ? " without" : " by") + a.grouping() + "("
                + (a.param() != null ? show(a.param()) + ", " : "") + show(a.expr()) + ")";
    }

    static String parse(String expr) {
        return show(PromqlParser.parse(expr));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '§', value = {
            // numbers: decimal, exponent, hex, Inf/NaN in any case, leading dot, trailing dot
            "1|1", "12.34e6|12340000", "1e-3|0.001", "0x1F|31", ".5|0.5", "2.|2", "inf|Infinity", "-Inf|-Infinity",
            "NaN|NaN",
            // durations as numbers (seconds)
            "5m|300", "1h30m|5400", "1.5|1.5",
            // precedence: ^ over unary minus over * over + over comparisons over and/unless over or
            "1 + 2 * 3|(1 + (2 * 3))", "1 * 2 + 3|((1 * 2) + 3)", "-2 ^ 2|-(2 ^ 2)", "2 ^ 3 ^ 2|(2 ^ (3 ^ 2))",
            "1 - 2 - 3|((1 - 2) - 3)", "8 / 4 / 2|((8 / 4) / 2)", "1 + 2 == bool 3|((1 + 2) == bool 3)",
            "a or b and c|(sel{__name__=a} or (sel{__name__=b} and sel{__name__=c}))",
            "a and b unless c|((sel{__name__=a} and sel{__name__=b}) unless sel{__name__=c})",
            "a > 1 or b|((sel{__name__=a} > 1) or sel{__name__=b})",
            "2 * 3 % 4 atan2 5|(((2 * 3) % 4) atan2 5)",
            "-a * b|(-sel{__name__=a} * sel{__name__=b})",
            "(1 + 2) * 3|((1 + 2) * 3)", "- - 1|1", "+a|+sel{__name__=a}",
            // selectors
            "foo|sel{__name__=foo}",
            "foo{a=\"b\", c!=\"d\", e=~\"f.*\", g!~\"h\"}|sel{__name__=foo,a=b,c!=d,e=~f.*,g!~h}",
            "{__name__=~\"foo.*\"}|sel{__name__=~foo.*}", "{\"foo\", a='b'}|sel{__name__=foo,a=b}",
            "foo{a=\"b\",}|sel{__name__=foo,a=b}", "foo:bar_total|sel{__name__=foo:bar_total}",
            "foo offset 5m|sel{__name__=foo} offset 300000", "foo offset -1h|sel{__name__=foo} offset -3600000",
            "foo[5m]|sel{__name__=foo}[300000]", "foo[5m] offset 1m|sel{__name__=foo} offset 60000[300000]",
            "foo @ 100|sel{__name__=foo} @TIME100000", "foo @ start()|sel{__name__=foo} @START0",
            "foo[1h:5m]|sel{__name__=foo}[3600000:300000]", "rate(foo[5m])[1h:]|rate(sel{__name__=foo}[300000])[3600000:0]",
            // strings with Go escapes in each quoting style
            "\"a\\tb\\u00e9\"|'a\tbé'", "'it\\'s'|'it's'", "`raw\\n`|'raw\\n'", "\"\\x41\\101\"|'AA'", "\"\\xc3\\xa9\"|'é'",
            // matching modifiers
            "a / on(job) b|(sel{__name__=a} / on[job] sel{__name__=b})",
            "a - ignoring(code) b|(sel{__name__=a} - ignoring[code] sel{__name__=b})",
            "a * on(job) group_left(x) b|(sel{__name__=a} * on[job] group_left[x] sel{__name__=b})",
            "a + ignoring() group_right b|(sel{__name__=a} + ignoring[] group_right[] sel{__name__=b})",
            "a > bool on(x) b|(sel{__name__=a} > bool on[x] sel{__name__=b})",
            // aggregations: grouping before or after, parameters, keywords in any case
            "sum by (job) (foo)|sum by[job](sel{__name__=foo})", "sum(foo) by (job)|sum by[job](sel{__name__=foo})",
            "SUM(foo) WITHOUT (a, b)|sum without[a, b](sel{__name__=foo})", "count(foo)|count by[](sel{__name__=foo})",
            "topk(3, foo)|topk by[](3, sel{__name__=foo})",
            "quantile without (x) (0.9, foo)|quantile without[x](0.9, sel{__name__=foo})",
            "count_values(\"v\", foo)|count_values by[]('v', sel{__name__=foo})",
            // functions
            "rate(foo[5m])|rate(sel{__name__=foo}[300000])", "time()|time()", "round(foo, 0.5)|round(sel{__name__=foo}, 0.5)",
            "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))"
                    + "|histogram_quantile(0.9, sum by[le](rate(sel{__name__=x_bucket}[300000])))",
            "label_join(foo, \"d\", \",\", \"a\", \"b\")|label_join(sel{__name__=foo}, 'd', ',', 'a', 'b')",
    })
    void parses(String expr, String expected) {
        assertThat(parse(expr)).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '§', value = {
            "|1:1: parse error: no expression found in input",
            "1 +|1:4: parse error: unexpected end of input",
            "foo{a=\"b\"|1:10: parse error: unexpected end of input in label matching, expected \",\" or \"}\"",
            "foo{a=1}|1:7: parse error: unexpected number \"1\" in label matching, expected string",
            "foo{a~\"b\"}|1:6: parse error: unexpected character: '~'",
            "{a=\"\"}|1:1: parse error: vector selector must contain at least one non-empty matcher",
            "foo{__name__=\"bar\"}|1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"",
            "foo{a=~\"(\"}|1:8: parse error: invalid regular expression \"(\": Unclosed group",
            "1 > 2|1:3: parse error: comparisons between scalars must use BOOL modifier",
            "1 and foo|1:3: parse error: set operator \"and\" not allowed in binary scalar expression",
            "1 + on(a) foo|1:3: parse error: vector matching only allowed between instant vectors",
            "foo + bool bar|1:7: parse error: bool modifier can only be used on comparison operators",
            "foo and on(a) group_left bar|1:15: parse error: no grouping allowed for \"and\" operation",
            "foo[5m] + 1|1:9: parse error: binary expression must contain only scalar and instant vector types",
            "rate(foo)|1:1: parse error: expected type range vector in call to function \"rate\", got instant vector",
            "rate(foo[5m], 1)|1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2",
            "round()|1:1: parse error: expected at least 1 argument(s) in call to \"round\", got 0",
            "nosuch(foo)|1:1: parse error: unknown function with name \"nosuch\"",
            "sum(foo[5m])|1:1: parse error: expected type instant vector in aggregation expression, got range vector",
            "topk(foo)|1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1",
            "sum by (a) (foo) by (b)|1:18: parse error: aggregation must only contain one grouping clause",
            "(foo)[5m]|1:6: parse error: ranges only allowed for vector selectors",
            "foo offset 1m[5m]|1:14: parse error: no offset modifiers allowed before range",
            "rate(foo[5m]) offset 1m|1:15: parse error: offset modifier must be preceded by an instant vector "
                    + "selector or range vector selector or a subquery",
            "foo offset 1m offset 2m|1:15: parse error: offset may not be set multiple times",
            "foo[5x]|1:5: parse error: bad number or duration syntax: \"5x\"",
            "foo[1m1h]|1:5: parse error: bad number or duration syntax: \"1m1h\"",
            "\"abc|1:1: parse error: unterminated quoted string \"",
            "\"\\q\"|1:2: parse error: unknown escape sequence \\q",
            "foo bar|1:5: parse error: unexpected identifier \"bar\"",
            "-\"a\"|1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector",
    })
    void rejectsWithPrometheusMessages(String expr, String message) {
        assertThatThrownBy(() -> PromqlParser.parse(expr == null ? "" : expr))
                .isExactlyInstanceOf(PromqlException.class)
                .hasMessage(message)
                .satisfies(e -> assertThat(((PromqlException) e).errorType())
                        .isEqualTo(PromqlException.ErrorType.BAD_DATA));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '§', value = {
            "info(foo)|function info",
            "histogram_fraction(0, 1, foo)|function histogram_fraction",
            "histogram_count(foo)|function histogram_count",
            "limitk(2, foo)|aggregation limitk",
            "sum(rate(foo[5m])) + histogram_avg(foo)|function histogram_avg",
            "limit_ratio(0.5, foo)|aggregation limit_ratio",
    })
    void validButOutsideTheSubsetIsUnsupportedNamingIt(String expr, String feature) {
        assertThatThrownBy(() -> PromqlParser.parse(expr))
                .isInstanceOfSatisfying(UnsupportedPromqlException.class, e -> {
                    assertThat(e.feature()).isEqualTo(feature);
                    assertThat(e.errorType()).isEqualTo(PromqlException.ErrorType.BAD_DATA);
                    assertThat(e.getMessage()).isEqualTo("unsupported in Sluice's PromQL subset: " + feature);
                });
    }

    @Test
    void aSyntaxErrorWinsOverAnUnsupportedFunctionBeforeIt() {
        assertThatThrownBy(() -> PromqlParser.parse("histogram_avg(foo) +"))
                .isExactlyInstanceOf(PromqlException.class)
                .hasMessageContaining("unexpected end of input");
    }

    @Test
    void typesFollowPrometheus() {
        assertThat(PromqlParser.parse("1 + 1").type()).isEqualTo(Expr.Type.SCALAR);
        assertThat(PromqlParser.parse("foo + 1").type()).isEqualTo(Expr.Type.VECTOR);
        assertThat(PromqlParser.parse("foo[5m]").type()).isEqualTo(Expr.Type.MATRIX);
        assertThat(PromqlParser.parse("foo[5m:1m]").type()).isEqualTo(Expr.Type.MATRIX);
        assertThat(PromqlParser.parse("\"x\"").type()).isEqualTo(Expr.Type.STRING);
        assertThat(PromqlParser.parse("scalar(foo)").type()).isEqualTo(Expr.Type.SCALAR);
    }

    @Test
    void selectorMatchersForSeriesLookups() {
        assertThat(PromqlParser.parseSelector("up{job=~\"a|b\"}")).containsExactly(
                new Matcher("__name__", Matcher.Op.EQ, "up"), new Matcher("job", Matcher.Op.REGEX, "a|b"));
        assertThat(PromqlSelectors.parse("{__name__=~\"http_.*\"}")).containsExactly(
                new Matcher("__name__", Matcher.Op.REGEX, "http_.*"));
        assertThatThrownBy(() -> PromqlSelectors.parse("up offset 5m"))
                .isInstanceOf(PromqlException.class).hasMessage("invalid series selector: up offset 5m");
        assertThatThrownBy(() -> PromqlSelectors.parse("{job=~\".*\"}"))
                .isInstanceOf(PromqlException.class).hasMessageContaining("at least one non-empty matcher");
        assertThatThrownBy(() -> PromqlParser.parseSelector("rate(up[5m])"))
                .isInstanceOf(PromqlException.class).hasMessage("invalid series selector: rate(up[5m])");
    }

    @Test
    void anExpressionNestedDeeperThanTheBoundIsBadDataBeforeAnyStackRunsOut() {
        int over = PromqlParser.MAX_DEPTH + 1;
        for (String deep : new String[] {"(".repeat(over) + "1" + ")".repeat(over), "1" + "+1".repeat(over),
                "2" + "^2".repeat(over), "-".repeat(over) + "1", "abs(".repeat(over) + "up" + ")".repeat(over),
                "(".repeat(100_000)}) {
            assertThatThrownBy(() -> PromqlParser.parse(deep)).isExactlyInstanceOf(PromqlException.class)
                    .hasMessageContaining("nested more than " + PromqlParser.MAX_DEPTH + " levels deep")
                    .satisfies(e -> assertThat(((PromqlException) e).errorType())
                            .isEqualTo(PromqlException.ErrorType.BAD_DATA));
        }
        int within = PromqlParser.MAX_DEPTH / 2 - 1;
        assertThat(PromqlParser.parse("(".repeat(within) + "1" + ")".repeat(within))).isNotNull();
        assertThat(PromqlParser.parse("1" + "+1".repeat(within))).isNotNull();
    }

}
