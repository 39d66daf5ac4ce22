package io.sluice.storage.alerting;

import io.sluice.storage.alerting.AlertStateMachine.Alert;
import io.sluice.storage.alerting.AlertStateMachine.Element;
import io.sluice.storage.alerting.AlertStateMachine.Outcome;
import io.sluice.storage.alerting.AlertStateMachine.State;
import io.sluice.storage.alerting.AlertStateMachine.Transition;
import io.sluice.storage.promql.PromqlResult;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The alert state machine with explicit evaluation times. */
class AlertStateMachineTest {

    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
    private static final Duration RETENTION = Duration.ofMinutes(15);
    private static final AlertStateMachine.AnnotationRenderer RENDER =
            (rule, labels, value) -> new TreeMap<>(Map.of("summary", labels.get("host") + "=" + value));

    private static AlertRule rule(Duration forDuration, Duration keepFiringFor, AlertRule.NoData noData,
                                  AlertRule.Threshold threshold) {
        return new AlertRule(7, "acme", "g", "HighCpu", "cpu", null, threshold, forDuration, keepFiringFor,
                Duration.ofSeconds(10), noData, new TreeMap<>(Map.of("severity", "page")), new TreeMap<>(), 1);
    }

    private static AlertRule rule(Duration forDuration) {
        return rule(forDuration, Duration.ZERO, AlertRule.NoData.KEEP, null);
    }

    private static Element cpu(String host, double value) {
        return new Element(new TreeMap<>(Map.of("__name__", "cpu", "host", host)), value);
    }

    private static Instant at(long seconds) {
        return T0.plusSeconds(seconds);
    }

    /** Applies evaluations in turn, carrying the alerts from one to the next. */
    private static final class Run {
        final AlertRule rule;
        Map<Long, Alert> alerts = new LinkedHashMap<>();
        Outcome last;

        Run(AlertRule rule) {
            this.rule = rule;
        }

        Run eval(long seconds, Element... data) {
            last = AlertStateMachine.evaluate(rule, alerts, List.of(data), at(seconds), RETENTION, RENDER);
            alerts = new LinkedHashMap<>(last.alerts());
            return this;
        }

        Alert only() {
            assertThat(alerts).hasSize(1);
            return alerts.values().iterator().next();
        }

        List<String> moves() {
            return last.transitions().stream().map(t -> t.from().sql() + "->" + t.to().sql()).toList();
        }
    }

    @Test
    void alertLabelsDropTheNameTakeTheRulesLabelsAndTheAlertname() {
        AlertRule rule = rule(Duration.ZERO);
        SortedMap<String, String> labels = AlertStateMachine.alertLabels(rule,
                new TreeMap<>(Map.of("__name__", "cpu", "host", "a", "severity", "info", "alertname", "x")));
        assertThat(labels).containsExactly(Map.entry("alertname", "HighCpu"), Map.entry("host", "a"),
                Map.entry("severity", "page"));
    }

    @Test
    void pendingFiresOnlyOnceItHeldForItsForAndKeepsItsActiveAt() {
        Run run = new Run(rule(Duration.ofSeconds(30)));
        run.eval(0, cpu("a", 91));
        assertThat(run.moves()).containsExactly("inactive->pending");
        assertThat(run.only().state()).isEqualTo(State.PENDING);
        assertThat(run.only().activeAt()).isEqualTo(at(0));
        assertThat(run.only().annotations()).containsEntry("summary", "a=91.0");
        run.eval(10, cpu("a", 92)).eval(20, cpu("a", 93));
        assertThat(run.last.transitions()).isEmpty();
        assertThat(run.only().state()).isEqualTo(State.PENDING);
        assertThat(run.only().value()).isEqualTo(93);
        assertThat(run.only().lastSeenAt()).isEqualTo(at(20));
        assertThat(run.only().activeAt()).as("the timer does not restart").isEqualTo(at(0));
        run.eval(30, cpu("a", 94));
        assertThat(run.moves()).containsExactly("pending->firing");
        Transition fired = run.last.transitions().get(0);
        assertThat(fired.value()).isEqualTo(94);
        assertThat(fired.at()).isEqualTo(at(30));
        assertThat(run.only().firedAt()).isEqualTo(at(30));
        assertThat(run.only().activeAt()).isEqualTo(at(0));
        assertThat(run.only().annotations()).containsEntry("summary", "a=94.0");
    }

