package io.sluice.storage.alerting;

import io.sluice.storage.promql.PromqlResult;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One evaluation of one rule applied to the rule's alerts: pure, no I/O, times given. An alert is one label set of
 * one rule and moves {@code inactive → pending → firing → resolved} with Prometheus' rule semantics:
 * <ul>
 *   <li>an alert's labels are the answer element's labels without {@code __name__}, plus the rule's labels
 *   (overriding), plus {@code alertname} = the rule's name; two elements with the same resulting label set fail the
 *   evaluation ({@link AlertEvaluationException}), changing nothing;</li>
 *   <li>an element with no alert (or with a resolved one) starts a pending alert ({@code active_at} = t), or a
 *   firing one at once when the rule's {@code for} is 0;</li>
 *   <li>a pending alert whose condition held for {@code for} (t − active_at ≥ for) fires ({@code fired_at} = t);</li>
 *   <li>an alert whose element is absent: a pending one ends (pending → inactive, its row goes), a firing one
 *   resolves ({@code resolved_at} = t) unless {@code keep_firing_for} is set and t − last_seen_at &lt; it;</li>
 *   <li>a resolved alert stays (for its resolve notification) until {@code resolvedRetention} after it resolved,
 *   then goes without a transition (inactive is the absence of a row);</li>
 *   <li>no data (the answer has no element, see {@link #evaluate}): {@link AlertRule.NoData#KEEP} holds every alert
 *   as it is, but time still passes: a pending alert whose {@code for} elapses fires (value and last_seen_at
 *   unchanged), firing alerts keep firing, old resolved alerts go; {@link AlertRule.NoData#ALERT} treats the
 *   answer as one element with no labels and value NaN, labelled {@code sluice_no_data="true"} (so it is a distinct
 *   alert, and the rule's other alerts are absent); {@link AlertRule.NoData#RESOLVE} treats every alert as absent
 *   ({@code keep_firing_for} still applies).</li>
 * </ul>
 * Annotations are rendered for every held alert with its labels and value ({@link AnnotationRenderer}); an alert
 * that is not held keeps the annotations it had.
 */
public final class AlertStateMachine {

    /** The label of the one alert a rule with {@code no_data = alert} raises when its answer is empty. */
    public static final String NO_DATA_LABEL = "sluice_no_data";

    static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    private AlertStateMachine() {
    }

    /** An alert's state; {@link #INACTIVE} is never stored (no row), only named in transitions. */
    public enum State {
        INACTIVE, PENDING, FIRING, RESOLVED;

        /** As {@code alert_instances.state} and {@code alert_history} spell it. */
        public String sql() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        public static State parse(String sql) {
            return valueOf(sql.toUpperCase(java.util.Locale.ROOT));
        }
    }

    /** One element of an evaluation's answer: its labels (as the query returned them) and value. */
    public record Element(SortedMap<String, String> labels, double value) {
        public Element {
            labels = Collections.unmodifiableSortedMap(new TreeMap<>(labels));
        }
    }

    /** One alert of a rule, as {@code alert_instances} holds it. {@code firedAt}, {@code resolvedAt} may be null. */
    public record Alert(long fingerprint, SortedMap<String, String> labels, SortedMap<String, String> annotations,
                        State state, double value, Instant activeAt, Instant firedAt, Instant resolvedAt,
                        Instant lastSeenAt) {
        public Alert {
            labels = Collections.unmodifiableSortedMap(new TreeMap<>(labels));
            annotations = Collections.unmodifiableSortedMap(new TreeMap<>(annotations));
            Objects.requireNonNull(state);
            if (state == State.INACTIVE) {
                throw new IllegalArgumentException("an inactive alert is not stored");
            }
            Objects.requireNonNull(activeAt);
            Objects.requireNonNull(lastSeenAt);
        }
    }

    /** A state change of one alert, with the value that caused it and the evaluation time. */
    public record Transition(long fingerprint, SortedMap<String, String> labels, State from, State to, double value,
                             Instant at) {
    }

    /**
     * The rule's alerts after an evaluation: every alert that remains (changed or not), the fingerprints of rows to
     * delete, and the transitions in order.
     */
    public record Outcome(Map<Long, Alert> alerts, List<Long> deleted, List<Transition> transitions) {
        public Outcome {
            alerts = Collections.unmodifiableMap(new LinkedHashMap<>(alerts));
            deleted = List.copyOf(deleted);
            transitions = List.copyOf(transitions);
        }
    }

    /** Renders a rule's annotation templates for one alert. */
    @FunctionalInterface
    public interface AnnotationRenderer {
        SortedMap<String, String> render(AlertRule rule, SortedMap<String, String> labels, double value);
    }

    /**
     * An answer as elements: a Vector's samples, or a Scalar as one element without labels. A string or a range
     * vector cannot be alerted on: {@link AlertEvaluationException}.
     */
    public static List<Element> elements(PromqlResult answer) {
        if (answer instanceof PromqlResult.Vector v) {
            List<Element> out = new ArrayList<>(v.samples().size());
            for (PromqlResult.Sample s : v.samples()) {
                out.add(new Element(s.labels(), s.value()));
            }
            return out;
        }
        if (answer instanceof PromqlResult.Scalar s) {
            return List.of(new Element(new TreeMap<>(), s.value()));
        }
        throw new AlertEvaluationException("rule expression must evaluate to an instant vector or a scalar, not a "
                + answer.resultType());
    }

    /**
     * Applies one evaluation at {@code t}.
     *
     * @param current the rule's alerts before, by fingerprint
     * @param data    the answer of the rule's data expression (its expression without the threshold comparison, see
     *                {@link #dataExpression}); the condition holds for the elements the threshold keeps
     *                ({@link #compare}). No element at all is no data (see the class comment); elements none of
     *                which passes the threshold are not: the condition simply does not hold
     * @throws AlertEvaluationException when two elements have the same alert labels
     */
    public static Outcome evaluate(AlertRule rule, Map<Long, Alert> current, List<Element> data, Instant t,
                                   Duration resolvedRetention, AnnotationRenderer renderer) {
        List<Element> answer = compare(rule.threshold(), data);
        if (data.isEmpty()) {
            switch (rule.noData()) {
                case KEEP:
                    return keep(rule, current, t, resolvedRetention);
                case ALERT:
                    SortedMap<String, String> noData = new TreeMap<>();
                    noData.put(NO_DATA_LABEL, "true");
                    answer = List.of(new Element(noData, Double.NaN));
                    break;
                case RESOLVE:
                default:
                    break;
            }
        }
        Map<Long, Element> held = new LinkedHashMap<>();
        Map<Long, SortedMap<String, String>> heldLabels = new LinkedHashMap<>();
        for (Element e : answer) {
            SortedMap<String, String> labels = alertLabels(rule, e.labels());
            long fp = fingerprint(rule.id(), labels);
            if (heldLabels.containsKey(fp)) {
                throw new AlertEvaluationException(
                        "vector contains metrics with the same labelset after applying alert labels: " + labels);
            }
            held.put(fp, e);
            heldLabels.put(fp, labels);
        }
        Map<Long, Alert> next = new LinkedHashMap<>();
        List<Long> deleted = new ArrayList<>();
        List<Transition> transitions = new ArrayList<>();
        for (Map.Entry<Long, Element> h : held.entrySet()) {
            long fp = h.getKey();
            double value = h.getValue().value();
            SortedMap<String, String> labels = heldLabels.get(fp);
            SortedMap<String, String> annotations = renderer.render(rule, labels, value);
            Alert was = current.get(fp);
            if (was == null || was.state() == State.RESOLVED) {
                State from = was == null ? State.INACTIVE : State.RESOLVED;
                if (rule.forDuration().isZero()) {
                    next.put(fp, new Alert(fp, labels, annotations, State.FIRING, value, t, t, null, t));
                    transitions.add(new Transition(fp, labels, from, State.FIRING, value, t));
                } else {
                    next.put(fp, new Alert(fp, labels, annotations, State.PENDING, value, t, null, null, t));
                    transitions.add(new Transition(fp, labels, from, State.PENDING, value, t));
                }
            } else if (was.state() == State.PENDING && held(was.activeAt(), t, rule.forDuration())) {
                next.put(fp, new Alert(fp, labels, annotations, State.FIRING, value, was.activeAt(), t, null, t));
                transitions.add(new Transition(fp, labels, State.PENDING, State.FIRING, value, t));
            } else {
                next.put(fp, new Alert(fp, labels, annotations, was.state(), value, was.activeAt(), was.firedAt(),
                        null, t));
            }
        }
        for (Alert was : current.values()) {
            if (held.containsKey(was.fingerprint())) {
                continue;
            }
            switch (was.state()) {
                case PENDING -> {
                    deleted.add(was.fingerprint());
                    transitions.add(new Transition(was.fingerprint(), was.labels(), State.PENDING, State.INACTIVE,
                            was.value(), t));
                }
                case FIRING -> {
                    boolean kept = !rule.keepFiringFor().isZero()
                            && Duration.between(was.lastSeenAt(), t).compareTo(rule.keepFiringFor()) < 0;
                    if (kept) {
                        next.put(was.fingerprint(), was);
                    } else {
                        next.put(was.fingerprint(), new Alert(was.fingerprint(), was.labels(), was.annotations(),
                                State.RESOLVED, was.value(), was.activeAt(), was.firedAt(), t, was.lastSeenAt()));
                        transitions.add(new Transition(was.fingerprint(), was.labels(), State.FIRING,
                                State.RESOLVED, was.value(), t));
                    }
                }
                default -> retain(was, t, resolvedRetention, next, deleted);
            }
        }
        return new Outcome(next, deleted, transitions);
    }

    /**
     * What the evaluator queries for a rule: its expression ({@code expr}, or the PromQL of its query form) without
     * the threshold, which {@link #compare} applies; so that "no data" (nothing to compare) is told apart from "the
     * comparison holds for nothing". A rule without a threshold cannot tell them apart: its empty answer is no data.
     */
    public static String dataExpression(AlertRule rule) {
        return rule.expr() != null ? rule.expr() : rule.query().promql();
    }

    /**
     * The elements of a rule's data for which its threshold comparison holds (all of them when it has none), each
     * keeping its own value, as PromQL's filtering comparison does ({@code NaN} compares false except with
     * {@code !=}).
     */
    public static List<Element> compare(AlertRule.Threshold threshold, List<Element> data) {
        if (threshold == null) {
            return data;
        }
        List<Element> out = new ArrayList<>(data.size());
        for (Element e : data) {
            double v = e.value();
            double c = threshold.value();
            boolean holds = switch (threshold.op()) {
                case ">" -> v > c;
                case ">=" -> v >= c;
                case "<" -> v < c;
                case "<=" -> v <= c;
                case "==" -> v == c;
                default -> v != c;
            };
            if (holds) {
                out.add(e);
            }
        }
        return out;
    }

    /** No data, {@code keep}: nothing is held or absent; pending timers still run out, old resolved alerts go. */
    private static Outcome keep(AlertRule rule, Map<Long, Alert> current, Instant t, Duration resolvedRetention) {
        Map<Long, Alert> next = new LinkedHashMap<>();
        List<Long> deleted = new ArrayList<>();
        List<Transition> transitions = new ArrayList<>();
        for (Alert was : current.values()) {
            if (was.state() == State.PENDING && held(was.activeAt(), t, rule.forDuration())) {
                next.put(was.fingerprint(), new Alert(was.fingerprint(), was.labels(), was.annotations(),
                        State.FIRING, was.value(), was.activeAt(), t, null, was.lastSeenAt()));
                transitions.add(new Transition(was.fingerprint(), was.labels(), State.PENDING, State.FIRING,
                        was.value(), t));
            } else if (was.state() == State.RESOLVED) {
                retain(was, t, resolvedRetention, next, deleted);
            } else {
                next.put(was.fingerprint(), was);
            }
        }
        return new Outcome(next, deleted, transitions);
    }

    private static void retain(Alert resolved, Instant t, Duration retention, Map<Long, Alert> next,
                               List<Long> deleted) {
        if (Duration.between(resolved.resolvedAt(), t).compareTo(retention) >= 0) {
            deleted.add(resolved.fingerprint());
        } else {
            next.put(resolved.fingerprint(), resolved);
        }
    }

    private static boolean held(Instant activeAt, Instant t, Duration forDuration) {
        return Duration.between(activeAt, t).compareTo(forDuration) >= 0;
    }

    /** An element's alert labels: its own without {@code __name__}, the rule's over them, then {@code alertname}. */
    public static SortedMap<String, String> alertLabels(AlertRule rule, SortedMap<String, String> element) {
        SortedMap<String, String> labels = new TreeMap<>(element);
        labels.remove("__name__");
        labels.putAll(rule.labels());
        labels.put(AlertRule.ALERTNAME, rule.name());
        return labels;
    }

    /**
     * An alert's fingerprint: FNV-1a 64 over the rule id (8 bytes, big-endian) followed by each label, in name order,
     * as its name's UTF-8 bytes, 0xFF, its value's UTF-8 bytes, 0xFF (0xFF never occurs in UTF-8, so the encoding is
     * unambiguous). Stable across processes and versions: it is the key of {@code alert_instances}.
     */
    public static long fingerprint(long ruleId, SortedMap<String, String> labels) {
        long h = FNV_OFFSET;
        for (int shift = 56; shift >= 0; shift -= 8) {
            h = (h ^ ((ruleId >>> shift) & 0xff)) * FNV_PRIME;
        }
        for (Map.Entry<String, String> label : labels.entrySet()) {
            h = mix(h, label.getKey().getBytes(StandardCharsets.UTF_8));
            h = (h ^ 0xff) * FNV_PRIME;
            h = mix(h, label.getValue().getBytes(StandardCharsets.UTF_8));
            h = (h ^ 0xff) * FNV_PRIME;
        }
        return h;
    }

    /** FNV-1a 64 of {@code bytes}, from {@code h} (the offset basis for a fresh hash). */
    static long mix(long h, byte[] bytes) {
        for (byte b : bytes) {
            h = (h ^ (b & 0xff)) * FNV_PRIME;
        }
        return h;
    }
}
