package io.sluice.storage.alerting;

import io.sluice.config.AlertingConfig;
import io.sluice.config.Setting;
import io.sluice.config.Settings;
import io.sluice.config.Tier;
import io.sluice.storage.alerting.AlertRule.NoData;
import io.sluice.storage.alerting.AlertRule.RuleQuery;
import io.sluice.storage.alerting.AlertRule.Threshold;
import io.sluice.storage.promql.PromqlException;
import io.sluice.storage.promql.PromqlExpressions;
import io.sluice.storage.query.Aggregation;
import io.sluice.storage.query.Matcher;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Checks alert rules as the rules API takes them (a JSON object) and as Prometheus rule files hold them (YAML), and
 * builds the {@link AlertRule}s. Every problem is reported, not just the first, each as {@code field: problem} with
 * the field's path ({@code query.matchers[1].value}, {@code groups[0].rules[2].expr}).
 *
 * <p>The sizes of a rule's parts are settings ({@code alerting.max-rule-name-length}, {@code alerting.max-expr-bytes},
 * {@code alerting.max-labels-per-rule}, {@code alerting.max-annotations-per-rule},
 * {@code alerting.max-label-value-length}, {@code alerting.max-annotation-bytes}), and a problem with one names its
 * setting; how many rules a tenant may have is {@code alerting.max-rules-per-tenant}, checked by {@link RuleStore}.
 */
public final class RuleValidator {

    /** Shortest window of the query form. */
    public static final Duration MIN_WINDOW = Duration.ofSeconds(1);
    /** The group of a rule created without one. */
    public static final String DEFAULT_GROUP = "default";

    private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
    private static final Pattern METRIC_NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final List<String> API_FIELDS = List.of("group", "name", "expr", "query", "op", "threshold", "for",
            "keep_firing_for", "interval", "no_data", "labels", "annotations");
    /** What the API writes back; a body read from a GET may carry them, and they are ignored. */
    private static final Set<String> OUTPUT_FIELDS = Set.of("id", "version", "health", "last_evaluation",
            "last_evaluation_duration_ms", "last_error", "created_at", "updated_at", "promql");
    private static final List<String> QUERY_FIELDS = List.of("metric", "matchers", "aggregation", "group_by",
            "window");

    private final AlertingConfig config;
    private final AlertingConfig.Limits limits;

    public RuleValidator(AlertingConfig config) {
        this.config = config;
        this.limits = config.limits();
    }

    /** The interval of a rule (or group) that names none: the default, raised to the tier's minimum. */
    public Duration defaultInterval(Tier tier) {
        Duration min = config.minInterval(tier);
        return config.defaultInterval().compareTo(min) < 0 ? min : config.defaultInterval();
    }

    /** The rules of one Prometheus rule file: the groups it names (in order) and their rules. */
    public record RuleFile(List<String> groups, List<AlertRule> rules) {
        public RuleFile {
            groups = List.copyOf(groups);
            rules = List.copyOf(rules);
        }
    }

    /** Collects problems with their paths. */
    private static final class Problems {
        final List<String> list = new ArrayList<>();

        void add(String path, String problem) {
            list.add(path + ": " + problem);
        }
    }

    // ------------------------------------------------------------------------------------------ the API's JSON