    @Test
    void forZeroFiresAtOnce() {
        Run run = new Run(rule(Duration.ZERO)).eval(0, cpu("a", 1));
        assertThat(run.moves()).containsExactly("inactive->firing");
        assertThat(run.only().firedAt()).isEqualTo(at(0));
        assertThat(run.only().activeAt()).isEqualTo(at(0));
    }

    @Test
    void absentPendingEndsAndAbsentFiringResolvesThenGoesAfterRetention() {
        Run run = new Run(rule(Duration.ofSeconds(10)));
        run.eval(0, cpu("a", 1), cpu("b", 2)).eval(10, cpu("a", 1), cpu("b", 2));
        assertThat(run.moves()).containsExactly("pending->firing", "pending->firing");
        run.eval(20, cpu("c", 3));
        assertThat(run.moves()).containsExactly("inactive->pending", "firing->resolved", "firing->resolved");
        long resolved = run.alerts.values().stream().filter(a -> a.state() == State.RESOLVED).count();
        assertThat(resolved).isEqualTo(2);
        assertThat(run.alerts.values()).filteredOn(a -> a.state() == State.RESOLVED)
                .allSatisfy(a -> assertThat(a.resolvedAt()).isEqualTo(at(20)));
        run.eval(30);
        // no data, keep: c stays pending (its for passes: it fires), the resolved ones stay
        assertThat(run.moves()).containsExactly("pending->firing");
        run = new Run(rule(Duration.ofSeconds(10))).eval(0, cpu("a", 1)).eval(10, cpu("b", 5));
        assertThat(run.moves()).containsExactly("inactive->pending", "pending->inactive");
        assertThat(run.last.deleted()).containsExactly(AlertStateMachine.fingerprint(7,
                AlertStateMachine.alertLabels(run.rule, cpu("a", 0).labels())));
        assertThat(run.last.transitions().get(1).value()).as("the last value seen").isEqualTo(1);
    }

    @Test
    void resolvedAlertsAreKeptForTheirRetentionThenDeletedWithoutTransition() {
        Run run = new Run(rule(Duration.ZERO)).eval(0, cpu("a", 1)).eval(10, cpu("b", 1));
        long a = AlertStateMachine.fingerprint(7, AlertStateMachine.alertLabels(run.rule, cpu("a", 0).labels()));
        assertThat(run.alerts.get(a).state()).isEqualTo(State.RESOLVED);
        run.eval(10 + RETENTION.toSeconds() - 1, cpu("b", 1));
        assertThat(run.alerts).containsKey(a);
        assertThat(run.last.deleted()).isEmpty();
        run.eval(10 + RETENTION.toSeconds(), cpu("b", 1));
        assertThat(run.alerts).doesNotContainKey(a);
        assertThat(run.last.deleted()).containsExactly(a);
        assertThat(run.last.transitions()).isEmpty();
    }

    @Test
    void aResolvedAlertThatComesBackIsPendingAnew() {
        Run run = new Run(rule(Duration.ofSeconds(10)));
        run.eval(0, cpu("a", 1)).eval(10, cpu("a", 1)).eval(20);
        run = new Run(run.rule);
        run.eval(0, cpu("a", 1)).eval(10, cpu("a", 1)).eval(20, cpu("b", 1)).eval(30, cpu("a", 4), cpu("b", 1));
        assertThat(run.moves()).contains("resolved->pending");
        long a = AlertStateMachine.fingerprint(7, AlertStateMachine.alertLabels(run.rule, cpu("a", 0).labels()));
        Alert back = run.alerts.get(a);
        assertThat(back.state()).isEqualTo(State.PENDING);
        assertThat(back.activeAt()).isEqualTo(at(30));
        assertThat(back.firedAt()).isNull();
        assertThat(back.resolvedAt()).isNull();
    }

