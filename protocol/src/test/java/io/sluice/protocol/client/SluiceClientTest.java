package io.sluice.protocol.client;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.SessionLimits;
import io.sluice.protocol.record.Series;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The agent client against a real Netty server that drops, delays, NACKs and throttles. */
class SluiceClientTest {

    private static final Series[] SERIES = {
            Series.of("cpu", "host", "a"), Series.of("cpu", "host", "b"), Series.of("mem", "host", "a")};

    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    private TestServer server() throws InterruptedException {
        return track(new TestServer());
    }

    private <T extends AutoCloseable> T track(T t) {
        resources.add(t);
        return t;
    }

    private SluiceClientBuilder clientFor(TestServer server) {
        return SluiceClient.builder().address("127.0.0.1", server.port()).apiKey(TestServer.API_KEY)
                .reconnectBackoff(Duration.ofMillis(5), Duration.ofMillis(50)).random(new Random(42))
                .closeTimeout(Duration.ofSeconds(10));
    }

    /** Sends {@code n} batches of 10 samples each; returns the futures and records the sample keys sent. */
    private static List<CompletableFuture<Void>> sendBatches(SluiceClient client, int n, int firstBatch, Set<String> sent) {
        List<CompletableFuture<Void>> futures = new ArrayList<>();
        for (int b = firstBatch; b < firstBatch + n; b++) {
            RecordBatch batch = client.newBatch();
            for (int i = 0; i < 10; i++) {
                Series s = SERIES[(b + i) % SERIES.length];
                long ts = 1_700_000_000_000L + b * 100L + i;
                batch.addSample(s, ts, b + i / 10.0);
                sent.add(s + "@" + ts + "=" + (b + i / 10.0));
            }
            futures.add(client.send(batch));
        }
        return futures;
    }

    private static AtomicInteger countCompletions(List<CompletableFuture<Void>> futures) {
        AtomicInteger completions = new AtomicInteger();
        futures.forEach(f -> f.whenComplete((v, e) -> completions.incrementAndGet()));
        return completions;
    }

    @Test
    void everyBatchIsAcknowledged() throws Exception {
        TestServer server = server();
        SluiceClient client = track(clientFor(server).build());
        Set<String> sent = new HashSet<>();
        List<CompletableFuture<Void>> futures = sendBatches(client, 50, 0, sent);
        CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get(10, TimeUnit.SECONDS);
        assertThat(server.ackedSamples).isEqualTo(sent);
        assertThat(server.timesSeen).hasSize(50);
        assertThat(client.stats().acks()).isEqualTo(50);
        assertThat(client.stats().sessions()).isEqualTo(1);
    }

    @Test
    void droppedConnectionsAndDelayedAcksLoseNothing() throws Exception {
        TestServer server = server();
        // Every connection dies at its 7th batch (unanswered); acks are delayed at random up to 20 ms.
        server.script = (seq, seen, conn, index, first) -> index == 7
                ? TestServer.Reply.of(TestServer.Action.DROP)
                : TestServer.Reply.ackAfter(ThreadLocalRandom.current().nextInt(20));
        SluiceClient client = track(clientFor(server).maxInFlightBatches(4).build());
        Set<String> sent = new HashSet<>();
        List<CompletableFuture<Void>> futures = sendBatches(client, 120, 0, sent);
        AtomicInteger completions = countCompletions(futures);

        CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get(30, TimeUnit.SECONDS);

        assertThat(futures).allSatisfy(f -> assertThat(f).isCompletedWithValue(null));
        await().untilAsserted(() -> assertThat(completions).hasValue(120));
        assertThat(server.ackedSamples).as("the server acknowledged every sample").isEqualTo(sent);
        assertThat(server.ackedSequences).hasSize(120);
        assertThat(server.connections.get()).isGreaterThan(10);
        assertThat(client.stats().resends()).isPositive();
        assertThat(server.timesSeen.values()).anySatisfy(n -> assertThat(n.get()).isGreaterThan(1));
    }

