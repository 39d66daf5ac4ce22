package io.sluice.storage.kafka;

import io.sluice.config.KafkaConfig;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Sluice's topics ({@code metrics}, {@code events}, {@code clicks}, {@code control} under
 * {@code kafka.topic-prefix}), created at start when missing, and their partition counts.
 */
public final class Topics {

    private static final Logger log = LoggerFactory.getLogger(Topics.class);

    private final KafkaConfig config;
    private final Map<String, Integer> partitions;

    private Topics(KafkaConfig config, Map<String, Integer> partitions) {
        this.config = config;
        this.partitions = Map.copyOf(partitions);
    }

    public String metrics() {
        return config.topic("metrics");
    }

    public String events() {
        return config.topic("events");
    }

    public String clicks() {
        return config.topic("clicks");
    }

    public String control() {
        return config.topic("control");
    }

    /** The partition count of one of Sluice's topics. */
    public int partitions(String topic) {
        Integer n = partitions.get(topic);
        if (n == null) {
            throw new IllegalArgumentException("not one of Sluice's topics: " + topic);
        }
        return n;
    }

    /**
     * Creates the missing topics with {@code kafka.partitions} partitions and reads every topic's partition
     * count. Blocking: call at start-up, off the event loops.
     */
    public static Topics ensure(Admin admin, KafkaConfig config) {
        List<String> names = List.of(config.topic("metrics"), config.topic("events"), config.topic("clicks"),
                config.topic("control"));
        long timeoutMs = config.requestTimeout().toMillis();
        try {
            Set<String> existing = admin.listTopics().names().get(timeoutMs, TimeUnit.MILLISECONDS);
            List<NewTopic> missing = new ArrayList<>();
            for (String name : names) {
                if (!existing.contains(name)) {
                    Optional<Short> replication = config.replicationFactor() == 0 ? Optional.empty()
                            : Optional.of((short) config.replicationFactor());
                    NewTopic topic = new NewTopic(name, Optional.of(config.partitions()), replication);
                    if (config.replicationFactor() >= 2) {
                        // acks=all waits for the in-sync replicas; with 1 of them an ack is one broker's word
                        topic.configs(Map.of("min.insync.replicas", Integer.toString(Math.min(2, config.replicationFactor()))));
                    }
                    missing.add(topic);
                }
            }
            if (!missing.isEmpty()) {
                try {
                    admin.createTopics(missing).all().get(timeoutMs, TimeUnit.MILLISECONDS);
                    log.info("Created topics {}", missing.stream().map(NewTopic::name).toList());
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
            Map<String, TopicDescription> described = admin.describeTopics(names).allTopicNames()
                    .get(timeoutMs, TimeUnit.MILLISECONDS);
            Map<String, Integer> counts = new HashMap<>();
            described.forEach((name, d) -> counts.put(name, d.partitions().size()));
            return new Topics(config, counts);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        } catch (Exception e) {
            throw new IllegalStateException("could not create or describe Sluice's topics " + names + " at "
                    + config.bootstrapString() + ": " + e.getMessage(), e);
        }
    }
}
