package io.sluice.dev;

import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.ConfigArgs;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.embedded.EmbeddedKafkaBroker;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.StoredSamples;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code sluice cluster} proves what running Sluice as separate processes must hold: a 3-broker Kafka cluster, one
 * PostgreSQL, two gateway and two writer processes. Losing a broker or a writer loses no acknowledged sample and
 * stores none twice; a link changed on one gateway is seen by the other; a tenant's tier holds across both gateways
 * and comes back whole to the one left when the other stops. What each step measured is printed (the note
 * quotes it).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalClusterTest {

    private static final Duration WAIT = Duration.ofMinutes(3);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** The paid tier of this cluster: 1,200 requests a minute, 20 a second, for the whole cluster. */
    private static final long PAID_PER_MINUTE = 1_200;
    /** Long enough for two clients to spend a paid tenant's burst (its minute, 1,200 requests). */
    private static final Duration WARM_UP_LIMIT = Duration.ofMinutes(1);

    @TempDir
    static Path dir;
    private static LocalCluster cluster;
    private static ConnectionPool postgres;
    private static String enterpriseKey;
    private static String enterpriseTenant;

    @BeforeAll
    static void start() {
        ConfigArgs args = ConfigArgs.parse(List.of("--dev.data-dir=" + dir.resolve("dev"),
                "--tenants.paid.requests-per-minute=" + PAID_PER_MINUTE,
                "--tenants.enterprise.requests-per-minute=10000000",
                "--cluster.heartbeat-interval=1s", "--cluster.node-ttl=5s",
                "--writer.session-timeout=6s", "--kafka.partitions=4"));
        SluiceConfig config = args.load(Map.of());
        long began = System.nanoTime();
        cluster = LocalCluster.start(config, args, LocalCluster.Options.DEFAULT,
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        System.out.printf("cluster: 3 brokers, PostgreSQL, 2 gateways, 2 writers, 2 alerters ready in %d ms%n",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
        postgres = PostgresConnections.pool(cluster.postgres().configure(config.postgres()));
        enterpriseTenant = "cl-" + UUID.randomUUID().toString().substring(0, 8);
        enterpriseKey = KeysCommand.create(new ApiKeyStore(postgres), enterpriseTenant, Tier.ENTERPRISE);
    }

    @AfterAll
    static void stop() {
        if (postgres != null) {
            postgres.dispose();
        }
        if (cluster != null) {
            cluster.close();
            assertThat(ProcessHandle.allProcesses().filter(ProcessHandle::isAlive)
                    .map(p -> p.info().commandLine().orElse("")).filter(c -> c.contains(dir.toString())))
                    .as("nothing of the cluster left running").isEmpty();
        }
    }

    @Test
    @Order(1)
    void ingestThroughBothGatewaysWhileABrokerIsKilledLosesAndDuplicatesNothing() throws Exception {
        Set<Long> acked = ConcurrentHashMap.newKeySet();
        AtomicInteger refused = new AtomicInteger();
        EmbeddedKafkaBroker victim = cluster.kafka().nodes().get(1);
        try (Load load = new Load(cluster.gateways(), enterpriseKey, "broker_loss", acked, refused)) {
            load.awaitAcked(500);
            victim.kill();
            int before = acked.size();
            load.awaitAcked(before + 2_000);
        }
        victim.start();
        System.out.printf("broker loss: %d samples acknowledged (%d refused) through 2 gateways, broker 2 killed midway%n",
                acked.size(), refused.get());
        assertStoredExactlyOnce("broker_loss", acked);
    }

    @Test
    @Order(2)
    void aWriterKilledHandsItsPartitionsToTheOtherAndNothingIsLostOrDoubled() throws Exception {
        ClusterNode killed = cluster.writers().get(0);
        ClusterNode survivor = cluster.writers().get(1);
        int total = 3 * 4;
        // the broker restarted by the test before may have sent a writer back to rejoin the group: until it is back,
        // the other holds every partition, so the test starts once the group has settled with both sharing them
        await().atMost(WAIT).untilAsserted(() -> {
            double held = gauge(survivor, "sluice_writer_partitions");
            assertThat(held + gauge(killed, "sluice_writer_partitions")).as("the two writers share every partition")
                    .isEqualTo(total);
            assertThat(held).as("partitions of the writer left running").isBetween(1.0, total - 1.0);
        });
        Set<Long> acked = ConcurrentHashMap.newKeySet();
        AtomicInteger refused = new AtomicInteger();
        long rebalanced;
        try (Load load = new Load(cluster.gateways(), enterpriseKey, "writer_loss", acked, refused)) {
            load.awaitAcked(500);
            long killedAt = System.nanoTime();
            killed.kill();
            await().atMost(WAIT).until(() -> gauge(survivor, "sluice_writer_partitions") == total);
            rebalanced = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
            load.awaitAcked(acked.size() + 1_000);
        }
        System.out.printf("writer loss: writer-2 held all %d partitions %d ms after writer-1 was killed "
                + "(writer.session-timeout 6s); %d samples acknowledged%n", total, rebalanced, acked.size());
        assertStoredExactlyOnce("writer_loss", acked);
        killed.launch();
        killed.awaitReady(WAIT);
        await().atMost(WAIT).untilAsserted(() -> assertThat(gauge(killed, "sluice_writer_partitions"))
                .as("the restarted writer takes its share back").isPositive());
    }

    @Test
    @Order(3)
    void aLinkChangedOnOneGatewayIsSeenByTheOther() throws Exception {
        ClusterNode one = cluster.gateways().get(0);
        ClusterNode two = cluster.gateways().get(1);
        HttpResponse<String> created = send(one, "POST", "/api/v1/links", enterpriseKey,
                "{\"url\":\"https://example.com/v1\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        Matcher code = Pattern.compile("\"code\":\"([^\"]+)\"").matcher(created.body());
        assertThat(code.find()).isTrue();
        assertThat(send(two, "GET", "/" + code.group(1), null, null).headers().firstValue("location"))
                .as("the other gateway now has it cached").hasValue("https://example.com/v1");
        assertThat(send(one, "PATCH", "/api/v1/links/" + code.group(1), enterpriseKey,
                "{\"url\":\"https://example.com/v2\"}").statusCode()).isEqualTo(200);
        long changed = System.nanoTime();
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(send(two, "GET", "/" + code.group(1),
                null, null).headers().firstValue("location")).hasValue("https://example.com/v2"));
        System.out.printf("links: the change on gateway-1 reached gateway-2's cache in %d ms (links.cache-ttl 10m)%n",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - changed));
    }

    @Test
    @Order(4)
    void aTenantsTierHoldsAcrossBothGatewaysAndTheOneLeftGetsItWhole() throws Exception {
        String key = KeysCommand.create(new ApiKeyStore(postgres), "cl-quota-" + UUID.randomUUID().toString()
                .substring(0, 8), Tier.PAID);
        List<ClusterNode> both = cluster.gateways();
        Duration window = Duration.ofSeconds(15);
        double expected = PAID_PER_MINUTE * window.toMillis() / 60_000.0;

        long together = accepted(both, key, window);
        System.out.printf("quota: paid tier %d/min over both gateways: %d requests accepted in %s (expected %.0f, %+.1f%%)%n",
                PAID_PER_MINUTE, together, window, expected, 100 * (together - expected) / expected);
        assertThat((double) together).isBetween(expected * 0.85, expected * 1.15);

        ClusterNode left = both.get(0);
        long stoppedAt = System.nanoTime();
        both.get(1).stop(Duration.ofSeconds(40));
        await().atMost(Duration.ofSeconds(20)).until(() -> gauge(left, "sluice_cluster_live_gateways") == 1.0);
        long givenBack = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stoppedAt);
        long alone = accepted(List.of(left), key, window);
        System.out.printf("quota: gateway-2 stopped; gateway-1 counted 1 live gateway %d ms later "
                        + "(cluster.heartbeat-interval 1s) and accepted %d in %s alone (expected %.0f, %+.1f%%)%n",
                givenBack, alone, window, expected, 100 * (alone - expected) / expected);
        assertThat((double) alone).isBetween(expected * 0.85, expected * 1.15);
    }

    @Test
    @Order(5)
    void anAlerterKilledHandsItsRulesToTheOtherAndNoPendingTimerStartsOver() throws Exception {
        ClusterNode gateway = cluster.gateways().get(0);
        int rules = 8;
        Duration interval = Duration.ofSeconds(5);
        Duration forDuration = Duration.ofSeconds(30);
        StringBuilder samples = new StringBuilder("{\"samples\":[");
        long now = System.currentTimeMillis();
        for (int i = 0; i < rules; i++) { // a group each: their slots spread over the interval
            HttpResponse<String> created = send(gateway, "POST", "/api/v1/alerts/rules", enterpriseKey,
                    "{\"group\":\"handover-" + i + "\",\"name\":\"Hot\",\"expr\":\"handover_temp{room=\\\"r" + i
                            + "\\\"}\",\"op\":\">\",\"threshold\":50,\"for\":\"30s\",\"interval\":\"5s\"}");
            assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
            samples.append(i == 0 ? "" : ",").append("{\"name\":\"handover_temp\",\"labels\":{\"room\":\"r")
                    .append(i).append("\"},\"timestamp\":").append(now).append(",\"value\":70}");
        }
        HttpResponse<String> sent = send(gateway, "POST", "/api/v1/ingest/metrics", enterpriseKey, samples + "]}");
        assertThat(sent.statusCode()).as(sent.body()).isEqualTo(202);
        String ours = " FROM alert_instances i JOIN alert_rules r ON r.id = i.rule_id WHERE r.tenant_id = $1"
                + " AND r.group_name LIKE 'handover-%'";
        await().atMost(WAIT).until(() -> sqlLong("SELECT count(*)" + ours + " AND i.state = 'pending'") == rules);
        Map<String, String> activeAt = sqlMap("SELECT r.group_name, i.active_at::text" + ours);
        // a due slot goes to whichever alerter polls first after it: with polls in step (alerters started together)
        // one of them may take every slot, so the one killed is one that evaluates, and the other must take over
        ClusterNode first = cluster.alerters().get(0);
        ClusterNode second = cluster.alerters().get(1);
        boolean firstEvaluates = gauge(first, "sluice_alert_evaluations_total")
                >= gauge(second, "sluice_alert_evaluations_total");
        ClusterNode killed = firstEvaluates ? first : second;
        ClusterNode survivor = firstEvaluates ? second : first;
        assertThat(gauge(killed, "sluice_alert_evaluations_total")).as("the alerter to kill evaluates rules")
                .isPositive();

        java.time.OffsetDateTime killedAt = java.time.OffsetDateTime.now();
        long killedNanos = System.nanoTime();
        killed.kill();
        // a lease ends within one interval (min(interval, evaluation timeout + call timeout)): the survivor claims
        // the rules the killed alerter held at its next poll, and evaluates every rule at its next slot
        await().atMost(interval.multipliedBy(5)).until(() -> sqlLong("SELECT count(*) FROM alert_rules WHERE"
                + " tenant_id = $1 AND group_name LIKE 'handover-%' AND last_eval_at > $2", killedAt) == rules);
        long handover = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedNanos);

        await().atMost(WAIT).until(() -> sqlLong("SELECT count(*)" + ours + " AND i.state = 'firing'") == rules);
        assertThat(sqlMap("SELECT r.group_name, i.active_at::text" + ours))
                .as("each timer kept the start it had before the kill").isEqualTo(activeAt);
        assertThat(sqlLong("SELECT count(*)" + ours + " AND i.fired_at - i.active_at >= interval '30 seconds'"
                + " AND i.fired_at - i.active_at < interval '45 seconds'")).as("fired once `for` had run").isEqualTo(rules);
        assertThat(sqlMap("SELECT r.group_name, string_agg(h.from_state || '->' || h.to_state, ',' ORDER BY h.id)"
                + " FROM alert_history h JOIN alert_rules r ON r.id = h.rule_id WHERE r.tenant_id = $1"
                + " AND r.group_name LIKE 'handover-%' GROUP BY r.group_name").values())
                .as("one pending and one firing per alert: no timer started over, no second firing")
                .hasSize(rules).containsOnly("inactive->pending,pending->firing");
        System.out.printf("alerter loss: every one of %d rules (interval %s, for %s) evaluated again %d ms after "
                + "%s was killed; all fired on time%n", rules, interval, forDuration, handover,
                firstEvaluates ? "alerter-1" : "alerter-2");
        killed.launch();
        killed.awaitReady(WAIT);
    }

    private static long sqlLong(String sql, Object... more) {
        List<String> values = sqlRows(sql, more).stream().map(r -> r[0]).toList();
        return Long.parseLong(values.get(0));
    }

    private static Map<String, String> sqlMap(String sql) {
        Map<String, String> map = new java.util.TreeMap<>();
        for (String[] row : sqlRows(sql)) {
            map.put(row[0], row[1]);
        }
        return map;
    }

    /** Rows of {@code sql} as text, {@code $1} the enterprise tenant and {@code $2}... {@code more}. */
    private static List<String[]> sqlRows(String sql, Object... more) {
        return reactor.core.publisher.Mono.usingWhen(postgres.create(), c -> {
            io.r2dbc.spi.Statement statement = c.createStatement(sql);
            if (sql.contains("$1")) {
                statement.bind("$1", enterpriseTenant);
            }
            for (int i = 0; i < more.length; i++) {
                statement.bind("$" + (i + 2), more[i]);
            }
            return reactor.core.publisher.Flux.from(statement.execute())
                    .flatMap(r -> r.map((row, meta) -> {
                        String[] cells = new String[meta.getColumnMetadatas().size()];
                        for (int i = 0; i < cells.length; i++) {
                            cells[i] = String.valueOf(row.get(i));
                        }
                        return cells;
                    })).collectList();
        }, io.r2dbc.spi.Connection::close).block(Duration.ofSeconds(30));
    }

    /** Every acknowledged sample is stored, none twice (values are unique, so a value seen twice is a duplicate). */
    private static void assertStoredExactlyOnce(String metric, Set<Long> acked) {
        long began = System.nanoTime();
        await().atMost(WAIT).untilAsserted(() -> {
            Set<Long> stored = new HashSet<>();
            for (StoredSamples.Sample s : StoredSamples.of(postgres, enterpriseTenant)) {
                if (s.name().equals(metric)) {
                    assertThat(stored.add((long) s.value())).as("stored once: %s", s).isTrue();
                }
            }
            Set<Long> missing = new HashSet<>(acked);
            missing.removeAll(stored);
            assertThat(missing).as("acknowledged but not stored").isEmpty();
        });
        System.out.printf("  all %d acknowledged samples stored exactly once, %d ms after the load stopped%n",
                acked.size(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
    }

    /**
     * One client per gateway posting batches of {@value #BATCH} samples until closed. Sample {@code n} has the value
     * {@code n}, series {@code n % 16} and timestamp {@code base + n / 16}: every (series, timestamp) is unique.
     */
    private static final class Load implements AutoCloseable {

        static final int BATCH = 50;

        private final AtomicBoolean running = new AtomicBoolean(true);
        private final AtomicLong next = new AtomicLong();
        private final List<Thread> clients = new ArrayList<>();
        private final Set<Long> acked;
        private final long base = System.currentTimeMillis();

        Load(List<ClusterNode> gateways, String key, String metric, Set<Long> acked, AtomicInteger refused) {
            this.acked = acked;
            for (ClusterNode gateway : gateways) {
                Thread client = new Thread(() -> {
                    while (running.get()) {
                        long first = next.getAndAdd(BATCH);
                        StringBuilder body = new StringBuilder("{\"samples\":[");
                        for (long n = first; n < first + BATCH; n++) {
                            body.append(n == first ? "" : ",").append("{\"name\":\"").append(metric)
                                    .append("\",\"labels\":{\"s\":\"").append(n % 16).append("\"},\"timestamp\":")
                                    .append(base + n / 16).append(",\"value\":").append(n).append('}');
                        }
                        body.append("]}");
                        try {
                            HttpResponse<String> answer = send(gateway, "POST", "/api/v1/ingest/metrics", key,
                                    body.toString());
                            if (answer.statusCode() == 202 && answer.body().startsWith("{\"accepted\":" + BATCH + ",")) {
                                for (long n = first; n < first + BATCH; n++) {
                                    acked.add(n);
                                }
                            } else {
                                refused.incrementAndGet();
                            }
                        } catch (Exception e) {
                            refused.incrementAndGet(); // not acknowledged: it may or may not be stored
                        }
                    }
                }, "load-" + gateway.name());
                client.start();
                clients.add(client);
            }
        }

        void awaitAcked(int count) {
            await().atMost(WAIT).until(() -> acked.size() >= count);
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            for (Thread client : clients) {
                client.join();
            }
        }
    }

    /**
     * Requests accepted (not 429) for {@code key} over {@code window}, one client per gateway asking as fast as it is
     * answered. The clients first ask until every gateway has refused one request, so the buckets' initial burst (a
     * tier's minute) is spent; the window starts then, and only what is asked in it counts: the measure is the rate the
     * cluster lets through. A slow machine takes longer to spend the burst; {@link #WARM_UP_LIMIT} bounds that.
     */
    private static long accepted(List<ClusterNode> gateways, String key, Duration window) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(gateways.size());
        try {
            AtomicLong accepted = new AtomicLong();
            CountDownLatch drained = new CountDownLatch(gateways.size());
            AtomicLong from = new AtomicLong(Long.MAX_VALUE);
            long giveUp = System.nanoTime() + WARM_UP_LIMIT.toNanos();
            List<Future<?>> clients = new ArrayList<>();
            for (ClusterNode gateway : gateways) {
                clients.add(pool.submit(() -> {
                    boolean refused = false;
                    while (true) {
                        long asked = System.nanoTime();
                        long start = from.get();
                        if (start == Long.MAX_VALUE ? asked > giveUp : asked >= start + window.toNanos()) {
                            return null;
                        }
                        int status = send(gateway, "GET", "/api/v1/links?limit=1", key, null).statusCode();
                        if (status != 200 && status != 429) {
                            throw new IllegalStateException(gateway.name() + " answered " + status);
                        }
                        if (status == 429 && !refused) {
                            refused = true;
                            drained.countDown();
                            if (drained.getCount() == 0) {
                                from.compareAndSet(Long.MAX_VALUE, System.nanoTime());
                            }
                        }
                        if (asked >= start && status == 200) {
                            accepted.incrementAndGet();
                        }
                    }
                }));
            }
            for (Future<?> client : clients) {
                client.get();
            }
            assertThat(drained.getCount()).as("gateways that never refused within %s of asking", WARM_UP_LIMIT)
                    .isZero();
            return accepted.get();
        } finally {
            pool.shutdownNow();
        }
    }

    private static double gauge(ClusterNode node, String name) throws Exception {
        String text = send(node, "GET", "/metrics", null, null).body();
        Matcher m = Pattern.compile("(?m)^" + name + "\\{[^}]*} ([0-9.eE+-]+)$").matcher(text);
        double sum = 0;
        boolean found = false;
        while (m.find()) {
            sum += Double.parseDouble(m.group(1));
            found = true;
        }
        if (!found) {
            throw new IllegalStateException(name + " not in " + node.name() + "'s /metrics");
        }
        return sum;
    }

    private static HttpResponse<String> send(ClusterNode node, String method, String path, String key, String body)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(node.url() + path))
                .timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
