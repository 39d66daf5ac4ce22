package io.sluice.storage.alerting;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Statement;
import io.sluice.config.AlertingConfig;
import io.sluice.config.PostgresConfig;
import io.sluice.config.QueryConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.postgres.PostgresUnavailableException;
import io.sluice.storage.promql.PromqlEngine;
import io.sluice.storage.promql.PromqlQuery;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.testing.MutableClock;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The evaluator on a real PostgreSQL, rules inserted as rows, answers from the real PromQL engine over samples held
 * in memory (its {@link io.sluice.storage.promql.SampleSource} seam), time from a clock the test moves.
 */
@RealInfrastructure
class AlertEvaluatorTest {

    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
    private static final Duration STORE_WINDOW = Duration.ofSeconds(5);

    private static PostgresConfig database;
    private static ConnectionPool pool;
    private static PostgresCalls calls;
    private static AlertingConfig defaults;

    private final MutableClock clock = new MutableClock(T0);
    private final TestSamples samples = new TestSamples();
    private final PromqlEngine engine = new PromqlEngine(samples,
            new QueryConfig(11_000, 1_000, Duration.ofDays(30), Duration.ofSeconds(10), 1 << 20));
    private final List<AlertEvaluator> evaluators = new ArrayList<>();
    /** Reads a query-form rule's JSON: the rules API's reader in a process; the tests' own here. */
    private Function<String, AlertRule.RuleQuery> decoder = json -> {
        throw new IllegalArgumentException("no query-form rules here");
    };

    @BeforeAll
    static void start(TestInfrastructure infra) {
        database = infra.newDatabase("alerting", 8);
        pool = PostgresConnections.pool(database);
        calls = PostgresCalls.withDefaultDeadline(pool);
        defaults = SluiceConfig.defaults().alerting();
        sql("INSERT INTO tenants (id, tier) VALUES ('acme', 'paid')");
    }

    @AfterAll
    static void stop() {
        if (pool != null) {
            pool.disposeLater().block(Duration.ofSeconds(10));
        }
    }

    @BeforeEach
    void empty() {
        sql("DELETE FROM alert_rules");
        sql("DELETE FROM alert_instances");
        sql("DELETE FROM alert_history");
    }

    @org.junit.jupiter.api.AfterEach
    void closeEvaluators() {
        evaluators.forEach(AlertEvaluator::close);
    }

