package io.sluice.embedded;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real, single-node Kafka broker (KRaft, combined broker and controller) running as a child JVM on
 * loopback ports, for {@code sluice dev} and the tests.
 *
 * <p>The child runs {@link KafkaChildMain} from this JVM's own class path, keeps its data under the
 * given directory and writes its log to {@code kafka.log} there. It cannot outlive this JVM: a shutdown
 * hook stops it, and if this JVM is killed outright the child notices its closed standard input and
 * exits. A broker left over from an earlier run that was killed (pid file in the data directory) is
 * ended before a new one starts.
 *
 * <p>Not thread-safe: start, stop and kill from one thread at a time.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);
    private static final String MARKER = KafkaChildMain.class.getName();
    private static final Duration STOP_GRACE = Duration.ofSeconds(30);

    private final Path dataDir;
    private final Duration startTimeout;
    private final String heap;
    /** Null for a single-node broker; the node's place in a cluster otherwise. */
    private final Membership membership;
    private int brokerPort;
    private int controllerPort;
    private Process process;
    private OutputStream lifeline;
    private Thread shutdownHook;

    /**
     * @param dataDir      the broker's own directory (created if missing; reused if it holds a formatted log)
     * @param startTimeout how long {@link #start()} waits for the broker to answer
     * @param heap         the child's maximum heap, e.g. {@code 512m}
     */
    public EmbeddedKafkaBroker(Path dataDir, Duration startTimeout, String heap) {
        this(dataDir, startTimeout, heap, null);
    }

    /**
     * One node of an {@link EmbeddedKafkaCluster}: the cluster chose its ports, its id and the controller quorum.
     */
    EmbeddedKafkaBroker(Path dataDir, Duration startTimeout, String heap, Membership membership) {
        this.dataDir = dataDir.toAbsolutePath();
        this.startTimeout = startTimeout;
        this.heap = heap;
        this.membership = membership;
        if (membership != null) {
            this.brokerPort = membership.brokerPort();
            this.controllerPort = membership.controllerPort();
        }
    }

    /**
     * A node's place in a KRaft cluster of combined broker-controllers.
     *
     * @param voters            {@code controller.quorum.voters}: every node's {@code id@host:controllerPort}
     * @param replicationFactor the internal topics' replication, and the default for new topics
     */
    record Membership(int nodeId, int brokerPort, int controllerPort, String voters, String clusterId,
                      int replicationFactor) {
    }

    /** Starts the broker and returns once it answers an Admin request; the ports stay the same across restarts. */
    public synchronized EmbeddedKafkaBroker start() {
        if (isRunning()) {
            return this;
        }
        long began = System.nanoTime();
        launchProcess();
        return awaitStarted(began);
    }

    /**
     * Starts the child JVM without waiting for it to answer: a cluster launches every node first, since a node
     * answers only once a majority of the controller quorum is up.
     */
    synchronized void launchProcess() {
        try {
            Files.createDirectories(dataDir);
            StaleProcesses.endIfAlive(dataDir.resolve("kafka.pid"), MARKER, STOP_GRACE);
            if (membership == null) {
                choosePorts();
            }
            Path properties = writeProperties();
            process = launch(properties);
            Files.writeString(dataDir.resolve("kafka.pid"), Long.toString(process.pid()));
            if (shutdownHook == null) {
                shutdownHook = new Thread(this::stopQuietly, "embedded-kafka-stop");
                Runtime.getRuntime().addShutdownHook(shutdownHook);
            }
        } catch (IOException e) {
            kill();
            throw new UncheckedIOException("embedded Kafka could not start in " + dataDir, e);
        } catch (RuntimeException e) {
            kill();
            throw e;
        }
    }

    /** Waits for a launched broker to answer; kills it if it does not within the start timeout. */
    synchronized EmbeddedKafkaBroker awaitStarted(long began) {
        try {
            awaitReady();
        } catch (RuntimeException e) {
            kill();
            throw e;
        }
        log.info("Embedded Kafka ready at {} in {} ms (data: {})", bootstrapServers(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began), dataDir);
        return this;
    }

    /** {@code 127.0.0.1:port}, valid once started. */
    public String bootstrapServers() {
        if (brokerPort == 0) {
            throw new IllegalStateException("embedded Kafka has not been started");
        }
        return "127.0.0.1:" + brokerPort;
    }

    /** The broker process's id, for tests that freeze it (SIGSTOP) and resume it (SIGCONT). */
    public synchronized long pid() {
        if (process == null) {
            throw new IllegalStateException("embedded Kafka is not running");
        }
        return process.pid();
    }

    public synchronized boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** Stops the broker cleanly (SIGTERM, a controlled shutdown), forcibly if it takes longer than 30 s. */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        process.destroy();
        if (!StaleProcesses.awaitExit(process.toHandle(), STOP_GRACE)) {
            log.warn("Embedded Kafka did not stop within {}; killing it", STOP_GRACE);
            process.destroyForcibly();
            StaleProcesses.awaitExit(process.toHandle(), Duration.ofSeconds(10));
        }
        released();
    }

    /** Kills the broker at once (SIGKILL), as a crash would. */
    public synchronized void kill() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        StaleProcesses.awaitExit(process.toHandle(), Duration.ofSeconds(10));
        released();
    }

    @Override
    public void close() {
        stop();
        removeShutdownHook();
    }

    private void released() {
        closeLifeline();
        process = null;
        try {
            Files.deleteIfExists(dataDir.resolve("kafka.pid"));
        } catch (IOException e) {
            log.debug("could not delete kafka.pid", e);
        }
    }

    private void stopQuietly() {
        try {
            stop();
        } catch (RuntimeException e) {
            log.warn("Stopping embedded Kafka failed", e);
        }
    }

    private void removeShutdownHook() {
        if (shutdownHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException alreadyShuttingDown) {
                // the hook is running or has run
            }
            shutdownHook = null;
        }
    }

    private void closeLifeline() {
        if (lifeline != null) {
            try {
                lifeline.close();
            } catch (IOException ignored) {
                // the child is gone either way
            }
            lifeline = null;
        }
    }

    /** Keeps the ports of a previous start (a restart or an earlier dev run) when they are still free. */
    private void choosePorts() throws IOException {
        Path portsFile = dataDir.resolve("ports");
        if (brokerPort == 0 && Files.isRegularFile(portsFile)) {
            String[] saved = Files.readString(portsFile).strip().split(",");
            if (saved.length == 2) {
                brokerPort = Integer.parseInt(saved[0]);
                controllerPort = Integer.parseInt(saved[1]);
            }
        }
        if (brokerPort == 0 || !FreePorts.claim(brokerPort, dataDir) || !FreePorts.claim(controllerPort, dataDir)) {
            brokerPort = FreePorts.pick(dataDir);
            do {
                controllerPort = FreePorts.pick(dataDir);
            } while (controllerPort == brokerPort);
        }
        Files.writeString(portsFile, brokerPort + "," + controllerPort);
    }

    private Path writeProperties() throws IOException {
        Path logs = dataDir.resolve("logs");
        Map<String, String> props = new java.util.LinkedHashMap<>();
        int replication = membership == null ? 1 : membership.replicationFactor();
        String minIsr = Integer.toString(Math.min(2, replication));
        props.put("process.roles", "broker,controller");
        props.put("node.id", membership == null ? "1" : Integer.toString(membership.nodeId()));
        props.put("controller.quorum.voters", membership == null ? "1@127.0.0.1:" + controllerPort
                : membership.voters());
        props.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        props.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        props.put("controller.listener.names", "CONTROLLER");
        props.put("inter.broker.listener.name", "PLAINTEXT");
        props.put("listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT");
        props.put("log.dirs", logs.toString());
        props.put("num.partitions", "1");
        props.put("auto.create.topics.enable", "false");
        props.put("default.replication.factor", Integer.toString(replication));
        props.put("min.insync.replicas", minIsr);
        props.put("offsets.topic.replication.factor", Integer.toString(replication));
        props.put("offsets.topic.num.partitions", "4");
        props.put("transaction.state.log.replication.factor", Integer.toString(replication));
        props.put("transaction.state.log.min.isr", minIsr);
        props.put("transaction.state.log.num.partitions", "4");
        props.put("share.coordinator.state.topic.replication.factor", Integer.toString(replication));
        props.put("share.coordinator.state.topic.min.isr", minIsr);
        props.put("group.initial.rebalance.delay.ms", "0");
        // log.segment.bytes stays Kafka's 1 GiB. Each roll is followed by a flush of the old segment, written out in
        // one burst; with 64 MiB segments (a roll every few seconds at the suite's ingest rates) a producer's p99 at
        // 20 MB/s was 12-88 ms here against 7-9 ms with 1 GiB (kafka-producer-perf-test, two topics on one broker,
        // runs alternated)
        // The log cleaner allocates its dedupe map as one array when the log manager starts (128 MB by
        // default). In a 256 MB heap G1 cannot always find that many contiguous regions, and the broker
        // dies at start with OutOfMemoryError. The only compacted topics here are Kafka's own offsets and
        // transaction logs; 16 MB holds some 700k keys of them per cleaning pass.
        props.put("log.cleaner.dedupe.buffer.size", Integer.toString(16 << 20));
        StringBuilder text = new StringBuilder("# written by Sluice's EmbeddedKafkaBroker on every start\n");
        props.forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
        Path file = dataDir.resolve("server.properties");
        Files.writeString(file, text.toString(), StandardCharsets.UTF_8);
        return file;
    }

    private Process launch(Path properties) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java,
                "-Xms64m", "-Xmx" + heap, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
                "-Dlogback.configurationFile=io/sluice/embedded/kafka-logback.xml",
                "-Dsluice.embedded=kafka",
                "-cp", System.getProperty("java.class.path"),
                MARKER, properties.toString(), clusterId()));
        Path logFile = dataDir.resolve("kafka.log");
        Process child = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .start();
        lifeline = child.getOutputStream();
        return child;
    }

    /** The id the log directory was formatted with, or a new one (the cluster's) for a fresh directory. */
    private String clusterId() throws IOException {
        Path meta = dataDir.resolve("logs").resolve("meta.properties");
        if (Files.isRegularFile(meta)) {
            java.util.Properties props = new java.util.Properties();
            try (var in = Files.newInputStream(meta)) {
                props.load(in);
            }
            String id = props.getProperty("cluster.id");
            if (id != null && !id.isBlank()) {
                return id.strip();
            }
        }
        return membership != null ? membership.clusterId() : Uuid.randomUuid().toString();
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + startTimeout.toNanos();
        Map<String, Object> conf = Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers(),
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2_000,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 3_000,
                AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 200,
                AdminClientConfig.CLIENT_ID_CONFIG, "sluice-embedded-readiness");
        try (Admin admin = Admin.create(conf)) {
            RuntimeException last = null;
            while (System.nanoTime() < deadline) {
                if (!process.isAlive()) {
                    throw new IllegalStateException("embedded Kafka exited with code " + process.exitValue()
                            + " during start; see " + dataDir.resolve("kafka.log") + ":\n" + logTail());
                }
                try {
                    if (!admin.describeCluster().nodes().get(3, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for embedded Kafka", e);
                } catch (Exception e) {
                    last = new IllegalStateException(e.getMessage(), e);
                }
            }
            throw new IllegalStateException("embedded Kafka did not become ready within " + startTimeout
                    + "; see " + dataDir.resolve("kafka.log") + ":\n" + logTail(), last);
        }
    }

    private String logTail() {
        try {
            List<String> lines = Files.readAllLines(dataDir.resolve("kafka.log"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
