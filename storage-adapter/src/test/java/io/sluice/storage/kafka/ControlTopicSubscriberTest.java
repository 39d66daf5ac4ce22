package io.sluice.storage.kafka;

import io.netty.buffer.Unpooled;
import io.sluice.config.KafkaConfig;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The control topic subscriber on a real broker, with topics of its own. */
@RealInfrastructure
class ControlTopicSubscriberTest {

    private static KafkaConfig ownTopics(TestInfrastructure infra) {
        KafkaConfig k = infra.config().kafka();
        return new KafkaConfig(k.bootstrapServers(), k.clientId(), k.requestTimeout(),
                "control-test-" + UUID.randomUUID().toString().substring(0, 8) + ".", 3, k.replicationFactor(),
                k.adminTimeout());
    }

    private static void send(ReactorKafkaSink sink, Topics topics, int partition, String text) {
        sink.send(topics.control(), partition, Unpooled.copiedBuffer(text, StandardCharsets.UTF_8))
                .orTimeout(30, TimeUnit.SECONDS).join();
    }

    /**
     * Publishes probes (to every partition in turn) until one arrives: from then on the subscriber reads every
     * partition from where it was positioned.
     */
    private static void awaitListening(ReactorKafkaSink sink, Topics topics, List<String> received) {
        AtomicInteger probe = new AtomicInteger();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
            int n = probe.getAndIncrement();
            send(sink, topics, n % topics.partitions(topics.control()), "probe-" + n);
            return received.stream().anyMatch(m -> m.startsWith("probe-"));
        });
    }

    @Test
    void readsEveryPartitionFromItsEndOnceTheTopicsAreKnown(TestInfrastructure infra) throws Exception {
        KafkaClients clients = new KafkaClients(ownTopics(infra));
        List<String> received = new CopyOnWriteArrayList<>();
        try (KafkaClusterCheck check = new KafkaClusterCheck(clients);
             ReactorKafkaSink sink = new ReactorKafkaSink(clients)) {
            Topics known = Topics.ensure(check.admin(), clients.config());
            send(sink, known, 0, "before");

            Topics topics = Topics.unknown(clients.config());
            try (ControlTopicSubscriber subscriber = ControlTopicSubscriber.start(clients, topics, received::add)) {
                assertThat(topics.known()).isFalse();
                try (AutoCloseable setup = topics.ensureInBackground(check.admin())) {
                    topics.whenKnown().get(60, TimeUnit.SECONDS);
                    awaitListening(sink, topics, received);
                    for (int p = 0; p < 3; p++) {
                        send(sink, topics, p, "after-" + p + " ünïcode");
                    }
                    await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(received)
                            .contains("after-0 ünïcode", "after-1 ünïcode", "after-2 ünïcode"));
                    assertThat(received).as("it starts at the end").doesNotContain("before");
                }
                subscriber.close(); // and again by try-with-resources: closing twice is safe
            }
        }
    }

    @Test
    void closedBeforeTheTopicsAreKnownItNeverStarts(TestInfrastructure infra) throws Exception {
        KafkaClients clients = new KafkaClients(ownTopics(infra));
        List<String> closedEarly = new CopyOnWriteArrayList<>();
        List<String> open = new CopyOnWriteArrayList<>();
        try (KafkaClusterCheck check = new KafkaClusterCheck(clients);
             ReactorKafkaSink sink = new ReactorKafkaSink(clients)) {
            Topics topics = Topics.unknown(clients.config());
            ControlTopicSubscriber.start(clients, topics, closedEarly::add).close();
            try (ControlTopicSubscriber witness = ControlTopicSubscriber.start(clients, topics, open::add);
                 AutoCloseable setup = topics.ensureInBackground(check.admin())) {
                topics.whenKnown().get(60, TimeUnit.SECONDS);
                awaitListening(sink, topics, open);
                send(sink, topics, 0, "last");
                await().atMost(Duration.ofSeconds(60)).until(() -> open.contains("last"));
                // the witness, started and positioned with it, read the probes and "last": the closed one read nothing
                assertThat(closedEarly).isEmpty();
            }
        }
    }

    @Test
    void onceItSaysItIsPositionedEveryMessageIsDelivered(TestInfrastructure infra) throws Exception {
        KafkaClients clients = new KafkaClients(ownTopics(infra));
        List<String> received = new CopyOnWriteArrayList<>();
        AtomicInteger positioned = new AtomicInteger();
        try (KafkaClusterCheck check = new KafkaClusterCheck(clients);
             ReactorKafkaSink sink = new ReactorKafkaSink(clients)) {
            Topics topics = Topics.ensure(check.admin(), clients.config());
            send(sink, topics, 1, "before");
            try (ControlTopicSubscriber subscriber = ControlTopicSubscriber.start(clients, topics, received::add,
                    positioned::incrementAndGet)) {
                await().atMost(Duration.ofSeconds(60)).until(() -> positioned.get() == 1);
                // no probing: from the moment it is positioned nothing published is missed
                for (int p = 0; p < 3; p++) {
                    send(sink, topics, p, "right-after-" + p);
                }
                await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(received)
                        .containsExactlyInAnyOrder("right-after-0", "right-after-1", "right-after-2"));
                assertThat(positioned).hasValue(1);
            }
        }
    }
}
