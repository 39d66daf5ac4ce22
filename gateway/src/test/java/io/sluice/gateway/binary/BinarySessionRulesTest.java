package io.sluice.gateway.binary;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.KafkaTopicReader;
import io.sluice.gateway.RawAgent;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.protocol.client.BatchRejectedException;
import io.sluice.protocol.client.RecordBatch;
import io.sluice.protocol.client.SluiceClient;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Ack;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.frame.ErrorFrame;
import io.sluice.protocol.frame.GoAway;
import io.sluice.protocol.frame.Hello;
import io.sluice.protocol.frame.HelloOk;
import io.sluice.protocol.frame.Pong;
import io.sluice.protocol.frame.SessionLimits;
import io.sluice.protocol.record.RecordFormat;
import io.sluice.protocol.record.RecordLimits;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.segment.Segment;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.sluice.protocol.TestFrames.concat;
import static io.sluice.protocol.TestFrames.encode;
import static io.sluice.protocol.TestFrames.preface;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The frame rules SPEC.md §1–§2 writes down, against a real gateway (real Kafka and PostgreSQL): a wrong
 * magic on the shared port, BATCHes sent before HELLO_OK, duplicate in-flight sequence numbers, the
 * client's GOAWAY, an unsolicited PONG, HELLO_OK's limits list and the Java client respecting it, and
 * strict UTF-8; and the batches of one connection within {@code binary.flush-delay} sharing their segments, sent
 * sooner when they fill the connection's window.
 */
@RealInfrastructure
class BinarySessionRulesTest {

    private static GatewayRole sluice;
    private static SluiceConfig config;
    private static String bootstrap;
    private static final Map<String, String> keys = new HashMap<>();
    private static final Duration FLUSH_DELAY = Duration.ofSeconds(1);

    @BeforeAll
    static void start(TestInfrastructure infra) throws Exception {
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("binary.max-in-flight-batches", "4");
        overrides.put("binary.flush-delay", FLUSH_DELAY.toMillis() + "ms"); // the longest allowed
        overrides.put("ingest.max-name-length", "150");
        overrides.put("ingest.max-label-value-length", "300");
        config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        bootstrap = infra.bootstrapServers();
        ConnectionPool pool = PostgresConnections.pool(config.postgres());
        try {
            ApiKeyStore store = new ApiKeyStore(pool);
            for (String tenant : List.of("rules-early", "rules-shared", "rules-dup", "rules-goaway", "rules-goaway2", "rules-pong",
                    "rules-limits", "rules-client", "rules-utf8", "rules-delay", "rules-window")) {
                keys.put(tenant, KeysCommand.create(store, tenant, Tier.ENTERPRISE));
            }
        } finally {
            pool.dispose();
        }
        sluice = GatewayRole.start(config);
    }

    @AfterAll
    static void stop() {
        sluice.close();
    }

    @Test
    void aWrongMagicOnTheSharedPortIsAnsweredWithErrorProtocolError() throws Exception {
        // 0x89 starts neither HTTP nor TLS, so the connection is binary and its magic is checked (SPEC.md §1).
        try (RawAgent agent = RawAgent.connect(sluice.port())) {
            agent.send(new byte[] {(byte) 0x89, 'S', 'L', 'X', 0, 1});
            assertThat(agent.next()).isInstanceOfSatisfying(ErrorFrame.class,
                    e -> assertThat(e.code()).isEqualTo(ErrorCode.PROTOCOL_ERROR));
            assertThat(agent.closedByServer()).isTrue();
        }
    }