    @Test
    void throttledAndRetryLaterNacksAreRetriedAfterTheirRetryAfter() throws Exception {
        TestServer server = server();
        server.script = (seq, seen, conn, index, first) -> seen > 1 ? TestServer.Reply.ack()
                : TestServer.Reply.nack(seq % 2 == 0 ? ErrorCode.THROTTLED : ErrorCode.RETRY_LATER, 300);
        SluiceClient client = track(clientFor(server).build());
        Set<String> sent = new HashSet<>();
        List<CompletableFuture<Void>> futures = sendBatches(client, 4, 0, sent);
        CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get(10, TimeUnit.SECONDS);

        assertThat(server.ackedSamples).isEqualTo(sent);
        assertThat(server.resentAt.keySet()).isEqualTo(server.nackedAt.keySet()).hasSize(4);
        server.nackedAt.forEach((seq, nackedAt) -> assertThat(server.resentAt.get(seq) - nackedAt)
                .as("batch %d resent after its retry-after", seq)
                .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(300)));
        assertThat(client.stats().nacks()).isEqualTo(4);
    }

    @Test
    void nonRetriableNackFailsOnlyThatBatchNamingTheCode() throws Exception {
        TestServer server = server();
        server.script = (seq, seen, conn, index, first) -> seq == 2
                ? TestServer.Reply.nack(ErrorCode.INVALID_RECORD, 0) : TestServer.Reply.ack();
        SluiceClient client = track(clientFor(server).build());
        List<CompletableFuture<Void>> futures = sendBatches(client, 3, 0, new HashSet<>());

        assertThatThrownBy(() -> futures.get(1).join()).isInstanceOf(CompletionException.class)
                .cause().isInstanceOfSatisfying(BatchRejectedException.class,
                        e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.INVALID_RECORD))
                .hasMessageContaining("INVALID_RECORD");
        futures.get(0).get(5, TimeUnit.SECONDS);
        futures.get(2).get(5, TimeUnit.SECONDS);
        assertThat(server.timesSeen.get(2L)).hasValue(1);
    }

    @Test
    void batchesBreakingAnnouncedLimitsFailWithoutBeingSent() throws Exception {
        TestServer server = server();
        server.announce = SessionLimits.of(Map.of(SessionLimits.Limit.MAX_NAME_BYTES, 8L,
                SessionLimits.Limit.MAX_LABEL_VALUE_BYTES, 4L, SessionLimits.Limit.MAX_RECORDS_PER_BLOCK, 3L,
                SessionLimits.Limit.MAX_ATTRIBUTES_PER_EVENT, 1L, SessionLimits.Limit.LATE_WINDOW_MS, 3_600_000L));
        SluiceClient client = track(clientFor(server).build());
        long ts = 1_700_000_000_000L;

        RecordBatch longName = client.newBatch().addSample(Series.of("a.long.name"), ts, 1); // 11 bytes > 8
        RecordBatch longValue = client.newBatch().addSample(Series.of("cpu", "host", "\u00e9\u00e9\u00e9"), ts, 1); // 6 bytes > 4
        RecordBatch tooMany = client.newBatch();
        for (int i = 0; i < 4; i++) {
            tooMany.addSample(SERIES[0], ts + i, i);
        }
        RecordBatch attributes = client.newBatch().addEvent("e1", "deploy", ts, "k", Map.of("a", "1", "b", "2"));
        RecordBatch fits = client.newBatch().addSample(Series.of("cpu", "host", "\u00e9\u00e9"), ts, 1)
                .addEvent("e2", "deploy", ts, "k", Map.of("a", "1"));

        for (RecordBatch bad : List.of(longName, longValue, tooMany, attributes)) {
            CompletableFuture<Void> f = client.send(bad);
            assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS)).cause()
                    .isInstanceOfSatisfying(BatchRejectedException.class, e -> {
                        assertThat(e.errorCode()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
                        assertThat(e.getMessage()).contains("the server accepts");
                    });
        }
        client.send(fits).get(10, TimeUnit.SECONDS);
        assertThat(server.lastHelloOptions).containsEntry("limits", "1");
        assertThat(server.timesSeen).as("only the batch that fits reached the server").hasSize(1);
        assertThat(client.stats().refusedLocally()).isEqualTo(4);

        // A batch with a series the connection already sent, a new one that fits and a new one that does not is
        // refused whole, and defines nothing on the connection: the next batch defines its new series afresh (were
        // it to refer to an id the server never saw, the server would end the session).
        Series sent = Series.of("cpu", "host", "\u00e9\u00e9");
        Series fresh = Series.of("mem", "host", "ab");
        RecordBatch mixed = client.newBatch().addSample(sent, ts, 2).addSample(fresh, ts, 3)
                .addSample(Series.of("a.long.name"), ts, 4);
        assertThatThrownBy(() -> client.send(mixed).get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(BatchRejectedException.class,
                        e -> assertThat(e.getMessage()).contains("a.long.name", "the server accepts 8"));
        client.send(client.newBatch().addSample(fresh, ts, 5).addSample(sent, ts, 6)).get(10, TimeUnit.SECONDS);
        assertThat(server.ackedSamples).contains(fresh + "@" + ts + "=5.0", sent + "@" + ts + "=6.0")
                .noneMatch(sample -> sample.endsWith("=3.0"));
        assertThat(client.stats().refusedLocally()).isEqualTo(5);
        assertThat(client.stats().sessions()).isEqualTo(1);
    }

    @Test
    void aQuietClientPingsWithinTheAnnouncedIdleTimeout() throws Exception {
        TestServer server = server();
        server.announce = SessionLimits.of(Map.of(SessionLimits.Limit.IDLE_TIMEOUT_MS, 600L));
        SluiceClient client = track(clientFor(server).build());
        client.send(client.newBatch().addSample(SERIES[0], 1_700_000_000_000L, 1)).get(10, TimeUnit.SECONDS);
        // Nothing more to send: PINGs every 200 ms keep the session; no reconnect happens.
        await().atMost(Duration.ofSeconds(10)).until(() -> server.pings.get() >= 3);
        assertThat(client.stats().sessions()).isEqualTo(1);
        assertThat(server.connections.get()).isEqualTo(1);
    }

    @Test
    void aServerThatAnnouncesNoLimitsIsStillServed() throws Exception {
        TestServer server = server(); // announce == null: HELLO_OK ends after maxInFlightBatches
        SluiceClient client = track(clientFor(server).build());
        client.send(client.newBatch().addSample(Series.of("a.rather.long.metric.name"), 1_700_000_000_000L, 1))
                .get(10, TimeUnit.SECONDS);
        assertThat(client.stats().refusedLocally()).isZero();
        assertThat(server.pings.get()).as("no idle timeout announced, no keep-alive").isZero();
    }

    @Test
    void authenticationFailureFailsEveryBatchAndLaterSends() throws Exception {
        TestServer server = server();
        SluiceClient client = track(clientFor(server).apiKey("wrong").build());
        List<CompletableFuture<Void>> futures = sendBatches(client, 2, 0, new HashSet<>());
        for (CompletableFuture<Void> f : futures) {
            assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS)).cause()
                    .isInstanceOfSatisfying(BatchRejectedException.class, e -> assertThat(e.errorCode()).isEqualTo(ErrorCode.AUTH_FAILED));
        }
        CompletableFuture<Void> later = sendBatches(client, 1, 9, new HashSet<>()).get(0);
        assertThat(later).isCompletedExceptionally();
        assertThat(server.timesSeen).isEmpty();
    }

    @Test
    void failFastPolicyRefusesWhenTheBufferIsFull() throws Exception {
        TestServer server = server();
        server.script = (seq, seen, conn, index, first) -> TestServer.Reply.of(TestServer.Action.HOLD);
        SluiceClient client = track(clientFor(server).maxBufferedBatches(2).bufferFullPolicy(BufferFullPolicy.FAIL_FAST).build());
        List<CompletableFuture<Void>> accepted = sendBatches(client, 2, 0, new HashSet<>());
        CompletableFuture<Void> refused = sendBatches(client, 1, 2, new HashSet<>()).get(0);

        assertThat(refused).isCompletedExceptionally();
        assertThatThrownBy(refused::join).cause().isInstanceOf(BufferFullException.class).hasMessageContaining("maxBufferedBatches");
        await().until(() -> server.heldCount() == 2);
        server.releaseHeld();
        CompletableFuture.allOf(accepted.toArray(new CompletableFuture<?>[0])).get(5, TimeUnit.SECONDS);
        // Room is back once the acks arrived.
        server.script = (seq, seen, conn, index, first) -> TestServer.Reply.ack();
        sendBatches(client, 1, 3, new HashSet<>()).get(0).get(5, TimeUnit.SECONDS);
    }

    @Test
    void blockPolicyWaitsForRoomAndTimesOut() throws Exception {
        TestServer server = server();
        server.script = (seq, seen, conn, index, first) -> TestServer.Reply.of(TestServer.Action.HOLD);
        SluiceClient client = track(clientFor(server).maxBufferedBatches(1)
                .bufferFullPolicy(BufferFullPolicy.BLOCK).bufferFullTimeout(Duration.ofMillis(200)).build());
        CompletableFuture<Void> first = sendBatches(client, 1, 0, new HashSet<>()).get(0);

        long start = System.nanoTime();
        CompletableFuture<Void> timedOut = sendBatches(client, 1, 1, new HashSet<>()).get(0);
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(200));
        assertThatThrownBy(timedOut::join).cause().isInstanceOf(BufferFullException.class);

        // A blocked sender proceeds as soon as an ack frees room.
        SluiceClient patient = track(clientFor(server).maxBufferedBatches(1)
                .bufferFullPolicy(BufferFullPolicy.BLOCK).bufferFullTimeout(Duration.ofSeconds(20)).build());
        CompletableFuture<Void> p1 = sendBatches(patient, 1, 10, new HashSet<>()).get(0);
        CompletableFuture<CompletableFuture<Void>> blocked =
                CompletableFuture.supplyAsync(() -> sendBatches(patient, 1, 11, new HashSet<>()).get(0));
        await().until(() -> server.heldCount() == 2);
        assertThat(blocked).isNotDone();
        server.script = (seq, seen, conn, index, first1) -> TestServer.Reply.ack();
        server.releaseHeld();
        blocked.get(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
        first.get(5, TimeUnit.SECONDS);
        p1.get(5, TimeUnit.SECONDS);
    }

    @Test
    void flushAndCloseWaitForAcks() throws Exception {
        TestServer server = server();
        server.script = (seq, seen, conn, index, first) -> TestServer.Reply.ackAfter(100);
        SluiceClient client = clientFor(server).build();
        List<CompletableFuture<Void>> futures = sendBatches(client, 10, 0, new HashSet<>());
        client.flush().get(10, TimeUnit.SECONDS);
        assertThat(futures).allSatisfy(f -> assertThat(f).isCompletedWithValue(null));

        List<CompletableFuture<Void>> more = sendBatches(client, 10, 10, new HashSet<>());
        assertThat(client.close(Duration.ofSeconds(10))).isTrue();
        assertThat(more).allSatisfy(f -> assertThat(f).isCompletedWithValue(null));
        assertThat(server.ackedSequences).hasSize(20);
        assertThat(sendBatches(client, 1, 30, new HashSet<>()).get(0)).isCompletedExceptionally();
    }

    @Test
    void closeFailsWhatWasNotAcknowledgedInTime() throws Exception {
        TestServer server = server();
        server.script = (seq, seen, conn, index, first) -> TestServer.Reply.of(TestServer.Action.HOLD);
        SluiceClient client = clientFor(server).build();
        CompletableFuture<Void> f = sendBatches(client, 1, 0, new HashSet<>()).get(0);
        await().until(() -> server.heldCount() == 1);
        assertThat(client.close(Duration.ofMillis(100))).isFalse();
        assertThatThrownBy(f::join).cause().isInstanceOf(ClientClosedException.class);
    }

    @Test
    void reconnectsWithBackoffUntilASessionIsAccepted() throws Exception {
        TestServer server = server();
        server.refuseSessions.set(4);
        SluiceClient client = track(clientFor(server).build());
        sendBatches(client, 1, 0, new HashSet<>()).get(0).get(10, TimeUnit.SECONDS);
        assertThat(client.stats().connectAttempts()).isGreaterThanOrEqualTo(5);
        assertThat(server.connections.get()).isGreaterThanOrEqualTo(5);
    }

    @Test
    void goAwayMakesTheClientMoveToANewConnection() throws Exception {
        TestServer server = server();
        server.script = (seq, seen, conn, index, first) -> conn == 1 && index == 1
                ? TestServer.Reply.of(TestServer.Action.GOAWAY_THEN_ACK) : TestServer.Reply.ack();
        SluiceClient client = track(clientFor(server).maxInFlightBatches(1).build());
        Set<String> sent = new HashSet<>();
        List<CompletableFuture<Void>> futures = sendBatches(client, 5, 0, sent);
        CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get(10, TimeUnit.SECONDS);
        assertThat(server.connections.get()).isEqualTo(2);
        assertThat(server.ackedSamples).isEqualTo(sent);
    }

    @Test
    void lz4CompressedBatchesOverTls() throws Exception {
        SslContext serverTls;
        SslContext clientTls;
        try (InputStream cert = resource("tls/cert.pem"); InputStream key = resource("tls/key.pem")) {
            serverTls = SslContextBuilder.forServer(cert, key).build();
        }
        try (InputStream cert = resource("tls/cert.pem")) {
            clientTls = SslContextBuilder.forClient().trustManager(cert).build();
        }
        TestServer server = track(new TestServer(serverTls, 8));
        SluiceClient client = track(SluiceClient.builder().address("localhost", server.port())
                .apiKey(TestServer.API_KEY).tls(clientTls).compression(true).build());
        Set<String> sent = new HashSet<>();
        List<CompletableFuture<Void>> futures = sendBatches(client, 5, 0, sent);
        CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get(10, TimeUnit.SECONDS);
        assertThat(server.ackedSamples).isEqualTo(sent);
    }

    @Test
    void eventsTravelToo() throws Exception {
        TestServer server = server();
        SluiceClient client = track(clientFor(server).build());
        RecordBatch batch = client.newBatch().addEvent("e-1", "deploy", 1L, "web-1", Map.of("v", "2"));
        assertThat(batch.eventCount()).isEqualTo(1);
        client.send(batch).get(5, TimeUnit.SECONDS);
        assertThat(server.ackedSequences).hasSize(1);
    }

    @Test
    void builderValidatesSettings() {
        assertThatThrownBy(() -> SluiceClient.builder().maxInFlightBatches(0))
                .hasMessage("maxInFlightBatches: 0 (expected: > 0)");
        assertThatThrownBy(() -> SluiceClient.builder().bufferFullTimeout(Duration.ZERO))
                .hasMessage("bufferFullTimeout: PT0S (expected: > 0)");
        assertThatThrownBy(() -> SluiceClient.builder().apiKey("k").build()).hasMessageContaining("address");
    }

    @Test
    void backoffIsExponentialWithFullJitter() {
        Backoff backoff = new Backoff(100, 5_000, new Random(7));
        assertThat(backoff.ceilingMs(0)).isEqualTo(100);
        assertThat(backoff.ceilingMs(3)).isEqualTo(800);
        assertThat(backoff.ceilingMs(10)).isEqualTo(5_000);
        assertThat(backoff.ceilingMs(200)).isEqualTo(5_000);
        Set<Long> distinct = new HashSet<>();
        for (int attempt = 0; attempt < 12; attempt++) {
            for (int i = 0; i < 50; i++) {
                long d = backoff.delayMs(attempt);
                assertThat(d).isBetween(0L, backoff.ceilingMs(attempt));
                distinct.add(d);
            }
        }
        assertThat(distinct.size()).as("jittered, not fixed").isGreaterThan(100);
    }

    private static InputStream resource(String name) {
        return SluiceClientTest.class.getClassLoader().getResourceAsStream(name);
    }
}
