package io.sluice.storage.kafka;

import io.sluice.config.KafkaConfig;
import io.sluice.storage.health.DependencyCheck;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Sluice's topics ({@code metrics}, {@code events}, {@code clicks}, {@code control} under
 * {@code kafka.topic-prefix}), created when missing, and their partition counts.
 *
 * <p>A gateway starts whether Kafka answers or not: its topics are then <em>not yet known</em>
 * ({@link #known()} false), {@link #partitions} answers {@code kafka.partitions} (what Sluice would create)
 * and {@link #ensureInBackground} keeps trying to describe and create them, each admin call bounded by
 * {@code kafka.admin-timeout}. Whoever needs the real counts waits for {@link #whenKnown()}.
 */
public final class Topics {

    private static final Logger log = LoggerFactory.getLogger(Topics.class);
    /** First and longest pause between two attempts to describe the topics while Kafka does not answer. */
    static final Duration FIRST_RETRY = Duration.ofMillis(500);
    static final Duration MAX_RETRY = Duration.ofSeconds(10);

    private final KafkaConfig config;
    private final CompletableFuture<Void> known = new CompletableFuture<>();
    private volatile Map<String, Integer> partitions;
    private volatile String lastFailure = "not checked yet";

    private Topics(KafkaConfig config) {
        this.config = config;
    }

    /** Topics not yet described: {@link #partitions} answers {@code kafka.partitions} until they are. */
    public static Topics unknown(KafkaConfig config) {
        return new Topics(config);
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

    private List<String> names() {
        return List.of(metrics(), events(), clicks(), control());
    }

    /** Whether the topics have been described (and created where missing). */
    public boolean known() {
        return known.isDone();
    }

    /** Completes once the topics are described; never fails. */
    public CompletableFuture<Void> whenKnown() {
        return known.thenApply(x -> x);
    }

    /**
     * The partition count of one of Sluice's topics; {@code kafka.partitions} while the topics are not yet
     * known (then it is the count Sluice will create the topic with, which an existing topic may not have).
     */
    public int partitions(String topic) {
        Map<String, Integer> counts = partitions;
        if (counts == null) {
            if (!names().contains(topic)) {
                throw new IllegalArgumentException("not one of Sluice's topics: " + topic);
            }
            return config.partitions();
        }
        Integer n = counts.get(topic);
        if (n == null) {
            throw new IllegalArgumentException("not one of Sluice's topics: " + topic);
        }
        return n;
    }

    /**
     * Describes the topics now, creating the missing ones with {@code kafka.partitions} partitions. Blocking
     * (each admin call at most {@code kafka.admin-timeout}): call at start-up, off the event loops. Throws when
     * Kafka does not answer in time.
     */
    public static Topics ensure(Admin admin, KafkaConfig config) {
        Topics topics = new Topics(config);
        topics.describe(admin);
        return topics;
    }

    /**
     * Describes the topics on a daemon thread, retrying with a growing pause (up to {@link #MAX_RETRY})
     * until Kafka answers; the returned handle stops the attempts.
     */
    public AutoCloseable ensureInBackground(Admin admin) {
        Thread thread = new Thread(() -> {
            long pause = FIRST_RETRY.toMillis();
            while (!known() && !Thread.currentThread().isInterrupted()) {
                try {
                    describe(admin);
                } catch (RuntimeException e) {
                    log.warn("Kafka's topics are not known yet ({}); trying again in {} ms", e.getMessage(), pause);
                    try {
                        Thread.sleep(pause); // a dedicated start-up thread, never an event loop
                    } catch (InterruptedException stop) {
                        return;
                    }
                    pause = Math.min(pause * 2, MAX_RETRY.toMillis());
                }
            }
        }, "sluice-kafka-topics");
        thread.setDaemon(true);
        thread.start();
        return thread::interrupt;
    }

    /** A readiness check that fails, naming why, until the topics are known. */
    public DependencyCheck check() {
        return new DependencyCheck() {
            @Override
            public String name() {
                return "kafka_topics";
            }

            @Override
            public Mono<Void> check() {
                return known() ? Mono.empty() : Mono.error(new IllegalStateException(
                        "topics not described yet: " + lastFailure));
            }
        };
    }

    /**
     * The topics' descriptions. A broker may not know a topic yet right after it was created (the controller's
     * metadata reaches it a moment later): that answer is asked again, every 50 ms, for about the admin timeout.
     * Waits for the answer: called only on start-up threads ({@link #ensure}'s callers, {@link #ensureInBackground}'s),
     * never an event loop.
     */
    private static Map<String, TopicDescription> describeAll(Admin admin, List<String> names, int timeoutMs) {
        Duration pause = Duration.ofMillis(50);
        return Mono.defer(() -> Mono.fromCompletionStage(admin.describeTopics(names,
                                new DescribeTopicsOptions().timeoutMs(timeoutMs)).allTopicNames().toCompletionStage()))
                .retryWhen(Retry.fixedDelay(Math.max(1, timeoutMs / pause.toMillis()), pause)
                        .filter(e -> e instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException)
                        .onRetryExhaustedThrow((spec, signal) -> signal.failure()))
                .block();
    }

    private void describe(Admin admin) {
        List<String> names = names();
        int timeoutMs = (int) Math.min(Integer.MAX_VALUE, config.adminTimeout().toMillis());
        try {
            Set<String> existing = admin.listTopics(new ListTopicsOptions().timeoutMs(timeoutMs)).names()
                    .get(timeoutMs, TimeUnit.MILLISECONDS);
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
                    admin.createTopics(missing, new CreateTopicsOptions().timeoutMs(timeoutMs)).all()
                            .get(timeoutMs, TimeUnit.MILLISECONDS);
                    log.info("Created topics {}", missing.stream().map(NewTopic::name).toList());
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
            Map<String, TopicDescription> described = describeAll(admin, names, timeoutMs);
            Map<String, Integer> counts = new HashMap<>();
            described.forEach((name, d) -> counts.put(name, d.partitions().size()));
            partitions = Map.copyOf(counts);
            known.complete(null);
            if (counts.values().stream().anyMatch(n -> n != config.partitions())) {
                log.info("Topic partition counts {} differ from kafka.partitions={}; the counts of the topics apply",
                        counts, config.partitions());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while describing topics", e);
        } catch (Exception e) {
            String why = e instanceof java.util.concurrent.TimeoutException
                    ? "no answer within kafka.admin-timeout (" + config.adminTimeout().toMillis() + " ms)"
                    : String.valueOf(e.getCause() == null ? e.getMessage() : e.getCause().getMessage());
            lastFailure = why;
            throw new IllegalStateException("could not create or describe Sluice's topics " + names + " at "
                    + config.bootstrapString() + ": " + why, e);
        }
    }
}
