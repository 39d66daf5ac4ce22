package io.sluice.gateway.links;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.sluice.config.KafkaConfig;
import io.sluice.storage.kafka.ControlMessage;
import io.sluice.storage.kafka.ControlPublisher;
import io.sluice.storage.kafka.ControlTopicSubscriber;
import io.sluice.storage.kafka.KafkaClients;
import io.sluice.storage.kafka.SegmentSink;
import io.sluice.storage.kafka.Topics;

/**
 * Keeps every gateway node's redirect cache honest: an update or delete publishes a {@link ControlMessage.LinkChanged}
 * to the control topic, and every node (this one included) drops that code from its cache when the message arrives.
 * Each node reads every partition of the control topic from its end at start (or once Kafka's topics are known,
 * when Kafka did not answer at start), without a consumer group.
 */
public final class LinkInvalidation implements AutoCloseable {

    private final ControlPublisher publisher;
    private final Topics topics;
    private final RedirectCache cache;
    private final Counter received;
    private final ControlTopicSubscriber subscriber;

    /** Starts listening once the topics are known (at once when Kafka answered at start, later otherwise). */
    public LinkInvalidation(KafkaConfig kafka, Topics topics, SegmentSink sink, RedirectCache cache,
                            MeterRegistry registry) {
        this.publisher = new ControlPublisher(sink, topics);
        this.topics = topics;
        this.cache = cache;
        this.received = Counter.builder("sluice_links_invalidations").tag("direction", "received")
                .description("Link cache invalidations through the control topic").register(registry);
        this.subscriber = ControlTopicSubscriber.start(new KafkaClients(kafka), topics, this::onMessage);
    }

    private void onMessage(String message) {
        if (ControlMessage.decode(message).orElse(null) instanceof ControlMessage.LinkChanged link) {
            cache.invalidate(link.code());
            received.increment();
        }
    }

    /** Tells every node to forget the code; completes when Kafka has the message. */
    public java.util.concurrent.CompletableFuture<Void> publish(String code) {
        if (!topics.known()) {
            return java.util.concurrent.CompletableFuture.failedFuture(new IllegalStateException(
                    "Kafka's topics are not known yet; other nodes keep " + code + " until their cache entry expires"));
        }
        return publisher.publish(new ControlMessage.LinkChanged(code), code.hashCode());
    }

    @Override
    public void close() {
        subscriber.close();
    }
}