    /**
     * A rule from the API's JSON object.
     *
     * @throws InvalidRuleException ({@code invalid_rule}) listing every problem
     */
    public AlertRule apiRule(Object document, String tenant, Tier tier) {
        Problems problems = new Problems();
        if (!(document instanceof Map<?, ?> raw)) {
            throw new InvalidRuleException("invalid_rule", List.of("the body must be a JSON object"));
        }
        Map<String, Object> fields = cast(raw);
        for (String key : fields.keySet()) {
            if (!API_FIELDS.contains(key) && !OUTPUT_FIELDS.contains(key)) {
                problems.add(key, "unknown field (expected: " + String.join(", ", API_FIELDS) + ")");
            }
        }
        String group = fields.containsKey("group") ? name(problems, "group", fields.get("group")) : DEFAULT_GROUP;
        String name = name(problems, "name", fields.get("name"));
        Object exprValue = fields.get("expr");
        Object queryValue = fields.get("query");
        String expr = null;
        RuleQuery query = null;
        if (exprValue != null && queryValue != null) {
            problems.add("expr", "give either expr or query, not both");
        } else if (exprValue == null && queryValue == null) {
            problems.add("expr", "missing (give expr, a PromQL expression, or query, Sluice's query form)");
        } else if (exprValue != null) {
            expr = expr(problems, "expr", exprValue);
        } else {
            query = query(problems, "query", queryValue);
        }
        Threshold threshold = threshold(problems, fields.get("op"), fields.get("threshold"));
        Duration forDuration = duration(problems, "for", fields.get("for"), Duration.ZERO);
        Duration keepFiringFor = duration(problems, "keep_firing_for", fields.get("keep_firing_for"), Duration.ZERO);
        Duration interval = interval(problems, "interval", fields.get("interval"), tier);
        NoData noData = noData(problems, fields.get("no_data"), threshold != null);
        TreeMap<String, String> labels = labels(problems, "labels", fields.get("labels"));
        TreeMap<String, String> annotations = annotations(problems, "annotations", fields.get("annotations"));
        return build(problems, "", tenant, group, name, expr, query, threshold, forDuration, keepFiringFor, interval,
                noData, labels, annotations);
    }

    // ------------------------------------------------------------------------------------------ rule files

    /**
     * The rules of a Prometheus rule file ({@code groups: [{name, interval, rules: [{alert, expr, for,
     * keep_firing_for, labels, annotations}]}]}). Recording rules and unknown keys are refused.
     *
     * @throws InvalidRuleException ({@code invalid_rule}) listing every problem with its path
     */
    public RuleFile ruleFile(Object document, String tenant, Tier tier) {
        Problems problems = new Problems();
        if (!(document instanceof Map<?, ?> rawRoot)) {
            throw new InvalidRuleException("invalid_rule", List.of("the file must be a map with the key groups"));
        }
        Map<String, Object> root = cast(rawRoot);
        for (String key : root.keySet()) {
            if (!key.equals("groups")) {
                problems.add(key, "unknown key (a rule file has only groups)");
            }
        }
        List<String> groupNames = new ArrayList<>();
        List<AlertRule> rules = new ArrayList<>();
        Object groupsValue = root.get("groups");
        if (!(groupsValue instanceof List<?> groups)) {
            problems.add("groups", groupsValue == null ? "missing" : "must be a list of groups");
            throw new InvalidRuleException("invalid_rule", problems.list);
        }
        Set<String> seenGroups = new HashSet<>();
        for (int g = 0; g < groups.size(); g++) {
            String gp = "groups[" + g + "]";
            if (!(groups.get(g) instanceof Map<?, ?> rawGroup)) {
                problems.add(gp, "must be a map (name, interval, rules)");
                continue;
            }
            Map<String, Object> group = cast(rawGroup);
            for (String key : group.keySet()) {
                switch (key) {
                    case "name", "interval", "rules" -> {
                    }
                    case "limit", "query_offset", "labels" -> problems.add(gp + "." + key, "not supported by Sluice");
                    default -> problems.add(gp + "." + key, "unknown key (expected: name, interval, rules)");
                }
            }
            String groupName = name(problems, gp + ".name", group.get("name"));
            if (groupName != null && !seenGroups.add(groupName)) {
                problems.add(gp + ".name", "the group \"" + groupName + "\" is given twice");
            }
            groupNames.add(groupName);
            Duration interval = interval(problems, gp + ".interval", group.get("interval"), tier);
            Object rulesValue = group.get("rules");
            if (rulesValue == null) {
                continue; // an empty group: importing it deletes that group's rules
            }
            if (!(rulesValue instanceof List<?> ruleList)) {
                problems.add(gp + ".rules", "must be a list of rules");
                continue;
            }
            Set<String> seenNames = new HashSet<>();
            for (int r = 0; r < ruleList.size(); r++) {
                String rp = gp + ".rules[" + r + "]";
                if (!(ruleList.get(r) instanceof Map<?, ?> rawRule)) {
                    problems.add(rp, "must be a map (alert, expr, for, keep_firing_for, labels, annotations)");
                    continue;
                }
                Map<String, Object> rule = cast(rawRule);
                boolean recording = rule.containsKey("record");
                for (String key : rule.keySet()) {
                    switch (key) {
                        case "alert", "expr", "for", "keep_firing_for", "labels", "annotations" -> {
                        }
                        case "record" -> problems.add(rp + ".record", "recording rules are not supported (only "
                                + "alerting rules, with alert:)");
                        default -> problems.add(rp + "." + key, "unknown key (expected: alert, expr, for, "
                                + "keep_firing_for, labels, annotations)");
                    }
                }
                if (recording) {
                    continue;
                }
                String alert = name(problems, rp + ".alert", rule.get("alert"));
                if (alert != null && !seenNames.add(alert)) {
                    problems.add(rp + ".alert", "the alert \"" + alert + "\" is given twice in group \""
                            + groupName + "\" (Sluice names a rule by its group and name)");
                }
                String expr = rule.get("expr") == null ? missing(problems, rp + ".expr")
                        : expr(problems, rp + ".expr", rule.get("expr"));
                Duration forDuration = duration(problems, rp + ".for", rule.get("for"), Duration.ZERO);
                Duration keep = duration(problems, rp + ".keep_firing_for", rule.get("keep_firing_for"),
                        Duration.ZERO);
                TreeMap<String, String> labels = labels(problems, rp + ".labels", rule.get("labels"));
                TreeMap<String, String> annotations = annotations(problems, rp + ".annotations",
                        rule.get("annotations"));
                AlertRule built = build(problems, rp + ".", tenant, groupName, alert, expr, null, null,
                        forDuration, keep, interval, NoData.RESOLVE, labels, annotations, false);
                if (built != null) {
                    rules.add(built);
                }
            }
        }
        if (!problems.list.isEmpty()) {
            throw new InvalidRuleException("invalid_rule", problems.list);
        }
        return new RuleFile(groupNames, rules);
    }