    @Test
    void aRuleGoesPendingThenFiringOnlyAfterItsForThenResolvesWithHistory() {
        long rule = rule("Hot", "temp", ">", 50.0, 30_000, 10_000, "keep", T0);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AlertEvaluator evaluator = evaluator("a", defaults.evaluationTimeout(), engine::evaluate, registry);
        for (int s = 0; s <= 40; s += 10) {
            samples.set("temp", Map.of("room", "kitchen"), T0.plusSeconds(s).toEpochMilli(), 60 + s);
        }
        samples.set("temp", Map.of("room", "kitchen"), T0.plusSeconds(50).toEpochMilli(), 20);

        clock.set(T0.plusMillis(300)); // a little after the slot: evaluated at the slot
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).containsExactly("ok");
        assertThat(instance(rule)).isEqualTo("pending active=0s fired=- resolved=- seen=0s value=60.0");
        assertThat(one("SELECT health || ' ' || (next_eval_at = $1) || ' ' || (last_eval_at = $2) || ' '"
                + " || coalesce(lease_owner, '-') FROM alert_rules WHERE id = $3", T0.plusSeconds(10), T0, rule))
                .isEqualTo("ok true true -");
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).as("not due again before its next slot").isEmpty();

        for (int s = 10; s <= 20; s += 10) {
            clock.set(T0.plusSeconds(s).plusMillis(300));
            assertThat(evaluator.round().block(Duration.ofSeconds(30))).containsExactly("ok");
            assertThat(instance(rule)).startsWith("pending active=0s");
        }
        clock.set(T0.plusSeconds(30).plusMillis(300));
        evaluator.round().block(Duration.ofSeconds(30));
        assertThat(instance(rule)).isEqualTo("firing active=0s fired=30s resolved=- seen=30s value=90.0");
        assertThat(one("SELECT annotations->>'summary' FROM alert_instances WHERE rule_id = $1", rule))
                .as("rendered with the alert's labels and value").isEqualTo("kitchen at 90");
        clock.set(T0.plusSeconds(40));
        evaluator.round().block(Duration.ofSeconds(30));
        clock.set(T0.plusSeconds(50));
        evaluator.round().block(Duration.ofSeconds(30));
        assertThat(instance(rule)).isEqualTo("resolved active=0s fired=30s resolved=50s seen=40s value=100.0");
        assertThat(history(rule)).containsExactly("inactive->pending at 0s value 60.0",
                "pending->firing at 30s value 90.0", "firing->resolved at 50s value 100.0");
        assertThat(one("SELECT annotations->>'summary' FROM alert_instances WHERE rule_id = $1", rule))
                .as("a resolved alert keeps what it was last rendered with").isEqualTo("kitchen at 100");
        assertThat(one("SELECT labels::text FROM alert_instances WHERE rule_id = $1", rule))
                .isEqualTo("{\"room\": \"kitchen\", \"alertname\": \"Hot\"}");
        assertThat(registry.counter("sluice_alert_evaluations", "result", "ok").count()).isEqualTo(6);
        assertThat(registry.counter("sluice_alert_rules_claimed").count()).isEqualTo(6);
        assertThat(registry.timer("sluice_alert_evaluation_lag").count()).isEqualTo(6);
    }

    @Test
    void anEvaluatorStoppedMidForAndAnotherStartedLaterContinuesTheTimer() {
        long rule = rule("Hot", "temp", ">", 50.0, 30_000, 10_000, "keep", T0);
        for (int s = 0; s <= 60; s += 5) {
            samples.set("temp", Map.of("room", "a"), T0.plusSeconds(s).toEpochMilli(), 70);
        }
        AlertEvaluator first = evaluator("first", defaults.evaluationTimeout(), engine::evaluate,
                new SimpleMeterRegistry());
        first.round().block(Duration.ofSeconds(30));
        assertThat(instance(rule)).startsWith("pending active=0s");
        first.close();

        // down for two slots; the new evaluator starts at 25s and evaluates the latest slot, 20s
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AlertEvaluator second = evaluator("second", defaults.evaluationTimeout(), engine::evaluate, registry);
        clock.set(T0.plusSeconds(25));
        assertThat(second.round().block(Duration.ofSeconds(30))).containsExactly("ok");
        assertThat(instance(rule)).as("the timer did not start over").startsWith("pending active=0s");
        assertThat(registry.counter("sluice_alert_missed_slots").count()).isEqualTo(1);
        clock.set(T0.plusSeconds(30));
        second.round().block(Duration.ofSeconds(30));
        assertThat(instance(rule)).startsWith("firing active=0s fired=30s");
        assertThat(history(rule)).containsExactly("inactive->pending at 0s value 70.0",
                "pending->firing at 30s value 70.0");
    }

    @Test
    void twoEvaluatorsStoreEachSlotOfEachRuleExactlyOnce() {
        int rules = 6;
        for (int i = 0; i < rules; i++) {
            rule("R" + i, "load{host=\"h" + i + "\"}", ">", 1.0, 0, 10_000, "keep", T0);
        }
        for (int s = 0; s <= 60; s += 10) {
            for (int i = 0; i < rules; i++) {
                // above the threshold at even slots, below at odd ones: every slot of every rule is a transition
                samples.set("load", Map.of("host", "h" + i), T0.plusSeconds(s).toEpochMilli(), (s / 10) % 2 == 0 ? 5 : 0);
            }
        }
        SimpleMeterRegistry a = new SimpleMeterRegistry();
        SimpleMeterRegistry b = new SimpleMeterRegistry();
        AlertEvaluator one = evaluator("one", defaults.evaluationTimeout(), engine::evaluate, a);
        AlertEvaluator two = evaluator("two", defaults.evaluationTimeout(), engine::evaluate, b);
        int slots = 6;
        for (int s = 0; s < slots; s++) {
            clock.set(T0.plusSeconds(10L * s).plusMillis(100));
            var both = Mono.zip(one.round().subscribeOn(reactor.core.scheduler.Schedulers.parallel()),
                    two.round().subscribeOn(reactor.core.scheduler.Schedulers.parallel())).block(Duration.ofSeconds(30));
            List<String> results = new ArrayList<>(both.getT1());
            results.addAll(both.getT2());
            assertThat(results).as("slot %d: each rule evaluated once", s).hasSize(rules).containsOnly("ok");
            // a third round in the same slot finds nothing due
            assertThat(one.round().block(Duration.ofSeconds(30))).isEmpty();
        }
        assertThat(a.counter("sluice_alert_evaluations", "result", "ok").count()
                + b.counter("sluice_alert_evaluations", "result", "ok").count()).isEqualTo(rules * slots);
        assertThat(one("SELECT count(*) FROM alert_history")).isEqualTo(String.valueOf(rules * slots));
        assertThat(one("SELECT count(DISTINCT (rule_id, at)) FROM alert_history"))
                .as("one transition per rule and slot").isEqualTo(String.valueOf(rules * slots));
    }

    @Test
    void anEvaluatorWhoseLeaseWasTakenOverStoresNothing() {
        long rule = rule("Hot", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        for (int s = 0; s <= 20; s += 5) {
            samples.set("temp", Map.of("room", "a"), T0.plusSeconds(s).toEpochMilli(), 70);
        }
        Gate gate = new Gate(engine::evaluate);
        AlertEvaluator stalled = evaluator("stalled", defaults.evaluationTimeout(), gate, new SimpleMeterRegistry());
        AlertEvaluator other = evaluator("other", defaults.evaluationTimeout(), engine::evaluate,
                new SimpleMeterRegistry());
        AtomicReference<List<String>> stalledResult = new AtomicReference<>();
        stalled.round().subscribe(stalledResult::set);
        await().atMost(Duration.ofSeconds(20)).untilTrue(gate.entered);
        assertThat(one("SELECT lease_owner FROM alert_rules WHERE id = $1", rule)).isEqualTo("stalled");
        assertThat(other.round().block(Duration.ofSeconds(30))).as("leased: not claimable").isEmpty();

        clock.set(T0.plusSeconds(11)); // the lease (min(interval, timeout + store window) = 10s) has ended
        assertThat(other.round().block(Duration.ofSeconds(30))).containsExactly("ok");
        gate.open();
        await().atMost(Duration.ofSeconds(20)).until(() -> stalledResult.get() != null);
        assertThat(stalledResult.get()).containsExactly("fenced");
        assertThat(history(rule)).as("only the evaluation of the alerter holding the lease")
                .containsExactly("inactive->firing at 10s value 70.0");
        assertThat(one("SELECT (next_eval_at = $1) || ' ' || coalesce(lease_owner, '-') FROM alert_rules WHERE id = $2",
                T0.plusSeconds(20), rule)).isEqualTo("true -");
    }

    @Test
    void closingLetsTheEvaluationUnderWayStoreThenGivesUpTheLeases() {
        long rule = rule("Hot", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        samples.set("temp", Map.of("room", "a"), T0.toEpochMilli(), 70);
        Gate gate = new Gate(engine::evaluate);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AlertEvaluator evaluator = evaluator("e", defaults.evaluationTimeout(), gate, registry).start();
        await().atMost(Duration.ofSeconds(20)).untilTrue(gate.entered);

        CompletableFuture<Void> closing = CompletableFuture.runAsync(evaluator::close);
        assertThat(closing).as("waits for the evaluation under way").isNotDone();
        gate.open();
        closing.orTimeout(30, TimeUnit.SECONDS).join();
        assertThat(history(rule)).as("stored, not cancelled").containsExactly("inactive->firing at 0s value 70.0");
        assertThat(registry.counter("sluice_alert_evaluations", "result", "ok").count()).isEqualTo(1);
        assertThat(one("SELECT coalesce(lease_owner, '-') FROM alert_rules WHERE id = $1", rule)).isEqualTo("-");

        clock.set(T0.plusSeconds(10));
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).as("a closed evaluator claims nothing").isEmpty();
        assertThat(one("SELECT coalesce(lease_owner, '-') FROM alert_rules WHERE id = $1", rule)).isEqualTo("-");
    }

    @Test
    void aRuleUpdatedOrDeletedDuringItsEvaluationIsFenced() {
        long updated = rule("Updated", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        samples.set("temp", Map.of("room", "a"), T0.toEpochMilli(), 70);
        Gate gate = new Gate(engine::evaluate);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AlertEvaluator evaluator = evaluator("e", defaults.evaluationTimeout(), gate, registry);
        AtomicReference<List<String>> result = new AtomicReference<>();
        evaluator.round().subscribe(result::set);
        await().atMost(Duration.ofSeconds(20)).untilTrue(gate.entered);
        sql("UPDATE alert_rules SET threshold = 60, version = version + 1 WHERE id = " + updated);
        gate.open();
        await().atMost(Duration.ofSeconds(20)).until(() -> result.get() != null);
        assertThat(result.get()).containsExactly("fenced");
        assertThat(history(updated)).isEmpty();
        assertThat(one("SELECT health || ' ' || coalesce(lease_owner, '-') FROM alert_rules WHERE id = $1", updated))
                .as("the lease is given up at once: the new version is evaluated at the next poll")
                .isEqualTo("unknown -");
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).containsExactly("ok");
        assertThat(history(updated)).containsExactly("inactive->firing at 0s value 70.0");

        sql("DELETE FROM alert_rules");
        sql("DELETE FROM alert_instances");
        sql("DELETE FROM alert_history");
        long deleted = rule("Deleted", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        Gate second = new Gate(engine::evaluate);
        AlertEvaluator other = evaluator("f", defaults.evaluationTimeout(), second, registry);
        AtomicReference<List<String>> deletedResult = new AtomicReference<>();
        other.round().subscribe(deletedResult::set);
        await().atMost(Duration.ofSeconds(20)).untilTrue(second.entered);
        sql("DELETE FROM alert_rules WHERE id = " + deleted);
        second.open();
        await().atMost(Duration.ofSeconds(20)).until(() -> deletedResult.get() != null);
        assertThat(deletedResult.get()).containsExactly("fenced");
        assertThat(one("SELECT count(*) FROM alert_instances")).isEqualTo("0");
        assertThat(registry.counter("sluice_alert_evaluations", "result", "fenced").count()).isEqualTo(2);
    }

    @Test
    void aFailingOrTimingOutRuleIsMarkedCountedAndRetriedOnlyAtItsNextSlot() {
        long broken = rule("Broken", "disk", ">", 50.0, 0, 10_000, "keep", T0);
        long slow = rule("Slow", "net", ">", 50.0, 0, 10_000, "keep", T0);
        samples.set("disk", Map.of("dev", "sda"), T0.toEpochMilli(), 90);
        samples.set("net", Map.of("if", "eth0"), T0.toEpochMilli(), 90);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AlertEvaluator evaluator = evaluator("e", Duration.ofMillis(500), engine::evaluate, registry);
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).containsExactlyInAnyOrder("ok", "ok");
        assertThat(instance(broken)).startsWith("firing");

        samples.breakMetric("disk", Mono.error(new PostgresUnavailableException("query.samples",
                "PostgreSQL is unreachable", new java.io.IOException("connection refused"))));
        samples.breakMetric("net", Mono.never());
        clock.set(T0.plusSeconds(10));
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).containsExactlyInAnyOrder("error", "timeout");
        assertThat(one("SELECT health || ' ' || last_error FROM alert_rules WHERE id = $1", broken))
                .isEqualTo("error query.samples: PostgreSQL is unreachable");
        assertThat(one("SELECT health || ' ' || last_error FROM alert_rules WHERE id = $1", slow))
                .isEqualTo("error evaluation timed out after 500ms (alerting.evaluation-timeout)");
        assertThat(instance(broken)).as("alerts untouched").startsWith("firing active=0s fired=0s resolved=- seen=0s");
        assertThat(instance(slow)).startsWith("firing active=0s fired=0s resolved=- seen=0s");
        assertThat(one("SELECT count(*) FROM alert_rules WHERE next_eval_at = $1 AND lease_owner IS NULL",
                T0.plusSeconds(20))).isEqualTo("2");
        clock.set(T0.plusSeconds(19));
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).as("no retry before the next slot").isEmpty();
        assertThat(registry.counter("sluice_alert_evaluations", "result", "error").count()).isEqualTo(1);
        assertThat(registry.counter("sluice_alert_evaluations", "result", "timeout").count()).isEqualTo(1);

        samples.repair("disk");
        samples.repair("net");
        samples.set("disk", Map.of("dev", "sda"), T0.plusSeconds(20).toEpochMilli(), 10);
        clock.set(T0.plusSeconds(20));
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).containsExactlyInAnyOrder("ok", "ok");
        assertThat(one("SELECT health || ' ' || coalesce(last_error, '-') FROM alert_rules WHERE id = $1", broken))
                .isEqualTo("ok -");
        assertThat(instance(broken)).startsWith("resolved");
    }

    @Test
    void anAnswerThatCannotBeAlertedOnMarksTheRule() {
        // two series that differ only in their name: the same alert once __name__ is dropped
        long rule = rule("Dup", "{__name__=~\"temp|temp2\"}", null, null, 0, 10_000, "keep", T0);
        samples.set("temp", Map.of("room", "a"), T0.toEpochMilli(), 1);
        samples.set("temp2", Map.of("room", "a"), T0.toEpochMilli(), 2);
        long text = rule("Text", "\"hello\"", null, null, 0, 10_000, "keep", T0);
        AlertEvaluator evaluator = evaluator("e", defaults.evaluationTimeout(), engine::evaluate,
                new SimpleMeterRegistry());
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).containsOnly("error").hasSize(2);
        assertThat(one("SELECT last_error FROM alert_rules WHERE id = $1", rule))
                .startsWith("vector contains metrics with the same labelset after applying alert labels");
        assertThat(one("SELECT last_error FROM alert_rules WHERE id = $1", text))
                .isEqualTo("rule expression must evaluate to an instant vector or a scalar, not a string");
        assertThat(one("SELECT count(*) FROM alert_instances")).isEqualTo("0");
    }

    @Test
    void noDataKeepsAlertsOrResolvesThem() {
        long keep = rule("Keep", "keep_m", ">", 50.0, 0, 10_000, "keep", T0);
        long alert = rule("Alert", "alert_m", ">", 50.0, 0, 10_000, "alert", T0);
        long resolve = rule("Resolve", "resolve_m", ">", 50.0, 0, 10_000, "resolve", T0);
        for (String m : List.of("keep_m", "alert_m", "resolve_m")) {
            samples.set(m, Map.of("host", "h"), T0.toEpochMilli(), 99);
        }
        AlertEvaluator evaluator = evaluator("e", defaults.evaluationTimeout(), engine::evaluate,
                new SimpleMeterRegistry());
        evaluator.round().block(Duration.ofSeconds(30));
        for (String m : List.of("keep_m", "alert_m", "resolve_m")) {
            samples.remove(m);
        }
        clock.set(T0.plusSeconds(10));
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).containsOnly("ok").hasSize(3);
        assertThat(instance(keep)).startsWith("firing active=0s fired=0s resolved=- seen=0s");
        assertThat(history(alert)).containsExactly("inactive->firing at 0s value 99.0",
                "inactive->firing at 10s value NaN", "firing->resolved at 10s value 99.0");
        assertThat(one("SELECT labels::text FROM alert_instances WHERE rule_id = $1 AND state = 'firing'", alert))
                .isEqualTo("{\"alertname\": \"Alert\", \"sluice_no_data\": \"true\"}");
        assertThat(instance(resolve)).startsWith("resolved active=0s fired=0s resolved=10s");
        clock.set(T0.plusSeconds(20));
        evaluator.round().block(Duration.ofSeconds(30));
        assertThat(history(alert)).as("the no-data alert's NaN value read back unchanged").hasSize(3);
    }

    @Test
    void aQueryFormRuleIsEvaluatedAsItsPromqlAndAnUnreadableOneIsMarked() {
        decoder = json -> {
            if (!json.contains("\"metric\": \"temp\"")) {
                throw new IllegalArgumentException("query.metric: missing");
            }
            return new AlertRule.RuleQuery("temp", List.of(), io.sluice.storage.query.Aggregation.MAX,
                    List.of("room"), Duration.ofMinutes(1));
        };
        long form = queryRule("Form", "{\"metric\": \"temp\"}");
        long unreadable = queryRule("Unreadable", "{\"metrik\": \"temp\"}");
        samples.set("temp", Map.of("room", "a", "sensor", "1"), T0.minusSeconds(30).toEpochMilli(), 40);
        samples.set("temp", Map.of("room", "a", "sensor", "2"), T0.minusSeconds(20).toEpochMilli(), 70);
        samples.set("temp", Map.of("room", "b", "sensor", "3"), T0.minusSeconds(20).toEpochMilli(), 45);
        AlertEvaluator evaluator = evaluator("e", defaults.evaluationTimeout(), engine::evaluate,
                new SimpleMeterRegistry());
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).containsExactlyInAnyOrder("ok", "error");
        assertThat(instance(form)).isEqualTo("firing active=0s fired=0s resolved=- seen=0s value=70.0");
        assertThat(one("SELECT labels::text FROM alert_instances WHERE rule_id = $1", form))
                .isEqualTo("{\"room\": \"a\", \"alertname\": \"Form\"}");
        assertThat(one("SELECT health || ' ' || last_error FROM alert_rules WHERE id = $1", unreadable))
                .isEqualTo("error rule cannot be read: query.metric: missing");
    }

    @Test
    void startedItClaimsAndEvaluatesOnItsOwn() {
        long rule = rule("Hot", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        samples.set("temp", Map.of("room", "a"), T0.toEpochMilli(), 70);
        AlertEvaluator evaluator = evaluator("looping", defaults.evaluationTimeout(), engine::evaluate,
                new SimpleMeterRegistry(), Duration.ofMillis(100), defaults.claimBatch(), AlertEvaluator.SlotOffsets.NONE);
        evaluator.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> history(rule).size() == 1);
        assertThat(history(rule)).containsExactly("inactive->firing at 0s value 70.0");
    }

    @Test
    void startedItClaimsAgainAsSoonAsHalfItsBatchIsFreeWhileRulesWait() {
        List<Long> rules = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            rules.add(rule("Hot" + i, "temp", ">", 50.0, 0, 10_000, "keep", T0));
        }
        samples.set("temp", Map.of("room", "a"), T0.toEpochMilli(), 70);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        // one poll in the test's time (the first, at once), two rules a claim: only claiming on capacity gets further
        AlertEvaluator evaluator = evaluator("eager", defaults.evaluationTimeout(), engine::evaluate, registry,
                Duration.ofHours(1), 2, AlertEvaluator.SlotOffsets.NONE).start();
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(
                registry.counter("sluice_alert_evaluations", "result", "ok").count()).isEqualTo(10));
        for (long rule : rules) {
            assertThat(history(rule)).containsExactly("inactive->firing at 0s value 70.0");
        }
        assertThat(registry.counter("sluice_alert_rules_claimed").count()).isEqualTo(10);
        evaluator.close();
    }

    @Test
    void aGroupsSlotsAreOffsetByAHashOfTenantAndGroupAndItsRulesShareThem() {
        long interval = 10_000;
        long offset = AlertEvaluator.SlotOffsets.BY_GROUP.offsetMs("acme", "g", interval);
        assertThat(offset).isBetween(0L, interval - 1)
                .isEqualTo(AlertEvaluator.SlotOffsets.BY_GROUP.offsetMs("acme", "g", interval))
                .isNotEqualTo(AlertEvaluator.SlotOffsets.BY_GROUP.offsetMs("other", "g", interval));
        long first = rule("First", "temp", ">", 50.0, 0, interval, "keep", T0);
        long second = rule("Second", "temp", ">", 50.0, 0, interval, "keep", T0);
        Instant slot = T0.plusMillis(offset);
        samples.set("temp", Map.of("room", "a"), slot.toEpochMilli(), 70);
        AlertEvaluator evaluator = evaluator("spread", defaults.evaluationTimeout(), engine::evaluate,
                new SimpleMeterRegistry(), defaults.pollInterval(), defaults.claimBatch(),
                AlertEvaluator.SlotOffsets.BY_GROUP);
        clock.set(slot.plusMillis(300));
        assertThat(evaluator.round().block(Duration.ofSeconds(30))).containsExactly("ok", "ok");
        String at = offset % 1000 == 0 ? offset / 1000 + "s" : offset + "ms";
        for (long rule : List.of(first, second)) {
            assertThat(history(rule)).containsExactly("inactive->firing at " + at + " value 70.0");
            assertThat(one("SELECT (next_eval_at = $1)::text FROM alert_rules WHERE id = $2",
                    slot.plusMillis(interval), rule)).isEqualTo("true");
        }
    }

    @Test
    void aBatchStoresTheClaimsStillHeldGivesUpUpdatedOnesAndWritesNothingForLostOnes() {
        long held = rule("Held", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        long failed = rule("Failed", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        long updated = rule("Updated", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        long taken = rule("Taken", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        long deleted = rule("Deleted", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        AlertStore store = new AlertStore(calls, decoder);
        Map<Long, AlertStore.Claim> claims = claims(store, "a", T0, 10);
        assertThat(claims).hasSize(5);
        sql("UPDATE alert_rules SET version = version + 1 WHERE id = " + updated);
        sql("UPDATE alert_rules SET lease_owner = 'other', lease_token = lease_token + 1 WHERE id = " + taken);
        sql("DELETE FROM alert_rules WHERE id = " + deleted);

        AlertStore.Finish finish = new AlertStore.Finish(T0.plusSeconds(10), T0, 7, null, T0.plusMillis(5));
        List<AlertStore.Pending> batch = List.of(
                new AlertStore.Pending(claims.get(deleted), hot(claims.get(deleted), 70), finish),
                new AlertStore.Pending(claims.get(held), hot(claims.get(held), 70), finish),
                new AlertStore.Pending(claims.get(taken), hot(claims.get(taken), 70), finish),
                new AlertStore.Pending(claims.get(failed), null,
                        new AlertStore.Finish(T0.plusSeconds(10), T0, 7, "query failed", T0.plusMillis(5))),
                new AlertStore.Pending(claims.get(updated), hot(claims.get(updated), 70), finish));
        assertThat(store.storeAll(batch).block(Duration.ofSeconds(30))).as("in the batch's order").containsExactly(
                AlertStore.Stored.FENCED, AlertStore.Stored.OK, AlertStore.Stored.FENCED, AlertStore.Stored.OK,
                AlertStore.Stored.FENCED);

        assertThat(instance(held)).isEqualTo("firing active=0s fired=0s resolved=- seen=0s value=70.0");
        assertThat(history(held)).containsExactly("inactive->firing at 0s value 70.0");
        String row = "SELECT health || ' ' || coalesce(last_error, '-') || ' ' || (next_eval_at = $1) || ' '"
                + " || coalesce(last_eval_ms, -1) || ' ' || coalesce(lease_owner, '-') FROM alert_rules WHERE id = $2";
        assertThat(one(row, T0.plusSeconds(10), held)).isEqualTo("ok - true 7 -");
        assertThat(one(row, T0.plusSeconds(10), failed)).as("a failed evaluation: only its rule row")
                .isEqualTo("error query failed true 7 -");
        assertThat(one(row, T0.plusSeconds(10), updated)).as("lease given up, nothing else written")
                .isEqualTo("unknown - false -1 -");
        assertThat(one(row, T0.plusSeconds(10), taken)).as("another's lease: untouched")
                .isEqualTo("unknown - false -1 other");
        assertThat(one("SELECT count(*) FROM alert_instances WHERE rule_id <> $1", held)).isEqualTo("0");
        assertThat(one("SELECT count(*) FROM alert_history WHERE rule_id <> $1", held)).isEqualTo("0");
        assertThat(one("SELECT count(*) FROM alert_rules WHERE id = $1", deleted)).isEqualTo("0");
    }

    @Test
    void aRuleWhoseStateMachineThrowsIsMarkedAloneAndTheRestOfItsBatchIsStored() {
        List<Long> ids = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ids.add(rule("R" + i, "temp", ">", 50.0, 0, 10_000, "keep", T0));
        }
        AlertStore store = new AlertStore(calls, decoder);
        Map<Long, AlertStore.Claim> claims = claims(store, "a", T0, 10);
        AlertStore.Finish finish = new AlertStore.Finish(T0.plusSeconds(10), T0, 3, null, T0);
        List<AlertStore.Pending> batch = List.of(
                new AlertStore.Pending(claims.get(ids.get(0)), hot(claims.get(ids.get(0)), 70), finish),
                new AlertStore.Pending(claims.get(ids.get(1)), current -> {
                    throw new AlertEvaluationException("two alerts alike");
                }, finish),
                new AlertStore.Pending(claims.get(ids.get(2)), current -> {
                    throw new IllegalStateException("a bug");
                }, finish),
                new AlertStore.Pending(claims.get(ids.get(3)), hot(claims.get(ids.get(3)), 80), finish));
        assertThat(store.storeAll(batch).block(Duration.ofSeconds(30))).containsExactly(AlertStore.Stored.OK,
                AlertStore.Stored.ERROR, AlertStore.Stored.ERROR, AlertStore.Stored.OK);
        assertThat(history(ids.get(0))).containsExactly("inactive->firing at 0s value 70.0");
        assertThat(history(ids.get(3))).containsExactly("inactive->firing at 0s value 80.0");
        String row = "SELECT health || ' ' || coalesce(last_error, '-') || ' ' || (next_eval_at = $1) || ' '"
                + " || coalesce(lease_owner, '-') FROM alert_rules WHERE id = $2";
        assertThat(one(row, T0.plusSeconds(10), ids.get(0))).isEqualTo("ok - true -");
        assertThat(one(row, T0.plusSeconds(10), ids.get(1))).isEqualTo("error two alerts alike true -");
        assertThat(one(row, T0.plusSeconds(10), ids.get(2)))
                .isEqualTo("error evaluation failed: java.lang.IllegalStateException: a bug true -");
        assertThat(one(row, T0.plusSeconds(10), ids.get(3))).isEqualTo("ok - true -");
        assertThat(one("SELECT count(*) FROM alert_instances WHERE rule_id IN ($1, $2)", ids.get(1), ids.get(2)))
                .isEqualTo("0");
    }

    @Test
    void twoHundredRulesOfOneRoundAreStoredInBatchesWithTheirAlertsAndHistory() {
        int n = 200;
        List<Long> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids.add(rule("R" + i, "load{host=\"h" + i + "\"}", ">", 1.0, 10_000, 10_000, "keep", T0));
            for (int s = 0; s <= 20; s += 10) {
                // each rule its own value, so that one rule's alerts stored as another's would show
                samples.set("load", Map.of("host", "h" + i), T0.plusSeconds(s).toEpochMilli(), s == 20 ? 0 : 2 + i);
            }
        }
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AlertEvaluator evaluator = evaluator("many", defaults.evaluationTimeout(), engine::evaluate, registry,
                defaults.pollInterval(), n, AlertEvaluator.SlotOffsets.NONE);
        for (int s = 0; s <= 20; s += 10) {
            clock.set(T0.plusSeconds(s).plusMillis(100));
            assertThat(evaluator.round().block(Duration.ofSeconds(60))).hasSize(n).containsOnly("ok");
            if (s == 0) {
                // each transaction leaves its id as the xmin of the rule rows it finished: fewer than one a rule
                assertThat(Integer.parseInt(one("SELECT count(DISTINCT xmin::text) FROM alert_rules")))
                        .as("store transactions for %d rules", n).isBetween((n + AlertEvaluator.STORE_BATCH - 1)
                                / AlertEvaluator.STORE_BATCH, n / 4);
            }
        }
        for (int i = 0; i < n; i++) {
            double v = 2 + i;
            assertThat(history(ids.get(i))).as("rule %d", i).containsExactly("inactive->pending at 0s value " + v,
                    "pending->firing at 10s value " + v, "firing->resolved at 20s value " + v);
            assertThat(instance(ids.get(i))).isEqualTo("resolved active=0s fired=10s resolved=20s seen=10s value=" + v);
        }
        assertThat(one("SELECT count(*) FROM alert_rules WHERE next_eval_at = $1 AND health = 'ok'"
                + " AND lease_owner IS NULL", T0.plusSeconds(30))).isEqualTo(String.valueOf(n));
        assertThat(registry.counter("sluice_alert_evaluations", "result", "ok").count()).isEqualTo(3 * n);
        assertThat(registry.timer("sluice_alert_evaluation_duration").count()).isEqualTo(3 * n);
    }

    @Test
    void concurrentBatchesOverOverlappingRulesInOppositeOrdersBothCompleteEachRuleStoredOnce() {
        int n = 100;
        List<Long> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids.add(rule("R" + i, "temp", ">", 50.0, 0, 10_000, "keep", T0));
        }
        AlertStore store = new AlertStore(calls, decoder);
        Map<Long, AlertStore.Claim> first = claims(store, "a", T0, n);
        // the second half's leases end: another alerter claims those rules (new tokens); the first half stays a's
        sql("UPDATE alert_rules SET lease_until = NULL WHERE id >= " + ids.get(n / 2));
        Map<Long, AlertStore.Claim> second = claims(store, "b", T0, n);
        assertThat(second.keySet()).containsExactlyInAnyOrderElementsOf(ids.subList(n / 2, n));
        AlertStore.Finish finish = new AlertStore.Finish(T0.plusSeconds(10), T0, 1, null, T0);
        List<AlertStore.Pending> a = new ArrayList<>();
        for (long id : ids) { // every rule, in id order: the second half is no longer a's
            a.add(new AlertStore.Pending(first.get(id), hot(first.get(id), 70), finish));
        }
        List<Long> descending = new ArrayList<>(ids.subList(n / 2, n));
        java.util.Collections.reverse(descending);
        List<AlertStore.Pending> b = new ArrayList<>();
        for (long id : descending) {
            b.add(new AlertStore.Pending(second.get(id), hot(second.get(id), 70), finish));
        }
        for (int round = 0; round < 3; round++) {
            var both = Mono.zip(store.storeAll(a).subscribeOn(reactor.core.scheduler.Schedulers.parallel()),
                    store.storeAll(b).subscribeOn(reactor.core.scheduler.Schedulers.parallel()))
                    .block(Duration.ofSeconds(30));
            assertThat(both.getT1().subList(0, n / 2)).containsOnly(AlertStore.Stored.OK);
            assertThat(both.getT1().subList(n / 2, n)).as("taken over by b").containsOnly(AlertStore.Stored.FENCED);
            assertThat(both.getT2()).hasSize(n / 2).containsOnly(AlertStore.Stored.OK);
        }
        assertThat(one("SELECT count(*) FROM alert_history")).as("one transition a rule: each evaluation stored by one batch only")
                .isEqualTo(String.valueOf(n));
        assertThat(one("SELECT count(DISTINCT rule_id) FROM alert_instances WHERE state = 'firing'"))
                .isEqualTo(String.valueOf(n));
        assertThat(one("SELECT count(*) FROM alert_rules WHERE health = 'ok' AND lease_owner IS NULL"))
                .isEqualTo(String.valueOf(n));
    }

    @Test
    void aBatchThatCannotBeStoredCountsEachOfItsEvaluationsAsAnErrorAndWritesNothing() {
        long first = rule("First", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        long second = rule("Second", "temp", ">", 50.0, 0, 10_000, "keep", T0);
        samples.set("temp", Map.of("room", "a"), T0.toEpochMilli(), 70);
        Map<Long, AlertStore.Claim> claims = claims(new AlertStore(calls, decoder), "down", T0, 10);
        ConnectionPool closed = PostgresConnections.pool(database);
        closed.disposeLater().block(Duration.ofSeconds(10));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AlertEvaluator evaluator = new AlertEvaluator(new AlertStore(PostgresCalls.withDefaultDeadline(closed),
                decoder), defaults, "down", engine::evaluate, clock, STORE_WINDOW, registry,
                AlertEvaluator.SlotOffsets.NONE);
        evaluators.add(evaluator);
        List<String> results = Flux.merge(evaluator.evaluate(claims.get(first)), evaluator.evaluate(claims.get(second)))
                .collectList().block(Duration.ofSeconds(30));
        assertThat(results).containsExactly("error", "error");
        assertThat(registry.counter("sluice_alert_evaluations", "result", "error").count()).isEqualTo(2);
        assertThat(one("SELECT count(*) FROM alert_rules WHERE health = 'unknown' AND lease_owner = 'down'"))
                .as("nothing written: the leases end by themselves").isEqualTo("2");
        assertThat(one("SELECT count(*) FROM alert_history")).isEqualTo("0");
    }

    // --- helpers

    private AlertEvaluator evaluator(String node, Duration timeout, Function<PromqlQuery, Mono<PromqlResult>> query,
                                     SimpleMeterRegistry registry) {
        return evaluator(node, timeout, query, registry, defaults.pollInterval(), defaults.claimBatch(),
                AlertEvaluator.SlotOffsets.NONE);
    }

    /** Slots at the multiples of the interval unless {@code offsets} says otherwise, so that times here are round. */
    private AlertEvaluator evaluator(String node, Duration timeout, Function<PromqlQuery, Mono<PromqlResult>> query,
                                     SimpleMeterRegistry registry, Duration poll, int claimBatch,
                                     AlertEvaluator.SlotOffsets offsets) {
        AlertingConfig config = defaults.withEvaluationTimeout(timeout).withPolling(poll).withClaimBatch(claimBatch);
        AlertEvaluator evaluator = new AlertEvaluator(new AlertStore(calls, decoder), config, node, query, clock,
                STORE_WINDOW, registry, offsets);
        evaluators.add(evaluator);
        return evaluator;
    }

    /** The rules {@code node} claims at {@code now}, by id. */
    private static Map<Long, AlertStore.Claim> claims(AlertStore store, String node, Instant now, int limit) {
        Map<Long, AlertStore.Claim> claims = new java.util.HashMap<>();
        for (AlertStore.Claim c : store.claim(node, now, Duration.ofSeconds(10), limit).block(Duration.ofSeconds(30))) {
            claims.put(c.ruleId(), c);
        }
        return claims;
    }

    /** The claimed rule's state machine at T0 over one element {room="a"} of {@code value}. */
    private static Function<Map<Long, AlertStateMachine.Alert>, AlertStateMachine.Outcome> hot(AlertStore.Claim claim,
                                                                                              double value) {
        return current -> AlertStateMachine.evaluate(claim.rule(), current, List.of(new AlertStateMachine.Element(
                new java.util.TreeMap<>(Map.of("room", "a")), value)), T0, defaults.resolvedRetention(),
                AlertAnnotations.compile(claim.rule()));
    }

    /** A query that waits until opened, to hold an evaluation between its claim and its store. */
    private static final class Gate implements Function<PromqlQuery, Mono<PromqlResult>> {
        final AtomicBoolean entered = new AtomicBoolean();
        private final Sinks.Empty<Void> opened = Sinks.empty();
        private final Function<PromqlQuery, Mono<PromqlResult>> query;

        Gate(Function<PromqlQuery, Mono<PromqlResult>> query) {
            this.query = query;
        }

        @Override
        public Mono<PromqlResult> apply(PromqlQuery q) {
            return Mono.fromRunnable(() -> entered.set(true)).then(opened.asMono()).then(query.apply(q));
        }

        void open() {
            opened.tryEmitEmpty();
        }
    }

    private static long rule(String name, String expr, String op, Double threshold, long forMs, long intervalMs,
                             String noData, Instant next) {
        return Mono.usingWhen(pool.create(), c -> {
            Statement s = c.createStatement("""
                    INSERT INTO alert_rules (tenant_id, group_name, name, expr, op, threshold, for_ms, interval_ms,
                                             no_data, annotations, next_eval_at)
                    VALUES ('acme', 'g', $1, $2, $3, $4, $5, $6, $7,
                            '{"summary": "{{ $labels.room }} at {{ $value }}"}', $8) RETURNING id""")
                    .bind("$1", name).bind("$2", expr).bind("$5", forMs).bind("$6", intervalMs).bind("$7", noData)
                    .bind("$8", next);
            if (op == null) {
                s.bindNull("$3", String.class).bindNull("$4", Double.class);
            } else {
                s.bind("$3", op).bind("$4", threshold);
            }
            return Flux.from(s.execute()).flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).next();
        }, Connection::close).block(Duration.ofSeconds(30));
    }

    private static long queryRule(String name, String queryJson) {
        return Mono.usingWhen(pool.create(), c -> Flux.from(c.createStatement("""
                        INSERT INTO alert_rules (tenant_id, group_name, name, query, op, threshold, interval_ms,
                                                 next_eval_at)
                        VALUES ('acme', 'g', $1, $2::jsonb, '>', 50, 10000, $3) RETURNING id""")
                        .bind("$1", name).bind("$2", queryJson).bind("$3", T0).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).next(), Connection::close)
                .block(Duration.ofSeconds(30));
    }

    private static void sql(String sql) {
        Mono.usingWhen(pool.create(), c -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.getRowsUpdated()).then(), Connection::close).block(Duration.ofSeconds(30));
    }

    /** The first column of the first row as text (null as "null"). */
    private static String one(String sql, Object... binds) {
        return Mono.usingWhen(pool.create(), c -> {
            Statement s = c.createStatement(sql);
            for (int i = 0; i < binds.length; i++) {
                s.bind("$" + (i + 1), binds[i]);
            }
            return Flux.from(s.execute()).flatMap(r -> r.map((row, meta) -> String.valueOf(row.get(0)))).next();
        }, Connection::close).block(Duration.ofSeconds(30));
    }

    /** The rule's one alert: state and times in seconds since T0. */
    private static String instance(long rule) {
        return Mono.usingWhen(pool.create(), c -> Flux.from(c.createStatement("""
                        SELECT state, active_at, fired_at, resolved_at, last_seen_at, value FROM alert_instances
                        WHERE rule_id = $1""").bind("$1", rule).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, String.class) + " active=" + secs(row.get(1,
                        OffsetDateTime.class)) + " fired=" + secs(row.get(2, OffsetDateTime.class)) + " resolved="
                        + secs(row.get(3, OffsetDateTime.class)) + " seen=" + secs(row.get(4, OffsetDateTime.class))
                        + " value=" + row.get(5, Double.class)))
                .collectList(), Connection::close)
                .map(rows -> {
                    assertThat(rows).as("alerts of rule %d", rule).hasSize(1);
                    return rows.get(0);
                }).block(Duration.ofSeconds(30));
    }

    private static List<String> history(long rule) {
        return Mono.usingWhen(pool.create(), c -> Flux.from(c.createStatement("""
                        SELECT from_state, to_state, at, value FROM alert_history WHERE rule_id = $1 ORDER BY id""")
                        .bind("$1", rule).execute())
                .flatMap(r -> r.map((row, meta) -> row.get(0, String.class) + "->" + row.get(1, String.class)
                        + " at " + secs(row.get(2, OffsetDateTime.class)) + " value " + row.get(3, Double.class)))
                .collectList(), Connection::close).block(Duration.ofSeconds(30));
    }

    private static String secs(OffsetDateTime t) {
        if (t == null) {
            return "-";
        }
        Duration d = Duration.between(T0, t.toInstant());
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }
}
