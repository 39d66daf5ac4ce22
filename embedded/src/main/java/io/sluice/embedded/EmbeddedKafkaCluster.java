package io.sluice.embedded;

import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;

/**
 * A real KRaft Kafka cluster of {@code n} combined broker-controller nodes, each a child JVM
 * ({@link EmbeddedKafkaBroker}) with its data under {@code <dir>/node-<id>}, on loopback ports. Internal topics and
 * new topics are replicated {@code min(n, 3)} times with {@code min.insync.replicas=2} (for n ≥ 2): with three
 * nodes, one may be lost without losing an acknowledged write or the controller quorum.
 *
 * <p>The cluster id is kept in {@code <dir>/cluster.id}, so a cluster started again on the same directory reuses
 * its data. Nodes can be killed ({@link EmbeddedKafkaBroker#kill()}) and started again one by one, keeping their
 * ports.
 */
public final class EmbeddedKafkaCluster implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafkaCluster.class);

    private final List<EmbeddedKafkaBroker> nodes;

    private EmbeddedKafkaCluster(List<EmbeddedKafkaBroker> nodes) {
        this.nodes = List.copyOf(nodes);
    }

    /**
     * Starts every node and returns once each answers.
     *
     * @param dir          the cluster's directory
     * @param size         how many nodes (each a broker and a controller voter)
     * @param startTimeout how long each node may take to answer
     * @param heap         each node's maximum heap, e.g. {@code 384m}
     */
    public static EmbeddedKafkaCluster start(Path dir, int size, Duration startTimeout, String heap) {
        if (size < 1) {
            throw new IllegalArgumentException("a cluster needs at least one node, got " + size);
        }
        long began = System.nanoTime();
        List<EmbeddedKafkaBroker> nodes = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            String clusterId = clusterId(dir);
            Set<Integer> taken = new HashSet<>();
            int[] brokerPorts = new int[size];
            int[] controllerPorts = new int[size];
            StringJoiner voters = new StringJoiner(",");
            for (int i = 0; i < size; i++) {
                Path node = dir.resolve("node-" + (i + 1)).toAbsolutePath();
                brokerPorts[i] = freshPort(taken, node);
                controllerPorts[i] = freshPort(taken, node);
                voters.add((i + 1) + "@127.0.0.1:" + controllerPorts[i]);
            }
            int replication = Math.min(size, 3);
            for (int i = 0; i < size; i++) {
                nodes.add(new EmbeddedKafkaBroker(dir.resolve("node-" + (i + 1)), startTimeout, heap,
                        new EmbeddedKafkaBroker.Membership(i + 1, brokerPorts[i], controllerPorts[i], voters.toString(),
                                clusterId, replication)));
            }
            for (EmbeddedKafkaBroker node : nodes) {
                node.launchProcess();
            }
            for (EmbeddedKafkaBroker node : nodes) {
                node.awaitStarted(began);
            }
        } catch (IOException e) {
            nodes.forEach(EmbeddedKafkaBroker::close);
            throw new UncheckedIOException("the embedded Kafka cluster could not start in " + dir, e);
        } catch (RuntimeException e) {
            nodes.forEach(EmbeddedKafkaBroker::close);
            throw e;
        }
        EmbeddedKafkaCluster cluster = new EmbeddedKafkaCluster(nodes);
        log.info("Embedded Kafka cluster of {} nodes ready at {} in {} ms", size, cluster.bootstrapServers(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began));
        return cluster;
    }

    private static int freshPort(Set<Integer> taken, Path node) {
        int port;
        do {
            port = FreePorts.pick(node);
        } while (!taken.add(port));
        return port;
    }

    private static String clusterId(Path dir) throws IOException {
        Path file = dir.resolve("cluster.id");
        if (Files.isRegularFile(file)) {
            String id = Files.readString(file).strip();
            if (!id.isEmpty()) {
                return id;
            }
        }
        String id = Uuid.randomUuid().toString();
        Files.writeString(file, id);
        return id;
    }

    /** Every node's {@code 127.0.0.1:port}, comma-separated. */
    public String bootstrapServers() {
        StringJoiner all = new StringJoiner(",");
        nodes.forEach(node -> all.add(node.bootstrapServers()));
        return all.toString();
    }

    /** The nodes, in id order (node {@code i} has id {@code i + 1}). */
    public List<EmbeddedKafkaBroker> nodes() {
        return nodes;
    }

    /** How many times topics are replicated here. */
    public int replicationFactor() {
        return Math.min(nodes.size(), 3);
    }

    /**
     * Stops every node at once (each a controlled shutdown, killed if it takes longer than its grace): one by one,
     * the last nodes would wait for a controller quorum that is already gone.
     */
    @Override
    public void close() {
        List<Thread> stopping = new ArrayList<>();
        for (EmbeddedKafkaBroker node : nodes) {
            Thread thread = new Thread(() -> {
                try {
                    node.close();
                } catch (RuntimeException e) {
                    log.warn("Stopping a Kafka node failed", e);
                }
            }, "embedded-kafka-cluster-stop");
            thread.start();
            stopping.add(thread);
        }
        for (Thread thread : stopping) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