    @Test
    void keepFiringForHoldsAFiringAlertUntilItPassesSinceLastSeen() {
        Run run = new Run(rule(Duration.ZERO, Duration.ofSeconds(25), AlertRule.NoData.RESOLVE, null));
        run.eval(0, cpu("a", 1)).eval(10, cpu("b", 1));
        long a = AlertStateMachine.fingerprint(7, AlertStateMachine.alertLabels(run.rule, cpu("a", 0).labels()));
        assertThat(run.alerts.get(a).state()).isEqualTo(State.FIRING);
        run.eval(20, cpu("b", 1));
        assertThat(run.alerts.get(a).state()).isEqualTo(State.FIRING);
        run.eval(30, cpu("b", 1));
        assertThat(run.alerts.get(a).state()).as("30 - 0 >= 25").isEqualTo(State.RESOLVED);
        assertThat(run.alerts.get(a).resolvedAt()).isEqualTo(at(30));
    }

    @Test
    void duplicateLabelSetsAfterAlertLabelsFailTheEvaluation() {
        AlertRule rule = rule(Duration.ZERO);
        Element x = new Element(new TreeMap<>(Map.of("__name__", "cpu", "host", "a")), 1);
        Element y = new Element(new TreeMap<>(Map.of("__name__", "mem", "host", "a")), 2);
        assertThatThrownBy(() -> AlertStateMachine.evaluate(rule, Map.of(), List.of(x, y), T0, RETENTION, RENDER))
                .isInstanceOf(AlertEvaluationException.class)
                .hasMessageContaining("vector contains metrics with the same labelset after applying alert labels");
    }

    @Test
    void noDataKeepLetsPendingTimersRunOut() {
        Run run = new Run(rule(Duration.ofSeconds(30))).eval(0, cpu("a", 5)).eval(10).eval(20);
        assertThat(run.only().state()).isEqualTo(State.PENDING);
        assertThat(run.only().lastSeenAt()).isEqualTo(at(0));
        run.eval(30);
        assertThat(run.moves()).containsExactly("pending->firing");
        assertThat(run.only().value()).isEqualTo(5);
        run.eval(40);
        assertThat(run.last.transitions()).isEmpty();
        assertThat(run.only().state()).isEqualTo(State.FIRING);
    }

    @Test
    void noDataAlertRaisesOneLabelledAlertAndEndsTheOthers() {
        Run run = new Run(rule(Duration.ofSeconds(10), Duration.ZERO, AlertRule.NoData.ALERT, null));
        run.eval(0, cpu("a", 1)).eval(10, cpu("a", 1)).eval(20);
        assertThat(run.moves()).containsExactly("inactive->pending", "firing->resolved");
        Alert noData = run.alerts.values().stream().filter(a -> a.state() == State.PENDING).findFirst().orElseThrow();
        assertThat(noData.labels()).containsExactly(Map.entry("alertname", "HighCpu"),
                Map.entry("severity", "page"), Map.entry(AlertStateMachine.NO_DATA_LABEL, "true"));
        assertThat(noData.value()).isNaN();
        run.eval(30);
        assertThat(run.moves()).containsExactly("pending->firing");
        run.eval(40, cpu("a", 2));
        assertThat(run.moves()).containsExactly("resolved->pending", "firing->resolved");
    }

    @Test
    void noDataResolveEndsEveryAlert() {
        Run run = new Run(rule(Duration.ofSeconds(10), Duration.ZERO, AlertRule.NoData.RESOLVE, null));
        run.eval(0, cpu("a", 1), cpu("b", 1)).eval(10, cpu("a", 1));
        run.eval(20);
        assertThat(run.moves()).containsExactly("firing->resolved");
        assertThat(run.only().state()).isEqualTo(State.RESOLVED);
    }

