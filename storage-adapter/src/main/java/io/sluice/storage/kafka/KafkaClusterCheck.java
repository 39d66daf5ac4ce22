package io.sluice.storage.kafka;

import io.sluice.config.KafkaConfig;
import io.sluice.storage.health.DependencyCheck;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import reactor.core.publisher.Mono;

/**
 * Checks that the Kafka cluster answers, through one shared Admin client whose futures never block the caller.
 * Every call of that client is bounded by {@code kafka.admin-timeout}.
 */
public final class KafkaClusterCheck implements DependencyCheck, AutoCloseable {

    private final Admin admin;
    private final int timeoutMs;

    public KafkaClusterCheck(KafkaConfig config) {
        this(new KafkaClients(config));
    }

    public KafkaClusterCheck(KafkaClients clients) {
        this.timeoutMs = clients.adminTimeoutMs();
        this.admin = clients.admin();
    }

    /** The shared Admin client (describing and creating the topics uses it too). */
    public Admin admin() {
        return admin;
    }

    @Override
    public String name() {
        return "kafka";
    }

    @Override
    public Mono<Void> check() {
        return Mono.defer(() -> Mono.fromCompletionStage(admin.describeCluster(new DescribeClusterOptions()
                        .timeoutMs(timeoutMs)).nodes().toCompletionStage()))
                .flatMap(nodes -> nodes.isEmpty()
                        ? Mono.error(new IllegalStateException("no brokers available"))
                        : Mono.empty());
    }

    @Override
    public void close() {
        admin.close(java.time.Duration.ofSeconds(5));
    }
}
