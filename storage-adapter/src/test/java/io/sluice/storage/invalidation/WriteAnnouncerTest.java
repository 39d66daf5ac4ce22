package io.sluice.storage.invalidation;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.sluice.config.KafkaConfig;
import io.sluice.storage.kafka.ControlMessage;
import io.sluice.storage.kafka.ControlPublisher;
import io.sluice.storage.kafka.ControlTopicSubscriber;
import io.sluice.storage.kafka.KafkaClients;
import io.sluice.storage.kafka.KafkaClusterCheck;
import io.sluice.storage.kafka.ReactorKafkaSink;
import io.sluice.storage.kafka.SegmentSink;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Announcements on a real broker: a send that hangs past its deadline or fails is counted and sent again, merged. */
@RealInfrastructure
class WriteAnnouncerTest {

    /** The real producer, except that its first send never completes and its second fails. */
    private static final class FirstSendsLost implements SegmentSink {
        private final SegmentSink kafka;
        private final AtomicInteger sends = new AtomicInteger();

        FirstSendsLost(SegmentSink kafka) {
            this.kafka = kafka;
        }

        @Override
        public CompletableFuture<Void> send(String topic, int partition, ByteBuf value) {
            int n = sends.incrementAndGet();
            if (n <= 2) {
                value.release();
                return n == 1 ? new CompletableFuture<>()
                        : CompletableFuture.failedFuture(new IllegalStateException("lost on the way"));
            }
            return kafka.send(topic, partition, value);
        }

        @Override
        public void close() {
        }
    }

    @Test
    void aLostAnnouncementIsCountedAndSentAgainMergedWithLaterOnes(TestInfrastructure infra) throws Exception {
        KafkaConfig k = infra.config().kafka();
        KafkaClients clients = new KafkaClients(new KafkaConfig(k.bootstrapServers(), k.clientId(), k.requestTimeout(),
                "announce-test-" + UUID.randomUUID().toString().substring(0, 8) + ".", 2, k.replicationFactor(),
                k.adminTimeout()));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        List<ControlMessage> received = new CopyOnWriteArrayList<>();
        AtomicInteger positioned = new AtomicInteger();
        try (KafkaClusterCheck check = new KafkaClusterCheck(clients);
             ReactorKafkaSink sink = new ReactorKafkaSink(clients)) {
            Topics topics = Topics.ensure(check.admin(), clients.config());
            FirstSendsLost flaky = new FirstSendsLost(sink);
            try (ControlTopicSubscriber subscriber = ControlTopicSubscriber.start(clients, topics,
                    text -> ControlMessage.decode(text).ifPresent(received::add), positioned::incrementAndGet);
                 WriteAnnouncer announcer = new WriteAnnouncer(new ControlPublisher(flaky, topics),
                         Duration.ofSeconds(3), registry)) {
                await().atMost(Duration.ofSeconds(60)).until(() -> positioned.get() == 1);
                WrittenRanges first = new WrittenRanges();
                WrittenRanges.touch(first.slot("acme", "cpu"), 120_000);
                announcer.announce(first); // hangs past its 3 s deadline
                WrittenRanges second = new WrittenRanges();
                WrittenRanges.touch(second.slot("acme", "cpu"), 600_000);
                WrittenRanges.touch(second.slot("beta", "mem"), 0);
                announcer.announce(second); // waits for the first, then goes with its retry (which fails too)

                await().atMost(Duration.ofSeconds(60)).until(() -> !received.isEmpty());
                assertThat(received).hasSize(1);
                assertThat(received.get(0)).isInstanceOf(ControlMessage.DataWritten.class);
                ControlMessage.DataWritten written = (ControlMessage.DataWritten) received.get(0);
                assertThat(written.changes()).containsExactlyInAnyOrder(
                        new DataChange("acme", "cpu", 120_000, 659_999), new DataChange("beta", "mem", 0, 59_999));
                assertThat(registry.get("sluice_writer_announcements").tag("result", "failed").counter().count())
                        .isEqualTo(2);
                assertThat(registry.get("sluice_writer_announcements").tag("result", "published").counter().count())
                        .isEqualTo(1);
                assertThat(announcer.pending()).isFalse();
            }
        }
    }
}