    @Test
    void batchesSentBeforeHelloOkArrivedAreHandledAfterIt() throws Exception {
        long now = System.currentTimeMillis();
        try (RawAgent agent = RawAgent.connect(sluice.port())) {
            // A key never seen before: its lookup goes to PostgreSQL, so both BATCHes arrive while it runs.
            agent.send(concat(preface(), encode(new Hello(1, "eager", keys.get("rules-early"), Map.of())),
                    agent.batch(1, "early.metric", 3, now, 0), agent.batch(2, "early.metric", 3, now, 10)));
            assertThat(agent.next()).isInstanceOf(HelloOk.class);
            List<Object> answers = List.of(agent.next(), agent.next());
            assertThat(answers).containsExactlyInAnyOrder(new Ack(1), new Ack(2));
        }
    }

    @Test
    void batchesHandledInOneTurnShareOneSegmentPerPartition() throws Exception {
        long now = System.currentTimeMillis();
        try (RawAgent agent = RawAgent.connect(sluice.port())) {
            // Held while the new key is looked up, the three BATCHes are handled together once the HELLO passed.
            agent.send(concat(preface(), encode(new Hello(1, "sharing", keys.get("rules-shared"), Map.of())),
                    agent.batch(1, "shared.metric", 10, now, 0), agent.batch(2, "shared.metric", 10, now + 1, 10),
                    agent.batch(3, "shared.metric", 10, now + 2, 20)));
            assertThat(agent.next()).isInstanceOf(HelloOk.class);
            assertThat(List.of(agent.next(), agent.next(), agent.next()))
                    .containsExactlyInAnyOrder(new Ack(1), new Ack(2), new Ack(3));
        }
        assertOneSegmentPerPartition("rules-shared", 30, 10);
    }

    @Test
    void batchesAcceptedWithinTheFlushDelayShareOneSegmentPerPartition() throws Exception {
        long now = System.currentTimeMillis();
        long sent;
        try (RawAgent agent = RawAgent.connect(sluice.port())) {
            agent.send(concat(preface(), encode(new Hello(1, "delayed", keys.get("rules-delay"), Map.of()))));
            assertThat(agent.next()).isInstanceOf(HelloOk.class);
            sent = System.nanoTime();
            agent.send(agent.batch(1, "delayed.metric", 10, now, 0));
            // the second batch once the first is accepted and waits, so that they are not read together
            await().atMost(FLUSH_DELAY.dividedBy(2)).pollInterval(Duration.ofMillis(5)).until(() -> inFlightItems() == 10);
            agent.send(agent.batch(2, "delayed.metric", 10, now + 1, 10));
            assertThat(List.of(agent.next(), agent.next())).containsExactlyInAnyOrder(new Ack(1), new Ack(2));
            assertThat(Duration.ofNanos(System.nanoTime() - sent)).as("the ACKs waited for binary.flush-delay")
                    .isGreaterThanOrEqualTo(FLUSH_DELAY);
        }
        assertOneSegmentPerPartition("rules-delay", 20, 10);
    }

    @Test
    void batchesThatFillTheWindowGoWithoutWaitingForTheFlushDelay() throws Exception {
        long now = System.currentTimeMillis();
        try (RawAgent agent = RawAgent.connect(sluice.port())) {
            agent.send(concat(preface(), encode(new Hello(1, "window", keys.get("rules-window"), Map.of()))));
            assertThat(agent.next()).isInstanceOf(HelloOk.class);
            long sent = System.nanoTime();
            // binary.max-in-flight-batches is 4: after these the client may send nothing before an answer
            agent.send(concat(agent.batch(1, "window.metric", 5, now, 0), agent.batch(2, "window.metric", 5, now, 10),
                    agent.batch(3, "window.metric", 5, now, 20), agent.batch(4, "window.metric", 5, now, 30)));
            assertThat(List.of(agent.next(), agent.next(), agent.next(), agent.next()))
                    .containsExactlyInAnyOrder(new Ack(1), new Ack(2), new Ack(3), new Ack(4));
            assertThat(Duration.ofNanos(System.nanoTime() - sent)).as("sent before binary.flush-delay passed")
                    .isLessThan(FLUSH_DELAY);
        }
    }