    @Test
    void aThresholdThatHoldsForNothingIsNotNoData() {
        AlertRule rule = rule(Duration.ZERO, Duration.ZERO, AlertRule.NoData.KEEP, new AlertRule.Threshold(">", 90));
        Run run = new Run(rule).eval(0, cpu("a", 95), cpu("b", 10));
        assertThat(run.moves()).containsExactly("inactive->firing");
        assertThat(run.only().labels()).containsEntry("host", "a");
        run.eval(10, cpu("a", 50), cpu("b", 10));
        assertThat(run.moves()).as("data below the threshold: the condition stopped holding")
                .containsExactly("firing->resolved");
        run = new Run(rule).eval(0, cpu("a", 95)).eval(10);
        assertThat(run.moves()).as("no data at all, keep").isEmpty();
        assertThat(run.only().state()).isEqualTo(State.FIRING);
    }

    @Test
    void comparisonsFollowPromql() {
        List<Element> data = List.of(cpu("a", 1), cpu("b", 2), cpu("c", Double.NaN));
        Map<String, List<String>> kept = new LinkedHashMap<>();
        for (String op : AlertRule.Threshold.OPS) {
            kept.put(op, AlertStateMachine.compare(new AlertRule.Threshold(op, 1), data).stream()
                    .map(e -> e.labels().get("host")).toList());
        }
        assertThat(kept).containsExactly(Map.entry(">", List.of("b")), Map.entry(">=", List.of("a", "b")),
                Map.entry("<", List.of()), Map.entry("<=", List.of("a")), Map.entry("==", List.of("a")),
                Map.entry("!=", List.of("b", "c")));
    }

    @Test
    void answersBecomeElements() {
        assertThat(AlertStateMachine.elements(new PromqlResult.Scalar(0, 3)))
                .containsExactly(new Element(new TreeMap<>(), 3));
        assertThat(AlertStateMachine.elements(new PromqlResult.Vector(List.of(
                new PromqlResult.Sample(new TreeMap<>(Map.of("host", "a")), 0, 2))))).hasSize(1);
        assertThatThrownBy(() -> AlertStateMachine.elements(new PromqlResult.Text(0, "x")))
                .isInstanceOf(AlertEvaluationException.class).hasMessageContaining("not a string");
    }

    @Test
    void fingerprintsAreStableAndDistinguishLabelBoundaries() {
        SortedMap<String, String> ab = new TreeMap<>(Map.of("a", "b"));
        assertThat(AlertStateMachine.fingerprint(1, ab)).isEqualTo(AlertStateMachine.fingerprint(1, new TreeMap<>(ab)));
        // FNV-1a 64 over the canonical bytes: rule id 1 (8 bytes, big-endian), "a", 0xFF, "b", 0xFF
        long h = 0xcbf29ce484222325L;
        for (int b : new int[] {0, 0, 0, 0, 0, 0, 0, 1, 'a', 0xff, 'b', 0xff}) {
            h = (h ^ b) * 0x100000001b3L;
        }
        assertThat(AlertStateMachine.fingerprint(1, ab)).isEqualTo(h);
        Set<Long> distinct = new HashSet<>();
        distinct.add(AlertStateMachine.fingerprint(1, ab));
        distinct.add(AlertStateMachine.fingerprint(2, ab));
        distinct.add(AlertStateMachine.fingerprint(1, new TreeMap<>(Map.of("ab", ""))));
        distinct.add(AlertStateMachine.fingerprint(1, new TreeMap<>(Map.of("a", "b", "c", "d"))));
        distinct.add(AlertStateMachine.fingerprint(1, new TreeMap<>(Map.of("a", "bc", "", "d"))));
        assertThat(distinct).hasSize(5);
    }
}
