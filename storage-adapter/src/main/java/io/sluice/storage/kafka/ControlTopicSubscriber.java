package io.sluice.storage.kafka;

import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Reads every partition of the control topic from its end, without a consumer group (every node sees every
 * message), and hands each message's text (UTF-8) to a callback on the Kafka receiver's thread. It starts once the
 * topics are known: at once when Kafka answered at start, later otherwise. Messages published before it started
 * are not delivered: each time it is positioned at the ends (at start, and again when the reader failed and is
 * started again, after {@link #RESTART_BACKOFF} and growing), a second callback says so, for a user that must
 * assume it missed messages (a cache that drops what it holds). While Kafka is merely unreachable the reader keeps
 * its positions and delivers what was published meanwhile once it is back.
 */
public final class ControlTopicSubscriber implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ControlTopicSubscriber.class);

    private final KafkaClients clients;
    private final Topics topics;
    private final Consumer<String> onMessage;
    private final Runnable onPositioned;
    /** First pause before a failed reader is started again (doubling up to 30 s). */
    static final java.time.Duration RESTART_BACKOFF = java.time.Duration.ofSeconds(1);
    private Disposable listening;
    private boolean closed;

    private ControlTopicSubscriber(KafkaClients clients, Topics topics, Consumer<String> onMessage,
                                   Runnable onPositioned) {
        this.clients = clients;
        this.topics = topics;
        this.onMessage = onMessage;
        this.onPositioned = onPositioned;
    }

    /** Delivers every control message published from now on (once the topics are known) to {@code onMessage}. */
    public static ControlTopicSubscriber start(KafkaClients clients, Topics topics, Consumer<String> onMessage) {
        return start(clients, topics, onMessage, () -> { });
    }

    /**
     * As {@link #start(KafkaClients, Topics, Consumer)}, and runs {@code onPositioned} (on the Kafka receiver's
     * thread) each time the reader is positioned at the ends of the partitions: from then on every message is
     * delivered, and any published before may have been missed.
     */
    public static ControlTopicSubscriber start(KafkaClients clients, Topics topics, Consumer<String> onMessage,
                                               Runnable onPositioned) {
        ControlTopicSubscriber subscriber = new ControlTopicSubscriber(clients, topics, onMessage, onPositioned);
        topics.whenKnown().thenRun(subscriber::listen);
        return subscriber;
    }

    private synchronized void listen() {
        if (closed) {
            return;
        }
        List<TopicPartition> partitions = new ArrayList<>();
        for (int p = 0; p < topics.partitions(topics.control()); p++) {
            partitions.add(new TopicPartition(topics.control(), p));
        }
        listening = reactor.core.publisher.Flux.defer(() -> clients.controlReceiver(partitions, this::positioned)
                        .receive())
                .doOnError(e -> log.warn("The control topic reader failed ({}); starting it again from the ends",
                        e.toString()))
                .retryWhen(reactor.util.retry.Retry.backoff(Long.MAX_VALUE, RESTART_BACKOFF)
                        .maxBackoff(java.time.Duration.ofSeconds(30)))
                .subscribe(record -> {
                            try {
                                onMessage.accept(new String(record.value(), StandardCharsets.UTF_8));
                            } catch (RuntimeException e) {
                                log.error("A control message's handler failed", e);
                            }
                        },
                        e -> log.error("The control topic subscriber stopped", e));
    }

    private void positioned() {
        try {
            onPositioned.run();
        } catch (RuntimeException e) {
            log.error("The control topic subscriber's positioned handler failed", e);
        }
    }

    /** Stops reading; safe before it started and more than once. */
    @Override
    public synchronized void close() {
        closed = true;
        if (listening != null) {
            listening.dispose();
        }
    }
}
