package io.sluice.gateway.ratelimit;

import io.github.bucket4j.TimeMeter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.pool.ConnectionPool;
import io.r2dbc.spi.Connection;
import io.sluice.config.ClusterConfig;
import io.sluice.config.ConfigLoader;
import io.sluice.config.PostgresConfig;
import io.sluice.config.Role;
import io.sluice.config.TenantsConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.cluster.ClusterNodes;
import io.sluice.storage.cluster.NodeHeartbeat;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.embedded.FrozenProcesses;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/**
 * Cluster-wide quotas on the real PostgreSQL: gateways heartbeat into {@code cluster_nodes} (a database of this
 * test's own, so no other test's gateway is counted), each enforces tier / live gateways, a tenant driving two of
 * them gets its tier in total, and a gateway leaving (gracefully or by crashing) gives its share back within the
 * documented bound. Bucket time is a manual clock, so the measured window does not depend on this machine's speed.
 * The last test does the same through two real gateway processes' HTTP, to show the wiring.
 */
@RealInfrastructure
class ClusterQuotaTest {

    private static final Duration INTERVAL = Duration.ofMillis(200);
    private static final Duration TTL = Duration.ofSeconds(3);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(1);
    /** README: a graceful leave is seen within max(interval, call-timeout) + call-timeout (one interval when healthy). */
    private static final Duration GRACEFUL_BOUND = max(INTERVAL, CALL_TIMEOUT).plus(CALL_TIMEOUT);
    /** README: a crashed node stops counting within node-ttl plus the graceful bound. */
    private static final Duration CRASH_BOUND = TTL.plus(GRACEFUL_BOUND);
    private static final long TIER = 600; // requests per minute of a free tenant here

    private final AtomicLong nanos = new AtomicLong();
    private final TimeMeter clock = new TimeMeter() {
        @Override
        public long currentTimeNanos() {
            return nanos.get();
        }

        @Override
        public boolean isWallClockBased() {
            return false;
        }
    };
    private final TenantsConfig tenants = ConfigLoader.load(null, Map.of(),
            Map.of("tenants.free.requests-per-minute", Long.toString(TIER))).tenants();
    private final List<Node> nodes = new ArrayList<>();
    private ConnectionPool pool;

    /** One gateway's part in this: its heartbeat, its limiter and its meters. */
    private record Node(NodeHeartbeat heartbeat, TenantRateLimiter limiter, MeterRegistry registry) {
        double failures() {
            return registry.get("sluice_cluster_heartbeat_failures").counter().count();
        }

        double liveGauge() {
            return registry.get("sluice_cluster_live_gateways").gauge().value();
        }
    }

    private PostgresConfig db;

    @BeforeEach
    void database(TestInfrastructure infra) {
        db = infra.newDatabase("cluster", 6);
        pool = PostgresConnections.pool(db);
    }

    @AfterEach
    void stop() {
        nodes.forEach(n -> n.heartbeat().close());
        pool.dispose();
    }

    private Node start(String id) {
        MeterRegistry registry = new SimpleMeterRegistry();
        PostgresCalls calls = new PostgresCalls(pool, CALL_TIMEOUT, registry);
        NodeHeartbeat heartbeat = new NodeHeartbeat(new ClusterNodes(calls), id, Set.of(Role.GATEWAY),
                new ClusterConfig(id, INTERVAL, TTL), CALL_TIMEOUT, registry).start();
        Node node = new Node(heartbeat, new TenantRateLimiter(tenants, clock, heartbeat::liveGateways, registry),
                registry);
        nodes.add(node);
        return node;
    }

    private ClusterNodes nodesTable() {
        return new ClusterNodes(new PostgresCalls(pool, CALL_TIMEOUT, new SimpleMeterRegistry()));
    }