    // ------------------------------------------------------------------------------------------ fields

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Map<?, ?> map) {
        return (Map<String, Object>) map;
    }

    /** The length of {@code s} in UTF-8 bytes, counted without encoding it (a lone surrogate counts 3 bytes). */
    static long utf8Length(String s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    private static String missing(Problems problems, String path) {
        problems.add(path, "missing");
        return null;
    }

    private static String text(Problems problems, String path, Object value) {
        if (value instanceof String s) {
            return s;
        }
        problems.add(path, "must be a string");
        return null;
    }

    private String name(Problems problems, String path, Object value) {
        if (value == null) {
            return missing(problems, path);
        }
        String s = text(problems, path, value);
        if (s == null) {
            return null;
        }
        if (s.isBlank()) {
            problems.add(path, "must not be empty");
            return null;
        }
        if (s.length() > limits.maxRuleNameLength()) {
            problems.add(path, "longer than " + limits.maxRuleNameLength() + " characters ("
                    + Settings.ALERTING_MAX_RULE_NAME_LENGTH.name() + ")");
            return null;
        }
        if (s.chars().anyMatch(Character::isISOControl)) {
            problems.add(path, "must not contain control characters");
            return null;
        }
        return s;
    }

    private String expr(Problems problems, String path, Object value) {
        String expr = text(problems, path, value);
        if (expr == null) {
            return null;
        }
        if (expr.isBlank()) {
            problems.add(path, "must not be empty");
            return null;
        }
        if (utf8Length(expr) > limits.maxExprBytes()) {
            problems.add(path, "longer than " + limits.maxExprBytes() + " bytes (UTF-8) ("
                    + Settings.ALERTING_MAX_EXPR_BYTES.name() + ")");
            return null;
        }
        try {
            String type = PromqlExpressions.check(expr);
            if (!type.equals("instant vector") && !type.equals("scalar")) {
                problems.add(path, "a " + type + " cannot be an alert condition (expected an instant vector or a "
                        + "scalar" + (type.equals("range vector") ? ", e.g. rate(...) or max_over_time(...)" : "")
                        + ")");
                return null;
            }
        } catch (PromqlException e) {
            problems.add(path, e.getMessage());
            return null;
        }
        return expr;
    }

    private static RuleQuery query(Problems problems, String path, Object value) {
        if (!(value instanceof Map<?, ?> raw)) {
            problems.add(path, "must be an object (metric, matchers, aggregation, group_by, window)");
            return null;
        }
        Map<String, Object> q = cast(raw);
        int before = problems.list.size();
        for (String key : q.keySet()) {
            if (!QUERY_FIELDS.contains(key)) {
                problems.add(path + "." + key, "unknown field (expected: " + String.join(", ", QUERY_FIELDS) + ")");
            }
        }
        String metric = null;
        Object metricValue = q.get("metric");
        if (metricValue == null) {
            missing(problems, path + ".metric");
        } else {
            metric = text(problems, path + ".metric", metricValue);
            if (metric != null && !METRIC_NAME.matcher(metric).matches()) {
                problems.add(path + ".metric", "\"" + metric + "\" is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
            }
        }
        List<Matcher> matchers = matchers(problems, path + ".matchers", q.get("matchers"));
        Aggregation aggregation = null;
        Object aggValue = q.get("aggregation");
        if (aggValue == null) {
            missing(problems, path + ".aggregation");
        } else {
            String agg = text(problems, path + ".aggregation", aggValue);
            if (agg != null) {
                try {
                    aggregation = Aggregation.valueOf(agg.toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    problems.add(path + ".aggregation", "\"" + agg + "\" (expected avg, min, max, sum or count)");
                }
            }
        }
        List<String> groupBy = new ArrayList<>();
        Object byValue = q.get("group_by");
        if (byValue instanceof List<?> list) {
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < list.size(); i++) {
                String label = text(problems, path + ".group_by[" + i + "]", list.get(i));
                if (label != null && labelName(problems, path + ".group_by[" + i + "]", label, false)) {
                    if (seen.add(label)) {
                        groupBy.add(label);
                    }
                }
            }
        } else if (byValue != null) {
            problems.add(path + ".group_by", "must be a list of label names");
        }
        Duration window = null;
        Object windowValue = q.get("window");
        if (windowValue == null) {
            missing(problems, path + ".window");
        } else {
            window = duration(problems, path + ".window", windowValue, null);
            if (window != null && window.compareTo(MIN_WINDOW) < 0) {
                problems.add(path + ".window", Durations.format(window) + " is shorter than "
                        + Durations.format(MIN_WINDOW));
            }
        }
        if (problems.list.size() != before) {
            return null;
        }
        return new RuleQuery(metric, matchers, aggregation, groupBy, window);
    }

    private static List<Matcher> matchers(Problems problems, String path, Object value) {
        List<Matcher> out = new ArrayList<>();
        if (value == null) {
            return out;
        }
        if (value instanceof Map<?, ?> raw) { // {"host": "a"}: equality matchers
            for (Map.Entry<String, Object> e : cast(raw).entrySet()) {
                String p = path + "." + e.getKey();
                String v = text(problems, p, e.getValue());
                if (labelName(problems, p, e.getKey(), false) && v != null) {
                    out.add(new Matcher(e.getKey(), Matcher.Op.EQ, v));
                }
            }
            return out;
        }
        if (!(value instanceof List<?> list)) {
            problems.add(path, "must be a list of {label, op, value} or a map of label to value");
            return out;
        }
        for (int i = 0; i < list.size(); i++) {
            String p = path + "[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> raw)) {
                problems.add(p, "must be an object {label, op, value}");
                continue;
            }
            Map<String, Object> m = cast(raw);
            for (String key : m.keySet()) {
                if (!List.of("label", "op", "value").contains(key)) {
                    problems.add(p + "." + key, "unknown field (expected: label, op, value)");
                }
            }
            String label = m.get("label") == null ? missing(problems, p + ".label")
                    : text(problems, p + ".label", m.get("label"));
            String opText = m.get("op") == null ? "=" : text(problems, p + ".op", m.get("op"));
            String v = m.get("value") == null ? missing(problems, p + ".value")
                    : text(problems, p + ".value", m.get("value"));
            Matcher.Op op = null;
            if (opText != null) {
                for (Matcher.Op candidate : Matcher.Op.values()) {
                    if (candidate.symbol().equals(opText)) {
                        op = candidate;
                    }
                }
                if (op == null) {
                    problems.add(p + ".op", "\"" + opText + "\" (expected =, !=, =~ or !~)");
                }
            }
            boolean nameOk = label != null && labelName(problems, p + ".label", label, false);
            if (op != null && v != null && (op == Matcher.Op.REGEX || op == Matcher.Op.NOT_REGEX)) {
                try {
                    Pattern.compile("(?s:" + v + ")");
                } catch (PatternSyntaxException e) {
                    problems.add(p + ".value", "invalid regex \"" + v + "\": " + e.getDescription());
                    continue;
                }
            }
            if (nameOk && op != null && v != null) {
                out.add(new Matcher(label, op, v));
            }
        }
        return out;
    }

    private static Threshold threshold(Problems problems, Object opValue, Object thresholdValue) {
        if (opValue == null && thresholdValue == null) {
            return null;
        }
        if (opValue == null) {
            problems.add("op", "missing (a threshold needs a comparison: " + String.join(", ", Threshold.OPS) + ")");
            return null;
        }
        if (thresholdValue == null) {
            problems.add("threshold", "missing (op " + opValue + " needs a number to compare with)");
            return null;
        }
        String op = text(problems, "op", opValue);
        if (op != null && !Threshold.OPS.contains(op)) {
            problems.add("op", "\"" + op + "\" (expected one of " + String.join(", ", Threshold.OPS) + ")");
            op = null;
        }
        if (!(thresholdValue instanceof Double value)) {
            problems.add("threshold", "must be a number");
            return null;
        }
        if (value.isNaN() || value.isInfinite()) {
            problems.add("threshold", "must be a finite number");
            return null;
        }
        return op == null ? null : new Threshold(op, value);
    }

    private static Duration duration(Problems problems, String path, Object value, Duration absent) {
        if (value == null) {
            return absent;
        }
        String text = text(problems, path, value);
        if (text == null) {
            return null;
        }
        try {
            return Durations.parse(text);
        } catch (IllegalArgumentException e) {
            problems.add(path, e.getMessage());
            return null;
        }
    }

    private Duration interval(Problems problems, String path, Object value, Tier tier) {
        if (value == null) {
            return defaultInterval(tier);
        }
        Duration interval = duration(problems, path, value, null);
        if (interval == null) {
            return null;
        }
        Duration min = config.minInterval(tier);
        if (interval.compareTo(min) < 0) {
            problems.add(path, Durations.format(interval) + " is below the minimum interval of the "
                    + tier.name().toLowerCase(Locale.ROOT) + " tier, " + Durations.format(min) + " (alerting."
                    + tier.name().toLowerCase(Locale.ROOT) + ".min-interval)");
            return null;
        }
        return interval;
    }

    /**
     * A rule's no-data option; by default {@code keep} for a rule with a threshold (an empty answer is missing data,
     * a value below the threshold is the condition not holding) and {@code resolve} without one (its empty answer
     * is the healthy state, as in Prometheus: {@code up == 0} must resolve when the instance is back).
     */
    private static NoData noData(Problems problems, Object value, boolean hasThreshold) {
        if (value == null) {
            return hasThreshold ? NoData.KEEP : NoData.RESOLVE;
        }
        String text = text(problems, "no_data", value);
        if (text == null) {
            return null;
        }
        return switch (text) {
            case "keep" -> NoData.KEEP;
            case "alert" -> NoData.ALERT;
            case "resolve" -> NoData.RESOLVE;
            default -> {
                problems.add("no_data", "\"" + text + "\" (expected keep, alert or resolve)");
                yield null;
            }
        };
    }

    private static boolean labelName(Problems problems, String path, String name, boolean forAlertLabels) {
        if (!LABEL_NAME.matcher(name).matches()) {
            problems.add(path, "\"" + name + "\" is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)");
            return false;
        }
        if (name.startsWith("__")) {
            problems.add(path, "\"" + name + "\": names starting with __ are reserved");
            return false;
        }
        if (forAlertLabels && name.equals(AlertRule.ALERTNAME)) {
            problems.add(path, "\"alertname\" is set from the rule's name and cannot be a label");
            return false;
        }
        return true;
    }

    private static Map<String, Object> entries(Problems problems, String path, Object value, int max,
                                               Setting<Integer> setting) {
        if (value == null) {
            return Map.of();
        }
        if (!(value instanceof Map<?, ?> raw)) {
            problems.add(path, "must be a map of name to string");
            return null;
        }
        Map<String, Object> map = cast(raw);
        if (map.size() > max) {
            problems.add(path, map.size() + " entries, more than " + max + " (" + setting.name() + ")");
            return null;
        }
        return map;
    }

    private TreeMap<String, String> labels(Problems problems, String path, Object value) {
        Map<String, Object> map = entries(problems, path, value, limits.maxLabelsPerRule(),
                Settings.ALERTING_MAX_LABELS_PER_RULE);
        if (map == null) {
            return null;
        }
        TreeMap<String, String> out = new TreeMap<>();
        for (Map.Entry<String, Object> e : map.entrySet()) {
            String p = path + "." + e.getKey();
            boolean ok = labelName(problems, p, e.getKey(), true);
            String v = text(problems, p, e.getValue());
            if (v != null && v.length() > limits.maxLabelValueLength()) {
                problems.add(p, "value longer than " + limits.maxLabelValueLength() + " characters ("
                        + Settings.ALERTING_MAX_LABEL_VALUE_LENGTH.name() + ")");
                v = null;
            }
            if (ok && v != null) {
                out.put(e.getKey(), v);
            }
        }
        return out;
    }

    private TreeMap<String, String> annotations(Problems problems, String path, Object value) {
        Map<String, Object> map = entries(problems, path, value, limits.maxAnnotationsPerRule(),
                Settings.ALERTING_MAX_ANNOTATIONS_PER_RULE);
        if (map == null) {
            return null;
        }
        TreeMap<String, String> out = new TreeMap<>();
        for (Map.Entry<String, Object> e : map.entrySet()) {
            String p = path + "." + e.getKey();
            boolean ok = labelName(problems, p, e.getKey(), false);
            String v = text(problems, p, e.getValue());
            if (v != null && utf8Length(v) > limits.maxAnnotationBytes()) {
                problems.add(p, "longer than " + limits.maxAnnotationBytes() + " bytes (UTF-8) ("
                        + Settings.ALERTING_MAX_ANNOTATION_BYTES.name() + ")");
                v = null;
            }
            if (v != null) {
                try {
                    AlertTemplate.parse(v);
                } catch (AlertTemplate.InvalidTemplateException t) {
                    problems.add(p, "invalid template: " + t.getMessage());
                    v = null;
                }
            }
            if (ok && v != null) {
                out.put(e.getKey(), v);
            }
        }
        return out;
    }

    private AlertRule build(Problems problems, String prefix, String tenant, String group, String name, String expr,
                            RuleQuery query, Threshold threshold, Duration forDuration, Duration keepFiringFor,
                            Duration interval, NoData noData, TreeMap<String, String> labels,
                            TreeMap<String, String> annotations) {
        AlertRule rule = build(problems, prefix, tenant, group, name, expr, query, threshold, forDuration,
                keepFiringFor, interval, noData, labels, annotations, true);
        return rule;
    }

    /** The rule when nothing was wrong; {@code raise}: throw the problems (else leave them to the caller). */
    private AlertRule build(Problems problems, String prefix, String tenant, String group, String name, String expr,
                            RuleQuery query, Threshold threshold, Duration forDuration, Duration keepFiringFor,
                            Duration interval, NoData noData, TreeMap<String, String> labels,
                            TreeMap<String, String> annotations, boolean raise) {
        AlertRule rule = null;
        if (group != null && name != null && (expr != null || query != null) && forDuration != null
                && keepFiringFor != null && interval != null && noData != null && labels != null
                && annotations != null) {
            rule = new AlertRule(0, tenant, group, name, expr, query, threshold, forDuration, keepFiringFor,
                    interval, noData, labels, annotations, 0);
            try {
                PromqlExpressions.check(rule.promql()); // the expression the evaluator will run
            } catch (PromqlException e) {
                problems.add(prefix + (query != null ? "query" : "expr"), "does not make a valid expression with "
                        + "its threshold: " + e.getMessage());
                rule = null;
            }
        }
        if (raise && !problems.list.isEmpty()) {
            throw new InvalidRuleException("invalid_rule", problems.list);
        }
        return rule;
    }
}
