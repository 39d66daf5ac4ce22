package io.sluice.gateway.query;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.sluice.config.KafkaConfig;
import io.sluice.storage.invalidation.Invalidations;
import io.sluice.storage.kafka.ControlMessage;
import io.sluice.storage.kafka.ControlTopicSubscriber;
import io.sluice.storage.kafka.KafkaClients;
import io.sluice.storage.kafka.Topics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds this node's {@link Invalidations} (every cache of query answers) from the control topic: each writer
 * announcement ({@link ControlMessage.DataWritten}) drops the cached answers it overlaps. Each time the subscriber is
 * positioned at the topic's end (once the topics are known, and again after its reader failed) announcements may
 * have been missed (the node served queries before it listened, or the reader was down), so every cached answer is
 * dropped then. Counted in {@code sluice_query_invalidation_messages_total} and
 * {@code sluice_query_cache_resets_total}; dropped entries in {@code sluice_query_cache_invalidated_total{reason}}.
 */
public final class QueryInvalidation implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(QueryInvalidation.class);

    private final Invalidations invalidations;
    private final Counter messages;
    private final Counter resets;
    private final ControlTopicSubscriber subscriber;

    public QueryInvalidation(KafkaConfig kafka, Topics topics, Invalidations invalidations, MeterRegistry registry) {
        this.invalidations = invalidations;
        this.messages = Counter.builder("sluice_query_invalidation_messages")
                .description("Write announcements received from the control topic").register(registry);
        this.resets = Counter.builder("sluice_query_cache_resets")
                .description("Times every cached query answer was dropped because the control topic was "
                        + "(re)subscribed from its end").register(registry);
        this.subscriber = ControlTopicSubscriber.start(new KafkaClients(kafka), topics, this::onMessage,
                this::onPositioned);
    }

    private void onMessage(String text) {
        if (ControlMessage.decode(text).orElse(null) instanceof ControlMessage.DataWritten written) {
            messages.increment();
            invalidations.apply(written.changes());
        }
    }

    private void onPositioned() {
        int dropped = invalidations.dropAll();
        resets.increment();
        log.info("Listening to write announcements on the control topic; dropped {} cached query answer(s) that "
                + "may have missed some", dropped);
    }

    @Override
    public void close() {
        subscriber.close();
    }
}
