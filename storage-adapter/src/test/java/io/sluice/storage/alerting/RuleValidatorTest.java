package io.sluice.storage.alerting;

import com.fasterxml.jackson.core.JsonFactory;
import io.sluice.config.AlertingConfig;
import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.storage.alerting.AlertRule.RuleQuery;
import io.sluice.storage.alerting.AlertRule.Threshold;
import io.sluice.storage.promql.PromqlExpressions;
import io.sluice.storage.query.Aggregation;
import io.sluice.storage.query.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Rule validation: the API's JSON and Prometheus rule files, each problem named with its field. */
class RuleValidatorTest {

    private static final AlertingConfig CONFIG = ConfigLoader.load(null, Map.of(), Map.of()).alerting();
    private final RuleValidator validator = new RuleValidator(CONFIG);

    private static Object json(String text) {
        return RuleDocument.readJson(new JsonFactory(),
                new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)));
    }

    private static Object yaml(String text) {
        return RuleDocument.readYaml(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)));
    }

    private AlertRule api(String body) {
        return validator.apiRule(json(body), "t", Tier.PAID);
    }

    private List<String> problems(String body) {
        try {
            api(body);
        } catch (InvalidRuleException e) {
            assertThat(e.code()).isEqualTo("invalid_rule");
            return e.problems();
        }
        throw new AssertionError("accepted: " + body);
    }

    @Test
    void aFullRuleIsBuiltWithDefaults() {
        AlertRule rule = api("""
                {"name": "HighCpu", "expr": "avg by (host) (cpu)", "op": ">", "threshold": 0.9, "for": "5m",
                 "labels": {"severity": "page"}, "annotations": {"summary": "{{ $labels.host }} at {{ $value }}"}}""");
        assertThat(rule.group()).isEqualTo("default");
        assertThat(rule.threshold()).isEqualTo(new Threshold(">", 0.9));
        assertThat(rule.forDuration()).isEqualTo(Duration.ofMinutes(5));
        assertThat(rule.keepFiringFor()).isZero();
        assertThat(rule.interval()).isEqualTo(Duration.ofSeconds(30));
        assertThat(rule.noData()).isEqualTo(AlertRule.NoData.KEEP);
        assertThat(api("""
                {"name": "Down", "expr": "up == 0"}""").noData())
                .as("without a threshold an empty answer is the healthy state").isEqualTo(AlertRule.NoData.RESOLVE);
        assertThat(rule.labels()).containsEntry("severity", "page");
        assertThat(rule.promql()).isEqualTo("(avg by (host) (cpu)) > 0.9");
    }

    @Test
    void theSizesOfARuleAreSettingsAndEachRefusalNamesItsSetting() {
        RuleValidator small = new RuleValidator(ConfigLoader.load(null, Map.of(), Map.ofEntries(
                Map.entry("alerting.max-rule-name-length", "5"), Map.entry("alerting.max-expr-bytes", "256"),
                Map.entry("alerting.max-labels-per-rule", "2"), Map.entry("alerting.max-annotations-per-rule", "1"),
                Map.entry("alerting.max-label-value-length", "4"),
                Map.entry("alerting.max-annotation-bytes", "256"))).alerting());
        String atLimits = "{\"group\": \"ggggg\", \"name\": \"nnnnn\", \"expr\": \"up" + " ".repeat(254) + "\", "
                + "\"labels\": {\"a\": \"1234\", \"b\": \"x\"}, \"annotations\": {\"s\": \"" + "é".repeat(128) + "\"}}";
        AlertRule ok = small.apiRule(json(atLimits), "t", Tier.PAID);
        assertThat(ok.name()).isEqualTo("nnnnn");
        assertThat(ok.annotations().get("s")).hasSize(128);

        assertThat(problems(small, "{\"group\": \"gggggg\", \"name\": \"nnnnnn\", \"expr\": \"up\"}")).containsExactly(
                "group: longer than 5 characters (alerting.max-rule-name-length)",
                "name: longer than 5 characters (alerting.max-rule-name-length)");
        assertThat(problems(small, "{\"name\": \"n\", \"expr\": \"up" + " ".repeat(255) + "\"}")).containsExactly(
                "expr: longer than 256 bytes (UTF-8) (alerting.max-expr-bytes)");
        assertThat(problems(small, "{\"name\": \"n\", \"expr\": \"up\", \"labels\": {\"a\": \"1\", \"b\": \"2\", "
                + "\"c\": \"3\"}}")).containsExactly("labels: 3 entries, more than 2 (alerting.max-labels-per-rule)");
        assertThat(problems(small, "{\"name\": \"n\", \"expr\": \"up\", \"labels\": {\"a\": \"12345\"}}"))
                .containsExactly("labels.a: value longer than 4 characters (alerting.max-label-value-length)");
        assertThat(problems(small, "{\"name\": \"n\", \"expr\": \"up\", \"annotations\": {\"a\": \"1\", "
                + "\"b\": \"2\"}}")).containsExactly(
                "annotations: 2 entries, more than 1 (alerting.max-annotations-per-rule)");
        // 129 characters, 258 bytes: the limit is in bytes
        assertThat(problems(small, "{\"name\": \"n\", \"expr\": \"up\", \"annotations\": {\"s\": \""
                + "é".repeat(129) + "\"}}")).containsExactly(
                "annotations.s: longer than 256 bytes (UTF-8) (alerting.max-annotation-bytes)");
        // the same limits hold in rule files, with the rule's path
        assertThatThrownBy(() -> small.ruleFile(yaml("""
                groups:
                  - name: gggggg
                    rules:
                      - alert: a
                        expr: up
                        labels: {a: "12345"}
                """), "t", Tier.PAID)).isInstanceOfSatisfying(InvalidRuleException.class, e ->
                assertThat(e.problems()).containsExactly(
                        "groups[0].name: longer than 5 characters (alerting.max-rule-name-length)",
                        "groups[0].rules[0].labels.a: value longer than 4 characters "
                                + "(alerting.max-label-value-length)"));
    }

    private static List<String> problems(RuleValidator validator, String body) {
        try {
            validator.apiRule(json(body), "t", Tier.PAID);
        } catch (InvalidRuleException e) {
            return e.problems();
        }
        throw new AssertionError("accepted: " + body);
    }

    @Test
    void theDefaultIntervalIsRaisedToTheTierMinimum() {
        assertThat(validator.apiRule(json("{\"name\": \"a\", \"expr\": \"up\"}"), "t", Tier.FREE).interval())
                .isEqualTo(CONFIG.minInterval(Tier.FREE));
    }

    @Test
    void theQueryForm() {
        AlertRule rule = api("""
                {"name": "q", "query": {"metric": "cpu", "matchers": [{"label": "host", "op": "=~", "value": "web-.*"}],
                 "aggregation": "avg", "group_by": ["host"], "window": "5m"}, "op": ">=", "threshold": 1e9}""");
        assertThat(rule.query()).isEqualTo(new RuleQuery("cpu", List.of(new Matcher("host", Matcher.Op.REGEX,
                "web-.*")), Aggregation.AVG, List.of("host"), Duration.ofMinutes(5)));
        AlertRule map = api("""
                {"name": "q", "query": {"metric": "cpu", "matchers": {"host": "a"}, "aggregation": "max",
                 "window": "1m"}}""");
        assertThat(map.query().matchers()).containsExactly(new Matcher("host", Matcher.Op.EQ, "a"));
    }

    /** What AlertRule.promql() writes (ms durations, Java's number forms) is what the PromQL parser reads. */
    @ParameterizedTest
    @EnumSource(Aggregation.class)
    void thePromqlOfEveryQueryFormParses(Aggregation aggregation) {
        for (double threshold : new double[] {1e9, 1.0E-5, -2.5, 0, 123456789012.0, Double.MAX_VALUE}) {
            AlertRule rule = new AlertRule(0, "t", "g", "n", null, new RuleQuery("cpu", List.of(
                    new Matcher("host", Matcher.Op.NEQ, "a\"b\\c\nd"), new Matcher("dc", Matcher.Op.NOT_REGEX, "x|y")),
                    aggregation, List.of("host", "dc"), Duration.ofMillis(300_001)), new Threshold("<=", threshold),
                    Duration.ZERO, Duration.ZERO, Duration.ofSeconds(30), AlertRule.NoData.KEEP, new java.util.TreeMap<>(), new java.util.TreeMap<>(), 0);
            assertThat(PromqlExpressions.check(rule.promql())).as(rule.promql()).isEqualTo("instant vector");
        }
        AlertRule noGroups = new AlertRule(0, "t", "g", "n", null, new RuleQuery("cpu", List.of(), aggregation,
                List.of(), Duration.ofSeconds(1)), null, Duration.ZERO, Duration.ZERO, Duration.ofSeconds(30),
                AlertRule.NoData.KEEP, new java.util.TreeMap<>(), new java.util.TreeMap<>(), 0);
        assertThat(PromqlExpressions.check(noGroups.promql())).as(noGroups.promql()).isEqualTo("instant vector");
    }

    @Test
    void eachBadRuleNamesItsProblem() {
        assertThat(problems("{\"name\": \"a\", \"expr\": \"nope(up)\"}"))
                .singleElement().asString().startsWith("expr: ").contains("unknown function with name \"nope\"");
        assertThat(problems("{\"name\": \"a\", \"expr\": \"up{host=~\\\"a(b\\\"}\"}"))
                .singleElement().asString().startsWith("expr: ").contains("invalid regular expression \"a(b\"");
        assertThat(problems("{\"name\": \"a\", \"query\": {\"metric\": \"cpu\", \"matchers\": [{\"label\": \"h\", "
                + "\"op\": \"=~\", \"value\": \"a(b\"}], \"aggregation\": \"avg\", \"window\": \"1m\"}}"))
                .singleElement().asString().startsWith("query.matchers[0].value: invalid regex \"a(b\"");
        assertThat(problems("{\"name\": \"a\", \"expr\": \"up\", \"annotations\": {\"s\": \"{{ $value | nope }}\"}}"))
                .containsExactly("annotations.s: invalid template: unknown function \"nope\" at position 13");
        assertThat(problems("{\"name\": \"a\", \"expr\": \"up\", \"interval\": \"5s\"}"))
                .containsExactly("interval: 5s is below the minimum interval of the paid tier, 15s "
                        + "(alerting.paid.min-interval)");
        assertThat(problems("{\"expr\": \"up\"}")).containsExactly("name: missing");
        assertThat(problems("{\"name\": \"a\", \"expr\": \"up\", \"query\": {}}"))
                .containsExactly("expr: give either expr or query, not both");
        assertThat(problems("{\"name\": \"a\", \"expr\": \"rate(x[5m]\"}")).singleElement().asString()
                .startsWith("expr: ");
        assertThat(problems("{\"name\": \"a\", \"expr\": \"x[5m]\"}")).containsExactly("expr: a range vector cannot "
                + "be an alert condition (expected an instant vector or a scalar, e.g. rate(...) or max_over_time(...))");
    }

    @Test
    void everyProblemIsListed() {
        List<String> p = problems("""
                {"name": "", "expr": "up", "op": "~", "threshold": "x", "for": "5 minutes", "keep_firing_for": "-1s",
                 "no_data": "maybe", "labels": {"__x": "a", "alertname": "b", "1a": "c", "ok": 3},
                 "colour": "blue"}""");
        assertThat(p).contains("colour: unknown field (expected: group, name, expr, query, op, threshold, for, "
                        + "keep_firing_for, interval, no_data, labels, annotations)",
                "name: must not be empty", "op: \"~\" (expected one of >, >=, <, <=, ==, !=)",
                "threshold: must be a number",
                "for: \"5 minutes\" is not a duration (expected e.g. 30s, 5m, 1h30m)",
                "keep_firing_for: \"-1s\" is not a duration (expected e.g. 30s, 5m, 1h30m)",
                "no_data: \"maybe\" (expected keep, alert or resolve)",
                "labels.__x: \"__x\": names starting with __ are reserved",
                "labels.alertname: \"alertname\" is set from the rule's name and cannot be a label",
                "labels.1a: \"1a\" is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)",
                "labels.ok: must be a string");
    }

    @Test
    void queryFormProblems() {
        List<String> p = problems("""
                {"name": "a", "query": {"metric": "1cpu", "aggregation": "median", "window": "500ms",
                 "group_by": ["__name__"], "matchers": [{"label": "h", "op": "~~", "value": "x"}], "step": 1}}""");
        assertThat(p).containsExactlyInAnyOrder(
                "query.step: unknown field (expected: metric, matchers, aggregation, group_by, window)",
                "query.metric: \"1cpu\" is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
                "query.matchers[0].op: \"~~\" (expected =, !=, =~ or !~)",
                "query.aggregation: \"median\" (expected avg, min, max, sum or count)",
                "query.group_by[0]: \"__name__\": names starting with __ are reserved",
                "query.window: 500ms is shorter than 1s");
    }

    @Test
    void aRuleFile() {
        RuleValidator.RuleFile file = validator.ruleFile(yaml("""
                groups:
                  - name: node
                    interval: 1m
                    rules:
                      - alert: InstanceDown
                        expr: up == 0
                        for: 5m
                        keep_firing_for: 10m
                        labels:
                          severity: page
                        annotations:
                          summary: "{{ $labels.instance }} down"
                      - alert: HighLoad
                        expr: node_load1 > 10
                  - name: empty
                """), "t", Tier.ENTERPRISE);
        assertThat(file.groups()).containsExactly("node", "empty");
        assertThat(file.rules()).hasSize(2);
        AlertRule down = file.rules().get(0);
        assertThat(down.name()).isEqualTo("InstanceDown");
        assertThat(down.interval()).isEqualTo(Duration.ofMinutes(1));
        assertThat(down.forDuration()).isEqualTo(Duration.ofMinutes(5));
        assertThat(down.keepFiringFor()).isEqualTo(Duration.ofMinutes(10));
        assertThat(down.threshold()).isNull();
        assertThat(down.noData()).as("a Prometheus rule resolves when its answer is empty")
                .isEqualTo(AlertRule.NoData.RESOLVE);
        assertThat(file.rules().get(1).interval()).as("the group's interval").isEqualTo(Duration.ofMinutes(1));
    }

    @Test
    void ruleFileProblemsHaveTheirPaths() {
        assertThatThrownBy(() -> validator.ruleFile(yaml("""
                groups:
                  - name: a
                    interval: 1s
                    rules:
                      - record: job:up:sum
                        expr: sum(up)
                      - alert: X
                        expr: foo(
                        labels: {severity: page}
                        colour: red
                      - alert: X
                        expr: up
                        annotations: {d: "{{ if }}"}
                """), "t", Tier.PAID))
                .isInstanceOfSatisfying(InvalidRuleException.class, e -> assertThat(e.problems()).contains(
                        "groups[0].interval: 1s is below the minimum interval of the paid tier, 15s "
                                + "(alerting.paid.min-interval)",
                        "groups[0].rules[0].record: recording rules are not supported (only alerting rules, with "
                                + "alert:)",
                        "groups[0].rules[1].colour: unknown key (expected: alert, expr, for, keep_firing_for, labels, "
                                + "annotations)",
                        "groups[0].rules[2].alert: the alert \"X\" is given twice in group \"a\" (Sluice names a "
                                + "rule by its group and name)")
                        .anySatisfy(p -> assertThat(p).startsWith("groups[0].rules[1].expr: "))
                        .anySatisfy(p -> assertThat(p).startsWith("groups[0].rules[2].annotations.d: invalid "
                                + "template: \"if\" is not supported")));
    }

    @Test
    void unreadableDocuments() {
        assertThatThrownBy(() -> yaml("groups: [a, b")).isInstanceOfSatisfying(InvalidRuleException.class,
                e -> assertThat(e.code()).isEqualTo("invalid_yaml"));
        assertThatThrownBy(() -> yaml("groups: []\ngroups: []")).isInstanceOfSatisfying(InvalidRuleException.class,
                e -> assertThat(e.getMessage()).contains("the key \"groups\" is given twice"));
        assertThatThrownBy(() -> validator.ruleFile(yaml("rules: []"), "t", Tier.PAID))
                .hasMessageContaining("rules: unknown key (a rule file has only groups)")
                .hasMessageContaining("groups: missing");
        assertThatThrownBy(() -> json("{\"name\": ")).isInstanceOfSatisfying(InvalidRuleException.class,
                e -> assertThat(e.code()).isEqualTo("invalid_json"));
    }

    @Test
    void durationsReadAndWriteAsPrometheusDoes() {
        assertThat(Durations.parse("1h30m")).isEqualTo(Duration.ofMinutes(90));
        assertThat(Durations.parse("0")).isZero();
        assertThat(Durations.parse("1y2w")).isEqualTo(Duration.ofDays(379));
        assertThat(Durations.format(Duration.ofMillis(5_400_250))).isEqualTo("1h30m250ms");
        assertThat(Durations.format(Duration.ZERO)).isEqualTo("0s");
        assertThatThrownBy(() -> Durations.parse("5m1h")).hasMessageContaining("is not a duration");
        assertThatThrownBy(() -> Durations.parse("99999999999999999y")).hasMessageContaining("too long");
    }
}