    @Test
    void aSequenceNumberAlreadyInFlightIsAProtocolError() throws Exception {
        long now = System.currentTimeMillis();
        try (RawAgent agent = RawAgent.session(sluice.port(), keys.get("rules-dup"))) {
            // Both arrive in one read: the first cannot have been answered (that needs Kafka) when the second is seen.
            agent.send(concat(agent.batch(5, "dup.metric", 2, now, 0), agent.batch(5, "dup.metric", 2, now, 100)));
            List<Object> answers = readUntilClosed(agent);
            assertThat(answers).last().isInstanceOfSatisfying(ErrorFrame.class, e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.PROTOCOL_ERROR);
                assertThat(e.message()).contains("already in flight");
            });
            assertThat(answers).filteredOn(Ack.class::isInstance).hasSizeLessThanOrEqualTo(1);
        }
        assertThat(rejected("duplicate_sequence")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void afterTheClientsGoAwayItsBatchesAreAnsweredAndTheServerCloses() throws Exception {
        long now = System.currentTimeMillis();
        try (RawAgent agent = RawAgent.session(sluice.port(), keys.get("rules-goaway"))) {
            agent.send(concat(agent.batch(1, "leaving.metric", 2, now, 0),
                    encode(new GoAway(ErrorCode.SHUTTING_DOWN, "agent restarting"))));
            assertThat(agent.next()).isEqualTo(new Ack(1));
            assertThat(agent.closedByServer()).isTrue();
        }
        try (RawAgent agent = RawAgent.session(sluice.port(), keys.get("rules-goaway2"))) {
            // BATCH 1 is still in flight (waiting for Kafka) when GOAWAY and BATCH 2 arrive in the same read.
            agent.send(concat(agent.batch(1, "leaving.metric", 2, now, 0),
                    encode(new GoAway(ErrorCode.SHUTTING_DOWN, "agent restarting")),
                    agent.batch(2, "leaving.metric", 2, now, 10)));
            assertThat(agent.next()).isInstanceOfSatisfying(ErrorFrame.class, e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.PROTOCOL_ERROR);
                assertThat(e.message()).contains("after the client's GOAWAY");
            });
            assertThat(agent.closedByServer()).isTrue();
        }
    }

    @Test
    void anUnsolicitedPongIsIgnored() throws Exception {
        long now = System.currentTimeMillis();
        try (RawAgent agent = RawAgent.session(sluice.port(), keys.get("rules-pong"))) {
            agent.send(concat(encode(new Pong(42)), agent.batch(1, "pong.metric", 1, now, 0)));
            assertThat(agent.next()).isEqualTo(new Ack(1));
        }
    }

    @Test
    void helloOkCarriesTheLimitsListOnlyWhenAskedFor() throws Exception {
        try (RawAgent agent = RawAgent.connect(sluice.port())) {
            agent.send(concat(preface(), encode(new Hello(1, "limits", keys.get("rules-limits"),
                    Map.of(Hello.OPTION_LIMITS, Hello.LIMITS_V1)))));
            HelloOk ok = (HelloOk) agent.next();
            assertThat(ok.limits()).isEqualTo(BinarySessions.announcedLimits(config.ingest(), RecordLimits.DEFAULTS,
                    config.server().idleTimeout()));
            assertThat(ok.limits().get(SessionLimits.Limit.MAX_NAME_BYTES)).hasValue(150);
            assertThat(ok.limits().get(SessionLimits.Limit.MAX_LABEL_VALUE_BYTES)).hasValue(300);
            assertThat(ok.limits().get(SessionLimits.Limit.LATE_WINDOW_MS)).hasValue(config.ingest().lateWindow().toMillis());
            assertThat(ok.limits().get(SessionLimits.Limit.IDLE_TIMEOUT_MS)).hasValue(60_000);
            assertThat(ok.limits().get(SessionLimits.Limit.MAX_BLOCK_BYTES)).hasValue(RecordLimits.DEFAULT_MAX_BLOCK_BYTES);
        }
        try (RawAgent agent = RawAgent.connect(sluice.port())) {
            agent.hello(keys.get("rules-limits"));
            assertThat(agent.next()).isInstanceOfSatisfying(HelloOk.class, ok -> assertThat(ok.limits()).isNull());
        }
    }

    @Test
    void theJavaClientRespectsTheAnnouncedLimits() throws Exception {
        long now = System.currentTimeMillis();
        try (SluiceClient client = SluiceClient.builder().address("127.0.0.1", sluice.port())
                .apiKey(keys.get("rules-client")).closeTimeout(Duration.ofSeconds(10)).build()) {
            RecordBatch tooLong = client.newBatch().addSample(Series.of("n".repeat(151)), now, 1);
            CompletableFuture<Void> refused = client.send(tooLong);
            assertThatThrownBy(() -> refused.get(30, TimeUnit.SECONDS)).cause()
                    .isInstanceOfSatisfying(BatchRejectedException.class, e -> {
                        assertThat(e.errorCode()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
                        assertThat(e.getMessage()).contains("151 UTF-8 bytes", "accepts 150");
                    });
            client.send(client.newBatch().addSample(Series.of("n".repeat(150)), now, 1)).get(30, TimeUnit.SECONDS);
            assertThat(client.stats().refusedLocally()).isEqualTo(1);
            assertThat(client.stats().acks()).isEqualTo(1);
        }
    }

    @Test
    void malformedUtf8IsRefusedNotReplaced() throws Exception {
        try (RawAgent agent = RawAgent.session(sluice.port(), keys.get("rules-utf8"))) {
            ByteBuf records = Unpooled.buffer();
            records.writeInt(0).writeInt(0).writeLong(System.currentTimeMillis());
            // A series whose label value is C3 28: a lead byte without its continuation.
            records.writeByte(RecordFormat.TAG_SERIES).writeByte(0).writeByte(1).writeByte('m').writeByte(1)
                    .writeByte(1).writeByte('k').writeByte(2).writeByte(0xC3).writeByte(0x28);
            agent.send(encode(Batch.outbound(1, records, false)));
            assertThat(agent.next()).isInstanceOfSatisfying(ErrorFrame.class, e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.INVALID_RECORD);
                assertThat(e.message()).contains("UTF-8");
            });
            assertThat(agent.closedByServer()).isTrue();
        }
    }

    /** Every frame the server sends until it closes the connection. */
    private static List<Object> readUntilClosed(RawAgent agent) throws IOException {
        List<Object> frames = new ArrayList<>();
        while (true) {
            try {
                frames.add(agent.next());
            } catch (IOException e) {
                return frames;
            }
        }
    }

    /** The tenant's samples in Kafka: all of them, each of its series defined once, in one segment per partition. */
    private static void assertOneSegmentPerPartition(String tenant, int samples, int series) {
        List<Segment> segments = KafkaTopicReader.segments(bootstrap, "sluice.metrics", tenant);
        try {
            assertThat(segments.stream().mapToInt(Segment::sampleCount).sum()).isEqualTo(samples);
            assertThat(segments.stream().mapToInt(s -> s.series().size()).sum())
                    .as("each of the " + series + " series defined once for all the batches").isEqualTo(series);
            assertThat(segments.size()).as("one segment per partition")
                    .isLessThanOrEqualTo(config.kafka().partitions());
        } finally {
            segments.forEach(Segment::close);
        }
    }

    private static double inFlightItems() {
        var g = sluice.meterRegistry().find("sluice_ingest_in_flight_items").gauge();
        return g == null ? 0 : g.value();
    }

    private static double rejected(String reason) {
        var c = sluice.meterRegistry().find("sluice_ingest_rejected").tag("reason", reason)
                .tag("transport", "binary").counter();
        return c == null ? 0 : c.count();
    }
}
