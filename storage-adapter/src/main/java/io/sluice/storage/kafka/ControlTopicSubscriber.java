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
 * are not delivered.
 */
public final class ControlTopicSubscriber implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ControlTopicSubscriber.class);

    private final KafkaClients clients;
    private final Topics topics;
    private final Consumer<String> onMessage;
    private Disposable listening;
    private boolean closed;

    private ControlTopicSubscriber(KafkaClients clients, Topics topics, Consumer<String> onMessage) {
        this.clients = clients;
        this.topics = topics;
        this.onMessage = onMessage;
    }

    /** Delivers every control message published from now on (once the topics are known) to {@code onMessage}. */
    public static ControlTopicSubscriber start(KafkaClients clients, Topics topics, Consumer<String> onMessage) {
        ControlTopicSubscriber subscriber = new ControlTopicSubscriber(clients, topics, onMessage);
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
        listening = clients.controlReceiver(partitions).receive()
                .subscribe(record -> onMessage.accept(new String(record.value(), StandardCharsets.UTF_8)),
                        e -> log.error("The control topic subscriber stopped", e));
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
