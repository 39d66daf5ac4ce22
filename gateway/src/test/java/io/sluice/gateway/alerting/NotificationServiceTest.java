package io.sluice.gateway.alerting;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.AlertingConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.storage.testing.MutableClock;
import io.sluice.storage.alerting.notify.JsonTree;
import io.sluice.storage.alerting.notify.LabelMatcher;
import io.sluice.storage.alerting.notify.NotificationService;
import io.sluice.storage.alerting.notify.NotifyStore;
import io.sluice.storage.alerting.notify.RetryBackoff;
import io.sluice.storage.alerting.notify.Route;
import io.sluice.storage.alerting.notify.Silence;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.embedded.FrozenProcesses;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Notifications end to end on real PostgreSQL, with a real HTTP receiver (Netty) that fails, hangs and recovers.
 * The test plays the evaluator by writing {@code alert_instances} rows, and moves time with the services' clock.
 */
@RealInfrastructure
class NotificationServiceTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
    private static final Duration GROUP_WAIT = Duration.ofSeconds(30);
    private static final Duration GROUP_INTERVAL = Duration.ofMinutes(5);
    private static final Duration REPEAT = Duration.ofHours(4);
    private static final Duration INITIAL_BACKOFF = Duration.ofSeconds(10);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(80);
    private static final String EXTERNAL_URL = "https://sluice.example.com";

    private static ConnectionPool pool;
    private static PostgresCalls calls;
    private static NotifyStore store;
    private static AlertingConfig config;

    private final List<NotificationService> services = new ArrayList<>();
    private WebhookReceiver receiver;
    private MutableClock clock;
    private SimpleMeterRegistry registry;

    @BeforeAll
    static void database(TestInfrastructure infra) {
        pool = PostgresConnections.pool(infra.newDatabase("notify", 12));
        calls = new PostgresCalls(pool, Duration.ofSeconds(10), new SimpleMeterRegistry());
        store = new NotifyStore(calls);
        config = SluiceConfig.defaults().alerting().withPolling(Duration.ofMillis(50))
                .withNotificationTimes(GROUP_WAIT, GROUP_INTERVAL, REPEAT)
                .withDelivery(Duration.ofMillis(700), INITIAL_BACKOFF, MAX_BACKOFF, Duration.ofHours(24))
                .withExternalUrl(EXTERNAL_URL);
    }

    @AfterAll
    static void close() {
        pool.dispose();
    }

    @BeforeEach
    void clean() throws Exception {
        sql("TRUNCATE alert_instances, alert_groups, alert_outbox, alert_routes, alert_receivers, alert_silences");
        sql("INSERT INTO tenants (id, tier) VALUES ('ta', 'free'), ('tb', 'free') ON CONFLICT DO NOTHING");
        receiver = new WebhookReceiver();
        clock = new MutableClock(T0);
        registry = new SimpleMeterRegistry();
    }

    @AfterEach
    void stop() {
        services.forEach(NotificationService::close);
        receiver.close();
    }

    @Test
    void groupsNotifiesOnceRepeatsOnlyAfterRepeatIntervalAndNotifiesResolution() {
        receiverRow("ta", "am", "alertmanager", "/am", true);
        routes("ta", route(List.of(), "am", List.of("alertname")));
        fire("ta", 1, 11, Map.of("alertname", "HighCPU", "host", "a", "severity", "page"), 0.9);
        fire("ta", 1, 12, Map.of("alertname", "HighCPU", "host", "b", "severity", "page"), 0.95);
        start("n1");

        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 1);
        assertThat(instant("SELECT next_flush_at FROM alert_groups")).isEqualTo(T0.plus(GROUP_WAIT));
        assertThat(receiver.requests()).as("nothing before group_wait").isEmpty();

        clock.advance(GROUP_WAIT);
        await().atMost(WAIT).until(() -> receiver.requests().size() == 1);
        WebhookReceiver.Request first = receiver.requests().get(0);
        assertThat(first.header("Content-Type")).isEqualTo("application/json");
        assertThat(first.header("Idempotency-Key")).matches("[0-9a-f]{32}");
        Map<?, ?> payload = (Map<?, ?>) JsonTree.parse(first.body());
        assertThat(new ArrayList<Object>(payload.keySet())).containsExactlyInAnyOrder("version", "groupKey", "truncatedAlerts", "status",
                "receiver", "groupLabels", "commonLabels", "commonAnnotations", "externalURL", "alerts");
        assertThat(payload.get("version")).isEqualTo("4");
        assertThat(payload.get("truncatedAlerts")).isEqualTo(0L);
        assertThat(payload.get("status")).isEqualTo("firing");
        assertThat(payload.get("receiver")).isEqualTo("am");
        assertThat(payload.get("groupKey")).isEqualTo("{}:{alertname=\"HighCPU\"}");
        assertThat(payload.get("groupLabels")).isEqualTo(Map.of("alertname", "HighCPU"));
        assertThat(payload.get("commonLabels")).isEqualTo(Map.of("alertname", "HighCPU", "severity", "page"));
        assertThat(payload.get("commonAnnotations")).isEqualTo(Map.of("summary", "it is high"));
        assertThat(payload.get("externalURL")).isEqualTo(EXTERNAL_URL);
        List<?> alerts = (List<?>) payload.get("alerts");
        assertThat(alerts).hasSize(2);
        for (Object o : alerts) {
            Map<?, ?> a = (Map<?, ?>) o;
            assertThat(new ArrayList<Object>(a.keySet())).containsExactlyInAnyOrder("status", "labels", "annotations", "startsAt", "endsAt",
                    "generatorURL", "fingerprint");
            assertThat(a.get("status")).isEqualTo("firing");
            assertThat(a.get("startsAt")).isEqualTo(T0.toString());
            assertThat(a.get("endsAt")).isEqualTo("0001-01-01T00:00:00Z");
            assertThat((String) a.get("fingerprint")).matches("[0-9a-f]{16}");
            assertThat(a.get("generatorURL")).isEqualTo(EXTERNAL_URL + "/api/v1/alerts/rules/1");
        }
        assertThat(alerts.stream().map(a -> (Object) ((Map<?, ?>) ((Map<?, ?>) a).get("labels")).get("host")).toList())
                .containsExactlyInAnyOrder("a", "b");

        // unchanged: nothing at the next group_interval; the group is looked at and rescheduled
        clock.advance(GROUP_INTERVAL);
        Instant looked = clock.instant();
        await().atMost(WAIT).until(() -> instant("SELECT next_flush_at FROM alert_groups").isAfter(looked));
        assertThat(receiver.requests()).hasSize(1);

        // repeat_interval after the first notification: sent again, with a new key
        clock.set(T0.plus(GROUP_WAIT).plus(REPEAT));
        await().atMost(WAIT).until(() -> receiver.requests().size() == 2);
        assertThat(receiver.requests().get(1).header("Idempotency-Key"))
                .isNotEqualTo(first.header("Idempotency-Key"));

        // one resolves: notified (with the other still firing) at the next group_interval
        Instant resolvedAt = clock.instant();
        resolve(1, 11);
        clock.advance(GROUP_INTERVAL);
        await().atMost(WAIT).until(() -> receiver.requests().size() == 3);
        Map<?, ?> partly = (Map<?, ?>) JsonTree.parse(receiver.requests().get(2).body());
        assertThat(partly.get("status")).isEqualTo("firing");
        assertThat((List<?>) partly.get("alerts")).anySatisfy(o -> {
            Map<?, ?> a = (Map<?, ?>) o;
            assertThat(a.get("status")).isEqualTo("resolved");
            assertThat(a.get("endsAt")).isEqualTo(resolvedAt.toString());
        });

        // the other resolves: a resolved notification, then the group is gone and nothing more is sent
        resolve(1, 12);
        clock.advance(GROUP_INTERVAL);
        await().atMost(WAIT).until(() -> receiver.requests().size() == 4);
        assertThat(((Map<?, ?>) JsonTree.parse(receiver.requests().get(3).body())).get("status"))
                .isEqualTo("resolved");
        clock.advance(GROUP_INTERVAL);
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 0);
        clock.advance(REPEAT);
        services.get(0).dispatchOnce().block(WAIT);
        assertThat(receiver.requests()).hasSize(4);
        assertThat(count("SELECT count(*) FROM alert_outbox")).isZero();
        await().atMost(WAIT).until(() -> counter("ta", "am", "sent") == 4);
    }

    @Test
    void routesBySeverityAndSendsTheGenericWebhookFormat() {
        receiverRow("ta", "pager", "alertmanager", "/pager", true);
        receiverRow("ta", "chat", "webhook", "/chat", true);
        routes("ta", route(List.of(LabelMatcher.of("severity", "=", "critical")), "pager", List.of("alertname")),
                route(List.of(), "chat", List.of("alertname")));
        fire("ta", 1, 21, Map.of("alertname", "DiskFull", "severity", "critical"), 99.0);
        fire("ta", 2, 22, Map.of("alertname", "DiskSlow", "severity", "warning"), 7.5);
        start("n1");
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 2);
        clock.advance(GROUP_WAIT);
        await().atMost(WAIT).until(() -> receiver.requests().size() == 2);

        assertThat(receiver.requests("/pager")).hasSize(1);
        assertThat(receiver.requests("/pager").get(0).body()).contains("DiskFull").doesNotContain("DiskSlow");
        assertThat(receiver.requests("/chat")).hasSize(1);
        Map<?, ?> chat = (Map<?, ?>) JsonTree.parse(receiver.requests("/chat").get(0).body());
        assertThat(new ArrayList<Object>(chat.keySet())).containsExactlyInAnyOrder("tenant", "receiver", "group_key", "group_labels",
                "status", "idempotency_key", "external_url", "alerts");
        assertThat(chat.get("external_url")).isEqualTo(EXTERNAL_URL);
        assertThat(chat.get("tenant")).isEqualTo("ta");
        assertThat(chat.get("receiver")).isEqualTo("chat");
        assertThat(chat.get("idempotency_key")).isEqualTo(receiver.requests("/chat").get(0).header("Idempotency-Key"));
        Map<?, ?> alert = (Map<?, ?>) ((List<?>) chat.get("alerts")).get(0);
        assertThat(alert.get("state")).isEqualTo("firing");
        assertThat(alert.get("value")).isEqualTo(7.5);
        assertThat(alert.get("active_at")).isEqualTo(T0.toString());
        assertThat(alert.get("fired_at")).isEqualTo(T0.toString());
        assertThat(alert.get("resolved_at")).isNull();
        assertThat(alert.get("generator_url")).isEqualTo(EXTERNAL_URL + "/api/v1/alerts/rules/2");
        assertThat(((Map<?, ?>) alert.get("labels")).get("alertname")).isEqualTo("DiskSlow");
    }

    @Test
    void aChangedGroupIsNotifiedNoSoonerThanGroupInterval() {
        receiverRow("ta", "am", "alertmanager", "/am", true);
        routes("ta", route(List.of(), "am", List.of("alertname")));
        fire("ta", 1, 31, Map.of("alertname", "Latency", "host", "a"), 1.0);
        NotificationService service = start("n1");
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 1);
        clock.advance(GROUP_WAIT);
        await().atMost(WAIT).until(() -> receiver.requests().size() == 1
                && count("SELECT count(*) FROM alert_outbox") == 0);
        Instant sent = clock.instant();

        fire("ta", 1, 32, Map.of("alertname", "Latency", "host", "b"), 2.0);
        service.dispatchOnce().block(WAIT);
        clock.set(sent.plus(GROUP_INTERVAL).minusSeconds(1));
        service.dispatchOnce().block(WAIT);
        assertThat(count("SELECT count(*) FROM alert_outbox")).isZero();
        assertThat(receiver.requests()).hasSize(1);

        clock.set(sent.plus(GROUP_INTERVAL));
        await().atMost(WAIT).until(() -> receiver.requests().size() == 2);
        assertThat(((List<?>) ((Map<?, ?>) JsonTree.parse(receiver.requests().get(1).body())).get("alerts")))
                .hasSize(2);
    }

    @Test
    void aSilenceSuppressesUntilItIsExpired() {
        receiverRow("ta", "am", "alertmanager", "/am", true);
        routes("ta", route(List.of(), "am", List.of("alertname")));
        Silence silence = store.createSilence("ta", List.of(LabelMatcher.of("alertname", "=~", "Nois.*")),
                T0.minusSeconds(60), T0.plus(Duration.ofHours(1)), "ops@example.com", "maintenance", T0).block(WAIT);
        fire("ta", 1, 41, Map.of("alertname", "Noisy"), 1.0);
        fire("ta", 2, 42, Map.of("alertname", "Other"), 1.0);
        NotificationService service = start("n1");
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 1);
        clock.advance(GROUP_WAIT);
        await().atMost(WAIT).until(() -> receiver.requests().size() == 1
                && count("SELECT count(*) FROM alert_outbox") == 0);
        service.dispatchOnce().block(WAIT);
        assertThat(receiver.requests().get(0).body()).contains("Other").doesNotContain("Noisy");
        assertThat(count("SELECT count(*) FROM alert_instances WHERE fingerprint = 41 AND state = 'firing'"))
                .as("a silenced alert keeps its state").isEqualTo(1);
        assertThat(count("SELECT count(*) FROM alert_outbox")).isZero();

        store.expireSilence("ta", silence.id(), clock.instant()).block(WAIT);
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 2);
        clock.advance(GROUP_WAIT);
        await().atMost(WAIT).until(() -> receiver.requests().size() == 2);
        assertThat(receiver.requests().get(1).body()).contains("Noisy");
    }

    @Test
    void aFailingReceiverGetsTheSameKeyWithFullJitterBackoffUntilItRecovers() {
        receiverRow("ta", "am", "alertmanager", "/am", true);
        routes("ta", route(List.of(), "am", List.of("alertname")));
        fire("ta", 1, 51, Map.of("alertname", "Down"), 0.0);
        receiver.answer(500);
        start("n1");
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 1);
        clock.advance(GROUP_WAIT);
        Instant failedAt = clock.instant();
        await().atMost(WAIT).until(() -> count("SELECT attempts FROM alert_outbox") == 1);
        assertThat(receiver.requests()).hasSize(1);
        assertThat(instant("SELECT next_attempt_at FROM alert_outbox"))
                .isBetween(failedAt, failedAt.plus(INITIAL_BACKOFF));
        assertThat(text("SELECT last_error FROM alert_outbox")).isEqualTo("HTTP 500");

        clock.advance(INITIAL_BACKOFF);
        Instant secondAt = clock.instant();
        await().atMost(WAIT).until(() -> count("SELECT attempts FROM alert_outbox") == 2);
        assertThat(instant("SELECT next_attempt_at FROM alert_outbox"))
                .isBetween(secondAt, secondAt.plus(INITIAL_BACKOFF.multipliedBy(2)));

        receiver.answer(200);
        clock.advance(INITIAL_BACKOFF.multipliedBy(2));
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_outbox") == 0);
        List<WebhookReceiver.Request> requests = receiver.requests();
        assertThat(requests).hasSize(3);
        assertThat(requests).extracting(r -> r.header("Idempotency-Key")).containsOnly(
                requests.get(0).header("Idempotency-Key"));
        assertThat(requests).extracting(WebhookReceiver.Request::body).containsOnly(requests.get(0).body());
        await().atMost(WAIT).until(() -> counter("ta", "am", "sent") == 1);
        await().atMost(WAIT).until(() -> counter("ta", "am", "failed") == 2);
        await().atMost(WAIT).until(() -> counter("ta", "am", "retried") == 2);
        assertThat(registry.find("sluice_alert_delivery").tag("outcome", "ok").timer().count()).isEqualTo(1);
    }

    @Test
    void aTimeoutIsRetriedAndAClientErrorIsDropped() {
        receiverRow("ta", "am", "alertmanager", "/am", true);
        routes("ta", route(List.of(), "am", List.of("alertname")));
        fire("ta", 1, 61, Map.of("alertname", "Slow"), 0.0);
        receiver.hang();
        start("n1");
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 1);
        clock.advance(GROUP_WAIT);
        await().atMost(WAIT).until(() -> count("SELECT attempts FROM alert_outbox") == 1);
        assertThat(text("SELECT last_error FROM alert_outbox")).isEqualTo("timed out");
        receiver.answer(200);
        clock.advance(INITIAL_BACKOFF);
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_outbox") == 0);
        assertThat(receiver.requests()).hasSize(2);
        await().atMost(WAIT).until(() -> counter("ta", "am", "sent") == 1);

        // a receiver that refuses the request (4xx other than 408, 429) is not retried
        receiver.answer(400);
        fire("ta", 2, 62, Map.of("alertname", "Refused"), 0.0);
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 2);
        clock.advance(GROUP_WAIT);
        await().atMost(WAIT).until(() -> counter("ta", "am", "dropped") == 1);
        assertThat(count("SELECT count(*) FROM alert_outbox")).isZero();
        assertThat(receiver.requests()).hasSize(3);
    }

    @Test
    void aNotificationPendingAcrossARestartIsDelivered() {
        receiverRow("ta", "am", "alertmanager", "/am", true);
        routes("ta", route(List.of(), "am", List.of("alertname")));
        fire("ta", 1, 71, Map.of("alertname", "Restart"), 0.0);
        receiver.answer(503);
        NotificationService first = start("n1");
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 1);
        clock.advance(GROUP_WAIT);
        await().atMost(WAIT).until(() -> count("SELECT attempts FROM alert_outbox") == 1);
        first.close();

        receiver.answer(200);
        clock.advance(INITIAL_BACKOFF);
        start("n2");
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_outbox") == 0);
        assertThat(receiver.requests()).hasSize(2);
        assertThat(receiver.requests().get(1).header("Idempotency-Key"))
                .isEqualTo(receiver.requests().get(0).header("Idempotency-Key"));
    }

    @Test
    void twoServicesOverTheSameTablesNeverBothNotify() {
        receiverRow("ta", "am", "alertmanager", "/am", true);
        receiverRow("tb", "am", "webhook", "/tb", true);
        routes("ta", route(List.of(), "am", List.of("alertname")));
        routes("tb", route(List.of(), "am", List.of("alertname")));
        for (int i = 0; i < 8; i++) {
            fire("ta", 1, 100 + i, Map.of("alertname", "A" + i), i);
            fire("tb", 2, 200 + i, Map.of("alertname", "B" + i), i);
        }
        NotificationService one = start("n1");
        NotificationService two = start("n2");
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 16);
        for (int round = 1; round <= 3; round++) {
            clock.advance(round == 1 ? GROUP_WAIT : REPEAT);
            int expected = 16 * round;
            await().atMost(WAIT).until(() -> receiver.requests().size() >= expected
                    && count("SELECT count(*) FROM alert_outbox") == 0);
            // both dispatch at once, again and again: nothing is due, nothing more is sent
            for (int i = 0; i < 3; i++) {
                Mono.when(one.dispatchOnce(), two.dispatchOnce()).block(WAIT);
            }
            assertThat(count("SELECT count(*) FROM alert_outbox")).isZero();
            assertThat(receiver.requests()).hasSize(expected);
        }
        Set<String> keys = new HashSet<>();
        receiver.requests().forEach(r -> keys.add(r.header("Idempotency-Key")));
        assertThat(keys).hasSize(48);
        assertThat(receiver.requests("/tb")).hasSize(24);
    }

    @Test
    void theOutboxIsBoundedPerTenant() {
        AlertingConfig small = config.withOutboxMaxRows(3);
        receiverRow("ta", "am", "alertmanager", "/am", true);
        routes("ta", route(List.of(), "am", List.of("alertname")));
        for (int i = 0; i < 5; i++) {
            fire("ta", 1, 300 + i, Map.of("alertname", "X" + i), i);
        }
        receiver.answer(500);
        NotificationService service = new NotificationService(calls, small, "n1", clock, registry, new Random(3));
        services.add(service);
        service.dispatchOnce().block(WAIT);
        clock.advance(GROUP_WAIT);
        service.dispatchOnce().block(WAIT);
        assertThat(count("SELECT count(*) FROM alert_outbox")).isEqualTo(3);
        await().atMost(WAIT).until(() -> counter("ta", "am", "dropped") == 2);
        assertThat(registry.find("sluice_alert_outbox_rows").gauge().value()).isEqualTo(3);
    }

    @Test
    void aReceiverWithoutSendResolvedHearsNothingOfResolutions() {
        receiverRow("ta", "quiet", "webhook", "/quiet", false);
        routes("ta", route(List.of(), "quiet", List.of("alertname")));
        fire("ta", 1, 81, Map.of("alertname", "Blip"), 1.0);
        NotificationService service = start("n1");
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 1);
        clock.advance(GROUP_WAIT);
        await().atMost(WAIT).until(() -> receiver.requests().size() == 1
                && count("SELECT count(*) FROM alert_outbox") == 0);
        resolve(1, 81);
        clock.advance(GROUP_INTERVAL);
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 0);
        service.dispatchOnce().block(WAIT);
        assertThat(count("SELECT count(*) FROM alert_outbox")).isZero();
        assertThat(receiver.requests()).hasSize(1);
    }

    @Test
    void aNotificationNotDeliveredWithinDeliveryMaxAgeIsDropped() {
        receiverRow("ta", "am", "alertmanager", "/am", true);
        routes("ta", route(List.of(), "am", List.of("alertname")));
        fire("ta", 1, 91, Map.of("alertname", "Old"), 1.0);
        receiver.answer(500);
        NotificationService service = new NotificationService(calls, config.withDelivery(config.webhookTimeout(),
                INITIAL_BACKOFF, MAX_BACKOFF, Duration.ofMinutes(1)), "n1", clock, registry, new Random(5)).start();
        services.add(service);
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 1);
        clock.advance(GROUP_WAIT);
        await().atMost(WAIT).until(() -> count("SELECT attempts FROM alert_outbox") == 1);
        clock.advance(Duration.ofMinutes(2));
        await().atMost(WAIT).until(() -> counter("ta", "am", "dropped") == 1);
        assertThat(count("SELECT count(*) FROM alert_outbox")).isZero();
        assertThat(receiver.requests()).as("not sent again once too old").hasSize(1);
    }

    @Test
    void aPostgresOutageDelaysNotificationsAndLosesNone(TestInfrastructure infra) {
        receiverRow("ta", "am", "alertmanager", "/am", true);
        routes("ta", route(List.of(), "am", List.of("alertname")));
        fire("ta", 1, 95, Map.of("alertname", "Outage"), 1.0);
        SimpleMeterRegistry postgresMeters = new SimpleMeterRegistry();
        PostgresCalls shortCalls = new PostgresCalls(pool, Duration.ofMillis(500), postgresMeters);
        NotificationService service = new NotificationService(shortCalls, config, "n1", clock, registry,
                new Random(9)).start();
        services.add(service);
        await().atMost(WAIT).until(() -> count("SELECT count(*) FROM alert_groups") == 1);
        try (FrozenProcesses frozen = FrozenProcesses.postgres(infra.postgres())) {
            assertThat(frozen.size()).isGreaterThan(1);
            clock.advance(GROUP_WAIT); // due now, while nothing answers
            // the service's calls pass their deadline (counted), nothing is sent, and nothing breaks its loops
            await().atMost(WAIT).until(() -> postgresMeters.find("sluice_postgres_call_failures")
                    .tag("reason", "deadline").counters().stream().mapToDouble(c -> c.count()).sum() >= 3);
            assertThat(receiver.requests()).isEmpty();
        }
        await().atMost(WAIT).until(() -> receiver.requests().size() == 1
                && count("SELECT count(*) FROM alert_outbox") == 0);
        assertThat(receiver.requests().get(0).body()).contains("Outage");
    }

    @Test
    void backoffHasFullJitterWithinItsExponentialCap() {
        Random random = new Random(42);
        for (int attempts = 1; attempts <= 8; attempts++) {
            long cap = Math.min(MAX_BACKOFF.toMillis(), INITIAL_BACKOFF.toMillis() << (attempts - 1));
            assertThat(RetryBackoff.capMillis(attempts, INITIAL_BACKOFF, MAX_BACKOFF)).isEqualTo(cap);
            long min = Long.MAX_VALUE;
            long max = 0;
            for (int i = 0; i < 2000; i++) {
                long d = RetryBackoff.delay(attempts, INITIAL_BACKOFF, MAX_BACKOFF, random).toMillis();
                assertThat(d).isBetween(0L, cap);
                min = Math.min(min, d);
                max = Math.max(max, d);
            }
            assertThat(min).as("full jitter reaches near 0").isLessThan(cap / 20);
            assertThat(max).as("and near the cap").isGreaterThan(cap - cap / 20);
        }
        assertThat(RetryBackoff.capMillis(1000, INITIAL_BACKOFF, MAX_BACKOFF)).isEqualTo(MAX_BACKOFF.toMillis());
    }

    // helpers

    private NotificationService start(String node) {
        NotificationService service = new NotificationService(calls, config, node, clock, registry, new Random(7))
                .start();
        services.add(service);
        return service;
    }

    private static Route route(List<LabelMatcher> matchers, String receiverName, List<String> groupBy) {
        return new Route(matchers, receiverName, groupBy, GROUP_WAIT, GROUP_INTERVAL, REPEAT, false);
    }

    private static void routes(String tenant, Route... routes) {
        store.replaceRoutes(tenant, List.of(routes)).block(WAIT);
    }

    private void receiverRow(String tenant, String name, String kind, String path, boolean sendResolved) {
        sql("INSERT INTO alert_receivers (tenant_id, name, kind, url, send_resolved) VALUES ($1, $2, $3, $4, $5)",
                tenant, name, kind, receiver.url(path), sendResolved);
    }

    /** Plays the evaluator: an alert that fires now. */
    private void fire(String tenant, long rule, long fingerprint, Map<String, String> labels, double value) {
        Instant now = clock.instant();
        sql("INSERT INTO alert_instances (rule_id, fingerprint, tenant_id, labels, annotations, state, value, active_at, "
                        + "fired_at, last_seen_at, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, 'firing', $6, "
                        + "$7, $7, $7, $7)", rule, fingerprint, tenant,
                JsonTree.write(j -> JsonTree.writeStrings(j, new TreeMap<>(labels))),
                "{\"summary\": \"it is high\"}", value, now);
    }

    private void resolve(long rule, long fingerprint) {
        sql("UPDATE alert_instances SET state = 'resolved', resolved_at = $3, updated_at = $3 WHERE rule_id = $1 "
                + "AND fingerprint = $2", rule, fingerprint, clock.instant());
    }

    private double counter(String tenant, String receiverName, String result) {
        var c = registry.find("sluice_alert_notifications").tag("tenant", tenant).tag("receiver", receiverName)
                .tag("result", result).counter();
        return c == null ? 0 : c.count();
    }

    private static void sql(String sql, Object... binds) {
        Mono.usingWhen(pool.create(), (Connection c) -> {
            var statement = c.createStatement(sql);
            for (int i = 0; i < binds.length; i++) {
                statement.bind("$" + (i + 1), binds[i]);
            }
            return Flux.from(statement.execute()).flatMap(r -> r.getRowsUpdated()).then();
        }, Connection::close).block(WAIT);
    }

    private static <T> T one(String sql, Class<T> type) {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.map(row -> row.get(0, type))).next(), Connection::close).block(WAIT);
    }

    private static long count(String sql) {
        Number n = one(sql, Number.class);
        return n == null ? -1 : n.longValue();
    }

    private static Instant instant(String sql) {
        OffsetDateTime t = one(sql, OffsetDateTime.class);
        return t == null ? Instant.MIN : t.toInstant();
    }

    private static String text(String sql) {
        return one(sql, String.class);
    }
}