    @Test
    void aTenantDrivingTwoGatewaysGetsItsTierAndAGracefulLeaveGivesTheShareBack() {
        Node a = start("gw-a");
        Node b = start("gw-b");
        await().atMost(Duration.ofSeconds(30)).until(() -> a.heartbeat().liveGateways() == 2
                && b.heartbeat().liveGateways() == 2);
        assertThat(a.liveGauge()).isEqualTo(2.0);
        Principal tenant = new Principal("both", Tier.FREE);

        // the initial burst: each gateway's bucket starts full with its share
        assertThat(drain(a, tenant)).isEqualTo(TIER / 2);
        assertThat(drain(b, tenant)).isEqualTo(TIER / 2);
        // then one minute, in 100 ms steps, taking all both gateways allow
        long taken = 0;
        for (int step = 0; step < 600; step++) {
            nanos.addAndGet(Duration.ofMillis(100).toNanos());
            taken += drain(a, tenant) + drain(b, tenant);
        }
        System.out.printf("cluster quota: %d requests through two gateways in one minute, tier %d (%.1f%%)%n",
                taken, TIER, 100.0 * taken / TIER);
        assertThat(a.heartbeat().liveGateways()).as("the count stood during the window").isEqualTo(2);
        assertThat(b.heartbeat().liveGateways()).isEqualTo(2);
        assertThat((double) taken).as("within 15 percent of the tier, not twice it").isCloseTo(TIER, within(TIER * 0.15));

        long left = System.nanoTime();
        b.heartbeat().close();
        await().atMost(GRACEFUL_BOUND).until(() -> a.heartbeat().liveGateways() == 1);
        Duration seen = Duration.ofNanos(System.nanoTime() - left);
        System.out.printf("cluster quota: a graceful leave was seen by the other gateway after %d ms (bound %d ms)%n",
                seen.toMillis(), GRACEFUL_BOUND.toMillis());
        assertThat(a.liveGauge()).isEqualTo(1.0);
        assertThat(a.limiter().tryConsume(new Principal("fresh", Tier.FREE), TenantRateLimiter.Kind.REQUESTS, 1).limit())
                .as("the whole tier again").isEqualTo(TIER);
        nanos.addAndGet(Duration.ofSeconds(6).toNanos());
        assertThat(drain(a, tenant)).as("6 s at the whole tier of 600/min").isCloseTo(60L, within(1L));
    }

    @Test
    void aCrashedGatewayStopsCountingAfterTheTtlNotBefore() {
        Node a = start("gw-alone");
        await().atMost(Duration.ofSeconds(30)).until(() -> nodeRow("gw-alone"));
        assertThat(a.heartbeat().liveGateways()).isEqualTo(1);

        // a gateway that heartbeats once and then dies without deleting its row
        long crashed = System.nanoTime();
        assertThat(nodesTable().beat("gw-crashed", Set.of(Role.GATEWAY), TTL, TTL.multipliedBy(10))
                .block(Duration.ofSeconds(10))).isEqualTo(2);
        await().atMost(GRACEFUL_BOUND).until(() -> a.heartbeat().liveGateways() == 2);
        await().atMost(CRASH_BOUND).until(() -> a.heartbeat().liveGateways() == 1);
        Duration gone = Duration.ofNanos(System.nanoTime() - crashed);
        System.out.printf("cluster quota: a crashed gateway stopped counting after %d ms (ttl %d ms, bound %d ms)%n",
                gone.toMillis(), TTL.toMillis(), CRASH_BOUND.toMillis());
        assertThat(gone).as("counted until its ttl passed").isGreaterThanOrEqualTo(TTL);
        assertThat(nodeRow("gw-crashed")).as("expired, but not yet long enough to be deleted").isTrue();
    }

