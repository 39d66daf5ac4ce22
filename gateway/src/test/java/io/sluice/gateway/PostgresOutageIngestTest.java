package io.sluice.gateway;

import com.github.benmanes.caffeine.cache.Ticker;
import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Ack;
import io.sluice.protocol.frame.ErrorFrame;
import io.sluice.protocol.frame.HelloOk;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.embedded.FrozenProcesses;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * PostgreSQL down is not an outage for ingest (issue #12, bullet 7): with PostgreSQL frozen longer than every
 * API key cache TTL (the caches' ticker is moved past them), a key that authenticated before keeps authenticating
 * from its last valid verdict, HTTP ingest keeps answering 202 and binary ingest keeps ACKing, a binary agent that
 * connects during the outage gets HELLO_OK at once, and everything acknowledged reaches Kafka. A key never seen
 * cannot be checked (503). Once PostgreSQL answers again, a revocation applies.
 */
@RealInfrastructure
class PostgresOutageIngestTest {

    /** Long enough that "at once" (no PostgreSQL wait) and "after the deadline" cannot be confused. */
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(3);
    private static final Duration AT_ONCE = Duration.ofMillis(1500);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void knownKeysKeepIngestingIntoKafkaThroughAPostgresOutageLongerThanEveryCacheTtl(TestInfrastructure infra)
            throws Exception {
        String tenant = "pgout-" + UUID.randomUUID().toString().substring(0, 8);
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        String key = KeysCommand.create(keys, tenant, Tier.ENTERPRISE);
        String unseen = KeysCommand.create(keys, "pgout-other-" + UUID.randomUUID().toString().substring(0, 8),
                Tier.ENTERPRISE);
        AtomicLong offset = new AtomicLong();
        Set<Double> acked = new HashSet<>();
        try (GatewayRole sluice = start(infra, offset)) {
            int port = sluice.port();
            Duration cacheTtl = sluice.config().auth().cacheTtl();
            Duration negativeTtl = sluice.config().auth().negativeTtl();
            Duration longestTtl = cacheTtl.compareTo(negativeTtl) > 0 ? cacheTtl : negativeTtl;
            assertThat(ingest(port, key, 0, acked).statusCode()).isEqualTo(202); // the key's verdict: valid
            RawAgent before = RawAgent.session(port, key);
            long sequence = 0;
            int batch = 1;

            try (FrozenProcesses frozen = FrozenProcesses.postgres(infra.postgres())) {
                offset.addAndGet(longestTtl.plusMinutes(1).toNanos()); // every cached verdict has expired
                for (int round = 0; round < 6; round++) {
                    HttpResponse<String> response = ingest(port, key, batch++, acked);
                    assertThat(response.statusCode()).as("round " + round + ": " + response.body()).isEqualTo(202);
                    before.send(before.batch(++sequence, "pgout.binary", 5, System.currentTimeMillis(),
                            1_000_000 + sequence * 10));
                    assertThat(before.next()).isEqualTo(new Ack(sequence));
                    for (int i = 0; i < 5; i++) {
                        acked.add(1_000_000.0 + sequence * 10 + i);
                    }
                    offset.addAndGet(Duration.ofMinutes(20).toNanos()); // 2 h past the last lookup in the end
                }

                // known to be unreachable now: a known key is answered at once, on both transports
                long start = System.nanoTime();
                HttpResponse<String> quick = ingest(port, key, batch++, acked);
                assertThat(quick.statusCode()).isEqualTo(202);
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(AT_ONCE);
                start = System.nanoTime();
                try (RawAgent during = RawAgent.connect(port)) {
                    during.hello(key);
                    assertThat(during.next()).isInstanceOf(HelloOk.class);
                    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("HELLO_OK at once").isLessThan(AT_ONCE);
                    during.send(during.batch(1, "pgout.binary", 5, System.currentTimeMillis(), 2_000_000));
                    assertThat(during.next()).isEqualTo(new Ack(1));
                    for (int i = 0; i < 5; i++) {
                        acked.add(2_000_000.0 + i);
                    }
                }
                // a key never seen cannot be checked: 503, not a guess
                HttpResponse<String> unknown = ingest(port, unseen, batch++, new HashSet<>());
                assertThat(unknown.statusCode()).as(unknown.body()).isEqualTo(503);
                assertThat(unknown.headers().firstValue("retry-after")).isPresent();
                assertThat(sluice.meterRegistry().get("sluice_auth_stale").counter().count()).isPositive();
            }
            before.close();

            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200));
            Set<Double> inKafka = new HashSet<>();
            for (KafkaTopicReader.Item item : KafkaTopicReader.readAll(infra.bootstrapServers(), "sluice.metrics")) {
                if (item.tenant().equals(tenant)) {
                    inKafka.add(item.value());
                }
            }
            assertThat(inKafka).containsAll(acked);
            assertThat(acked).hasSize(8 * 10 + 7 * 5);

            // PostgreSQL answers again: a revocation applies once the verdict is looked up again
            assertThat(keys.revokeAll(tenant).block(Duration.ofSeconds(10))).isEqualTo(1);
            offset.addAndGet(cacheTtl.plusSeconds(1).toNanos());
            await().atMost(Duration.ofSeconds(15)).untilAsserted(() ->
                    assertThat(ingest(port, key, 99, new HashSet<>()).statusCode()).isEqualTo(401));
            try (RawAgent revoked = RawAgent.connect(port)) {
                revoked.hello(key);
                assertThat(revoked.next()).isInstanceOfSatisfying(ErrorFrame.class,
                        e -> assertThat(e.code()).isEqualTo(ErrorCode.AUTH_FAILED));
            }
        }
    }

    /**
     * A key in steady use is not held up when its verdict expires just as PostgreSQL freezes (before any call has
     * found it unreachable): it is answered at once from the verdict while it is looked up again, where it used to
     * wait for the whole call deadline. With PostgreSQL answering, a revocation still applies from the request
     * after the one that started the lookup.
     */
    @Test
    void aKeyInSteadyUseIsAnsweredAtOnceWhileItsExpiredVerdictIsLookedUpAgain(TestInfrastructure infra)
            throws Exception {
        String tenant = "pgrev-" + UUID.randomUUID().toString().substring(0, 8);
        ApiKeyStore keys = new ApiKeyStore(infra.connectionFactory());
        String key = KeysCommand.create(keys, tenant, Tier.ENTERPRISE);
        String otherTenant = tenant + "-b";
        String other = KeysCommand.create(keys, otherTenant, Tier.ENTERPRISE);
        AtomicLong offset = new AtomicLong();
        try (GatewayRole sluice = start(infra, offset)) {
            int port = sluice.port();
            Duration cacheTtl = sluice.config().auth().cacheTtl();
            assertThat(ingest(port, key, 0, new HashSet<>()).statusCode()).isEqualTo(202); // confirmed now
            double revalidatedBefore = sluice.meterRegistry().get("sluice_auth_revalidated").counter().count();
            try (FrozenProcesses frozen = FrozenProcesses.postgres(infra.postgres())) {
                offset.addAndGet(cacheTtl.plusSeconds(1).toNanos()); // the verdict expired a second ago
                assertThat(sluice.meterRegistry().get("sluice_postgres_reachable").gauge().value())
                        .as("no call has found PostgreSQL unreachable yet").isEqualTo(1.0);
                long start = System.nanoTime();
                HttpResponse<String> response = ingest(port, key, 1, new HashSet<>());
                assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
                assertThat(Duration.ofNanos(System.nanoTime() - start)).as("not held up by the lookup")
                        .isLessThan(AT_ONCE);
                // the binary transport, the same rule: HELLO_OK at once while the lookup is under way
                start = System.nanoTime();
                try (RawAgent agent = RawAgent.connect(port)) {
                    agent.hello(key);
                    assertThat(agent.next()).isInstanceOf(HelloOk.class);
                    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("HELLO_OK at once").isLessThan(AT_ONCE);
                }
                assertThat(sluice.meterRegistry().get("sluice_auth_revalidated").counter().count())
                        .isEqualTo(revalidatedBefore + 2);
            }

            // PostgreSQL answers: a revoked key's expired verdict answers the request that starts its lookup, and the
            // lookup's answer (revoked) applies from then on
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + "/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200));
            // a key not seen before waits for its lookup, so its verdict is confirmed before the revocation
            assertThat(ingest(port, other, 2, new HashSet<>()).statusCode()).isEqualTo(202);
            assertThat(keys.revokeAll(otherTenant).block(Duration.ofSeconds(10))).isEqualTo(1);
            offset.addAndGet(cacheTtl.plusSeconds(1).toNanos());
            assertThat(ingest(port, other, 3, new HashSet<>()).statusCode()).as("answered from the verdict")
                    .isEqualTo(202);
            await().atMost(Duration.ofSeconds(15)).untilAsserted(() ->
                    assertThat(ingest(port, other, 4, new HashSet<>()).statusCode()).isEqualTo(401));
        }
    }

    /** A gateway with {@link #CALL_TIMEOUT} whose caches' ticker runs {@code offset} ahead of the real one. */
    private static GatewayRole start(TestInfrastructure infra, AtomicLong offset) {
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("postgres.call-timeout", CALL_TIMEOUT.toMillis() + "ms");
        Ticker ticker = () -> System.nanoTime() + offset.get();
        return GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), overrides)), UnaryOperator.identity(),
                ticker);
    }

    /** Posts batch {@code b} of 10 samples; a 202 adds its values to {@code acked}. */
    private HttpResponse<String> ingest(int port, String key, int b, Set<Double> acked) throws Exception {
        long now = System.currentTimeMillis();
        StringBuilder body = new StringBuilder("{\"samples\":[");
        for (int i = 0; i < 10; i++) {
            body.append(i == 0 ? "" : ",").append("{\"name\":\"pgout.http\",\"labels\":{\"s\":\"").append(i)
                    .append("\"},\"timestamp\":").append(now).append(",\"value\":").append(b * 10 + i).append('}');
        }
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/api/v1/ingest/metrics"))
                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofString(body.append("]}").toString())).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() == 202) {
            for (int i = 0; i < 10; i++) {
                acked.add((double) (b * 10 + i));
            }
        }
        return response;
    }
}
