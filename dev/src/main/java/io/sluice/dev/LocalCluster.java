package io.sluice.dev;

import io.sluice.config.ConfigArgs;
import io.sluice.config.PostgresConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.embedded.EmbeddedKafkaCluster;
import io.sluice.embedded.EmbeddedPostgresServer;
import io.sluice.gateway.admin.EndpointsFile;
import io.sluice.storage.postgres.Migrations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * {@code sluice cluster}: a Sluice cluster on one machine, every part a process of its own. A KRaft Kafka cluster
 * of {@link Options#brokers()} nodes (replication factor 3, {@code min.insync.replicas=2}), one PostgreSQL, then
 * {@link Options#gateways()} gateway processes, {@link Options#writers()} writer processes and
 * {@link Options#alerters()} alerter processes on free ports. Data lives under {@code <dev.data-dir>/../cluster}
 * ({@code .sluice/cluster}); the endpoints are written to {@code endpoints.env} there, as {@code sluice dev} does.
 * {@link #close()} stops the gateways (they drain), then the alerters and writers, then Kafka and PostgreSQL.
 */
public final class LocalCluster implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LocalCluster.class);
    private static final Duration START_TIMEOUT = Duration.ofSeconds(180);
    private static final Duration STOP_GRACE = Duration.ofSeconds(40);

    /** How many of each part. */
    public record Options(int brokers, int gateways, int writers, int alerters) {

        public static final Options DEFAULT = new Options(3, 2, 2, 2);

        public Options {
            if (brokers < 1 || gateways < 1 || writers < 1 || alerters < 0) {
                throw new IllegalArgumentException("a cluster needs at least one broker, gateway and writer");
            }
        }
    }

    private final Path dir;
    private final EmbeddedKafkaCluster kafka;
    private final EmbeddedPostgresServer postgres;
    private final List<ClusterNode> gateways;
    private final List<ClusterNode> writers;
    private final List<ClusterNode> alerters;
    private final DevKey devKey;

    private LocalCluster(Path dir, EmbeddedKafkaCluster kafka, EmbeddedPostgresServer postgres,
                         List<ClusterNode> gateways, List<ClusterNode> writers, List<ClusterNode> alerters,
                         DevKey devKey) {
        this.dir = dir;
        this.kafka = kafka;
        this.postgres = postgres;
        this.gateways = gateways;
        this.writers = writers;
        this.alerters = alerters;
        this.devKey = devKey;
    }

    /** Where a cluster keeps its data, next to dev's. */
    public static Path directory(SluiceConfig config) {
        return config.devDataDir().toAbsolutePath().resolveSibling("cluster");
    }

    /**
     * Starts everything and returns once every process is ready.
     *
     * @param parsed the command line's settings, given to every node (before the node's own ports and addresses)
     */
    public static LocalCluster start(SluiceConfig config, ConfigArgs parsed, Options options, PrintStream out) {
        Path dir = directory(config);
        EmbeddedKafkaCluster kafka = null;
        EmbeddedPostgresServer postgres = new EmbeddedPostgresServer(dir.resolve("postgres"), START_TIMEOUT, true);
        List<ClusterNode> started = new ArrayList<>();
        try {
            Files.createDirectories(dir);
            CompletableFuture<Void> pgUp = CompletableFuture.runAsync(postgres::start);
            kafka = EmbeddedKafkaCluster.start(dir.resolve("kafka"), options.brokers(), START_TIMEOUT, "384m");
            pgUp.join();
            PostgresConfig pg = postgres.configure(config.postgres());
            Migrations.apply(pg);
            DevKey key = DevKey.ensure(pg, dir, DevMode.DEV_TENANT, false);

            List<String> shared = sharedSettings(parsed, kafka, pg);
            Set<Integer> ports = new HashSet<>();
            List<ClusterNode> gateways = new ArrayList<>();
            for (int i = 1; i <= options.gateways(); i++) {
                int port = freePort(ports);
                gateways.add(node("gateway-" + i, "gateway", port, dir, shared, List.of(
                        "--server.port=" + port, "--spool.dir=" + dir.resolve("gateway-" + i).resolve("spool"))));
            }
            List<ClusterNode> writers = new ArrayList<>();
            for (int i = 1; i <= options.writers(); i++) {
                int port = freePort(ports);
                writers.add(node("writer-" + i, "writer", port, dir, shared, List.of("--admin.port=" + port,
                        "--spool.dir=" + dir.resolve("writer-" + i).resolve("spool"))));
            }
            List<ClusterNode> alerters = new ArrayList<>();
            for (int i = 1; i <= options.alerters(); i++) {
                int port = freePort(ports);
                alerters.add(node("alerter-" + i, "alerter", port, dir, shared, List.of("--admin.port=" + port,
                        "--spool.dir=" + dir.resolve("alerter-" + i).resolve("spool"))));
            }
            // the writers first: the topics are created once, by the first process, before the others race for it
            for (ClusterNode node : concat(concat(writers, gateways), alerters)) {
                started.add(node);
                node.launch();
            }
            for (ClusterNode node : started) {
                node.awaitReady(START_TIMEOUT);
            }
            LocalCluster cluster = new LocalCluster(dir, kafka, postgres, gateways, writers, alerters, key);
            cluster.announce(out);
            return cluster;
        } catch (IOException e) {
            stopAll(started, kafka, postgres);
            throw new UncheckedIOException("sluice cluster could not start in " + dir, e);
        } catch (RuntimeException e) {
            stopAll(started, kafka, postgres);
            throw e;
        }
    }

    private static List<String> sharedSettings(ConfigArgs parsed, EmbeddedKafkaCluster kafka, PostgresConfig pg) {
        List<String> settings = new ArrayList<>();
        if (parsed.configFile() != null) {
            settings.add("--config=" + parsed.configFile().toAbsolutePath());
        }
        parsed.overrides().forEach((name, value) -> {
            if (!name.equals("roles")) {
                settings.add("--" + name + "=" + value);
            }
        });
        settings.add("--kafka.bootstrap-servers=" + kafka.bootstrapServers());
        settings.add("--kafka.replication-factor=" + kafka.replicationFactor());
        settings.add("--postgres.host=" + pg.host());
        settings.add("--postgres.port=" + pg.port());
        settings.add("--postgres.database=" + pg.database());
        settings.add("--postgres.user=" + pg.user());
        return settings;
    }

    private static ClusterNode node(String name, String role, int port, Path dir, List<String> shared,
                                    List<String> own) {
        List<String> settings = new ArrayList<>(shared);
        settings.add("--roles=" + role);
        settings.add("--cluster.node-id=" + name);
        settings.addAll(own);
        return new ClusterNode(name, role, port, dir, settings);
    }

    private static int freePort(Set<Integer> taken) {
        while (true) {
            try (ServerSocket socket = new ServerSocket(0)) {
                if (taken.add(socket.getLocalPort())) {
                    return socket.getLocalPort();
                }
            } catch (IOException e) {
                throw new UncheckedIOException("no free port", e);
            }
        }
    }

    private static List<ClusterNode> concat(List<ClusterNode> first, List<ClusterNode> then) {
        List<ClusterNode> all = new ArrayList<>(first);
        all.addAll(then);
        return all;
    }

    public List<ClusterNode> gateways() {
        return gateways;
    }

    public List<ClusterNode> writers() {
        return writers;
    }

    public List<ClusterNode> alerters() {
        return alerters;
    }

    public EmbeddedKafkaCluster kafka() {
        return kafka;
    }

    public EmbeddedPostgresServer postgres() {
        return postgres;
    }

    public String devApiKey() {
        return devKey.key();
    }

    public Path directory() {
        return dir;
    }

    private void announce(PrintStream out) {
        EndpointsFile endpoints = new EndpointsFile()
                .put("HTTP_URL", gateways.get(0).url())
                .put("GATEWAY_URLS", gateways.stream().map(ClusterNode::url).collect(Collectors.joining(",")));
        for (ClusterNode node : nodes()) {
            endpoints.put(node.name().toUpperCase(Locale.ROOT).replace('-', '_') + "_URL", node.url());
        }
        endpoints.put("KAFKA_BOOTSTRAP", kafka.bootstrapServers())
                .put("PG_URL", postgres.url())
                .put("DEV_API_KEY", devKey.key());
        List<String> parts = new ArrayList<>();
        for (ClusterNode node : nodes()) {
            parts.add(String.format("%-10s %s   (pid %d; %s)", node.name(), node.url(), node.pid(),
                    node.role().equals("gateway") ? "API, /health/ready, /metrics" : "admin: /health/ready, /metrics"));
        }
        parts.add("Kafka      " + kafka.bootstrapServers() + "   (" + kafka.nodes().size() + " brokers, replication "
                + kafka.replicationFactor() + ")");
        parts.add("Postgres   " + postgres.url());
        parts.add("API key    " + devKey.key() + "   (tenant '" + DevMode.DEV_TENANT + "')");
        Banner.announce(out, dir, endpoints, "Sluice cluster is running", parts,
                "Logs and data in " + dir + "; Ctrl-C stops everything.");
    }

    private List<ClusterNode> nodes() {
        return concat(concat(gateways, writers), alerters);
    }

    /** Stops the gateways (they drain into Kafka), then the alerters and writers, then Kafka and PostgreSQL. */
    @Override
    public void close() {
        try {
            stopAll(nodes(), kafka, postgres);
        } finally {
            try {
                Files.deleteIfExists(dir.resolve(EndpointsFile.FILE_NAME));
            } catch (IOException e) {
                log.debug("could not remove endpoints.env", e);
            }
        }
    }

    private static void stopAll(List<ClusterNode> nodes, EmbeddedKafkaCluster kafka, EmbeddedPostgresServer postgres) {
        inParallel(nodes.stream().filter(n -> n.role().equals("gateway")).toList(), n -> n.stop(STOP_GRACE));
        inParallel(nodes.stream().filter(n -> !n.role().equals("gateway")).toList(), n -> n.stop(STOP_GRACE));
        if (kafka != null) {
            kafka.close();
        }
        postgres.close();
    }

    private static void inParallel(List<ClusterNode> nodes, Consumer<ClusterNode> action) {
        CompletableFuture.allOf(nodes.stream()
                .map(n -> CompletableFuture.runAsync(() -> action.accept(n), runnable -> {
                    Thread thread = new Thread(runnable, "sluice-cluster-stop-" + n.name());
                    thread.start();
                }))
                .toArray(CompletableFuture[]::new)).join();
    }
}