    @Test
    void onlyGatewaysCountAndLongExpiredRowsAreDeleted() {
        ClusterNodes table = nodesTable();
        Duration hour = Duration.ofHours(1);
        assertThat(table.beat("old", Set.of(Role.GATEWAY), hour, hour).block(Duration.ofSeconds(10))).isEqualTo(1);
        assertThat(table.beat("writer", Set.of(Role.WRITER), hour, hour).block(Duration.ofSeconds(10)))
                .as("a writer-only process counts the gateway, not itself").isEqualTo(1);
        assertThat(table.beat("both", Set.of(Role.GATEWAY, Role.WRITER), hour, hour).block(Duration.ofSeconds(10)))
                .isEqualTo(2);
        assertThat(roles("both")).isEqualTo("gateway,writer");

        // "writer" now forgets nodes not seen for 300 ms: "old" and "both" go, "writer" itself never
        Duration ttl = Duration.ofMillis(100);
        Duration forget = Duration.ofMillis(300);
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            table.beat("writer", Set.of(Role.WRITER), ttl, forget).block(Duration.ofSeconds(10));
            return !nodeRow("old") && !nodeRow("both");
        });
        assertThat(nodeRow("writer")).isTrue();
        table.leave("writer").block(Duration.ofSeconds(10));
        assertThat(nodeRow("writer")).as("a graceful leave deletes the row").isFalse();
    }

    @Test
    void whilePostgresIsFrozenHeartbeatsFailAndTheLastCountStands(TestInfrastructure infra) {
        Node a = start("gw-frozen-a");
        Node b = start("gw-frozen-b");
        await().atMost(Duration.ofSeconds(30)).until(() -> a.heartbeat().liveGateways() == 2
                && b.heartbeat().liveGateways() == 2);
        Principal tenant = new Principal("frozen", Tier.FREE);
        double before = a.failures();
        try (FrozenProcesses frozen = FrozenProcesses.postgres(infra.postgres())) {
            await().atMost(Duration.ofSeconds(20)).until(() -> a.failures() >= before + 2);
            assertThat(a.heartbeat().liveGateways()).as("the last count PostgreSQL gave").isEqualTo(2);
            assertThat(a.liveGauge()).isEqualTo(2.0);
            assertThat(a.limiter().tryConsume(tenant, TenantRateLimiter.Kind.REQUESTS, 1).limit())
                    .as("still half the tier: neither raised to the whole tier nor lowered").isEqualTo(TIER / 2);
        }
        // and once it answers again, heartbeats go on
        await().atMost(Duration.ofSeconds(30)).until(() -> a.registry().get("sluice_postgres_reachable").gauge()
                .value() == 1.0 && a.heartbeat().liveGateways() == 2 && b.heartbeat().liveGateways() == 2);
    }

    @Test
    void twoGatewayProcessesShareATierOverHttpAndTheSurvivorGetsItAllBack(TestInfrastructure infra) throws Exception {
        Map<String, String> overrides = Map.of("server.port", "0", "tenants.free.requests-per-minute", "10",
                "cluster.heartbeat-interval", INTERVAL.toMillis() + "ms", "cluster.node-ttl", TTL.toMillis() + "ms");
        String key = KeysCommand.create(new ApiKeyStore(pool), "http-tenant", Tier.FREE);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        try (GatewayRole one = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), overrides)).withPostgres(db));
             GatewayRole two = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), overrides)).withPostgres(db))) {
            await().atMost(Duration.ofSeconds(30)).until(() -> liveGateways(one) == 2 && liveGateways(two) == 2);
            int allowed = 0;
            HttpResponse<String> answer;
            while ((answer = links(http, one, key)).statusCode() == 200) {
                allowed++;
            }
            assertThat(answer.statusCode()).isEqualTo(429);
            assertThat(answer.headers().firstValue("ratelimit-limit")).as("half the tier of 10").hasValue("5");
            assertThat(allowed).as("a refill may add one while the requests run").isBetween(5, 6);

            two.close();
            await().atMost(GRACEFUL_BOUND).until(() -> liveGateways(one) == 1);
            // a new connection: the one above was told to wait, and a request on it before then would be answered
            // by the RetryAfterGate without this route's headers
            HttpClient fresh = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            assertThat(links(fresh, one, key).headers().firstValue("ratelimit-limit")).hasValue("10");
        }
    }

    private static double liveGateways(GatewayRole sluice) {
        return sluice.meterRegistry().get("sluice_cluster_live_gateways").gauge().value();
    }

    private static HttpResponse<String> links(HttpClient http, GatewayRole sluice, String key) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + "/api/v1/links"))
                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Takes single requests until refused; returns how many were allowed. */
    private static long drain(Node node, Principal tenant) {
        long allowed = 0;
        while (node.limiter().tryConsume(tenant, TenantRateLimiter.Kind.REQUESTS, 1).allowed()) {
            allowed++;
        }
        return allowed;
    }

    private boolean nodeRow(String id) {
        return roles(id) != null;
    }

    private String roles(String id) {
        return Mono.usingWhen(pool.create(), (Connection c) -> Flux.from(c.createStatement(
                                "SELECT roles FROM cluster_nodes WHERE node_id = $1").bind("$1", id).execute())
                        .flatMap(r -> r.map(row -> row.get(0, String.class))).next(),
                Connection::close).block(Duration.ofSeconds(10));
    }

    private static Duration max(Duration x, Duration y) {
        return x.compareTo(y) >= 0 ? x : y;
    }
}
