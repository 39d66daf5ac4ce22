package io.sluice.config;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The container and cluster files cannot be run here (no Docker engine, no Kubernetes), so what can be checked by
 * reading is: every Sluice process they start gets a configuration Sluice accepts (the image's properties file or
 * the ConfigMap, its {@code SLUICE_*} environment and its {@code --name=value} arguments, loaded as {@code serve}
 * loads them), every {@code SLUICE_*} name written anywhere under {@code deploy/} names a setting, ports and probes
 * point at the ports those settings make the processes listen on, and the brokers keep three copies of every
 * record with two in sync.
 */
class DeployFilesTest {

    private static final Path ROOT = Path.of("..");
    private static final Path DEPLOY = ROOT.resolve("deploy");
    private static final String IMAGE_CONFIG = "/etc/sluice/sluice.properties";
    /**
     * The writer-only admin listener's setting and its default, used while the settings catalogue does not have it
     * yet; once {@link Settings} has {@code admin.port}, its default and any value the files set are what count.
     */
    private static final String ADMIN_PORT = "admin.port";
    private static final String ADMIN_PORT_DEFAULT = "9091";

    private static Map<String, Map<String, Object>> composeServices;
    private static List<Map<String, Object>> k8s;

    @BeforeAll
    static void read() throws IOException {
        Map<String, Object> compose = new Yaml().load(Files.readString(DEPLOY.resolve("compose.yaml")));
        composeServices = new LinkedHashMap<>();
        map(compose.get("services")).forEach((name, service) -> composeServices.put(name, map(service)));
        Map<String, Object> kustomization = new Yaml().load(Files.readString(DEPLOY.resolve("k8s/kustomization.yaml")));
        List<String> resources = strings(kustomization.get("resources"));
        try (Stream<Path> files = Files.list(DEPLOY.resolve("k8s"))) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> !n.equals("kustomization.yaml")))
                    .as("every manifest is applied by the kustomization").containsExactlyInAnyOrderElementsOf(resources);
        }
        k8s = new ArrayList<>();
        for (String resource : resources) {
            for (Object doc : new Yaml().loadAll(Files.readString(DEPLOY.resolve("k8s").resolve(resource)))) {
                if (doc != null) {
                    k8s.add(map(doc));
                }
            }
        }
    }

    @Test
    void theImageConfigurationIsValidAndSpoolsOnTheVolumeTheImageUserOwns() throws IOException {
        Path properties = DEPLOY.resolve("sluice.properties");
        SluiceConfig config = ConfigLoader.load(properties, Map.of(), Map.of());
        Path spool = config.spool().dir();
        assertThat(spool).as("an absolute spool.dir, not one under the root-owned WORKDIR").isAbsolute()
                .startsWithRaw(Path.of("/var/lib/sluice"));

        String dockerfile = Files.readString(ROOT.resolve("Dockerfile"), StandardCharsets.UTF_8);
        assertThat(dockerfile).contains("COPY deploy/sluice.properties " + IMAGE_CONFIG)
                .contains("CMD [\"serve\", \"--config\", \"" + IMAGE_CONFIG + "\"]")
                .contains("VOLUME [\"/var/lib/sluice\"]")
                .contains("mkdir -p " + spool)
                .contains("chown -R sluice:sluice /var/lib/sluice");
        assertThat(dockerfile.indexOf("USER sluice:sluice")).as("the image runs as sluice")
                .isGreaterThan(dockerfile.indexOf("chown -R sluice:sluice /var/lib/sluice"));
        // both launchers run the JVM with the same GC options
        String launcher = Files.readString(ROOT.resolve("bin/sluice"), StandardCharsets.UTF_8);
        assertThat(dockerfile).contains("\"-XX:-ClassUnloadingWithConcurrentMark\"", "\"-XX:MetaspaceSize=128m\"");
        assertThat(launcher).contains("exec \"$JAVA\" -XX:-ClassUnloadingWithConcurrentMark -XX:MetaspaceSize=128m ");
        // and the same number of glibc malloc arenas
        assertThat(dockerfile).contains("ENV MALLOC_ARENA_MAX=2");
        assertThat(launcher).contains("export MALLOC_ARENA_MAX=\"${MALLOC_ARENA_MAX:-2}\"");
    }

    @Test
    void everySluiceEnvironmentNameUnderDeployNamesASetting() throws IOException {
        Set<String> known = Settings.ALL.stream().map(Setting::envName).collect(Collectors.toSet());
        Pattern env = Pattern.compile("SLUICE_[A-Z0-9_]+");
        Map<String, Set<String>> unknown = new LinkedHashMap<>();
        List<Path> files;
        try (Stream<Path> walk = Files.walk(DEPLOY)) {
            files = new ArrayList<>(walk.filter(Files::isRegularFile).sorted().toList());
        }
        files.add(ROOT.resolve("Dockerfile"));
        int seen = 0;
        for (Path file : files) {
            Matcher m = env.matcher(Files.readString(file));
            while (m.find()) {
                seen++;
                if (!known.contains(m.group())) {
                    unknown.computeIfAbsent(file.toString(), f -> new TreeSet<>()).add(m.group());
                }
            }
        }
        assertThat(seen).as("the files do use SLUICE_* names").isPositive();
        assertThat(unknown).as("SLUICE_* names that set nothing (Sluice ignores unknown environment variables)")
                .isEmpty();
    }

    // ---- compose -------------------------------------------------------------------------------------------------

    @Test
    void composeRunsThreeKraftBrokersThatKeepThreeCopiesWithTwoInSync() {
        Map<String, Map<String, String>> brokers = brokers();
        assertThat(brokers).hasSize(3);
        Set<String> ids = new HashSet<>();
        List<String> voters = new ArrayList<>();
        for (Map.Entry<String, Map<String, String>> broker : brokers.entrySet()) {
            Map<String, String> env = broker.getValue();
            assertThat(ids.add(env.get("KAFKA_NODE_ID"))).as("%s: its own node id", broker.getKey()).isTrue();
            voters.add(env.get("KAFKA_NODE_ID") + "@" + broker.getKey() + ":9093");
            assertThat(env).as(broker.getKey())
                    .containsEntry("KAFKA_PROCESS_ROLES", "broker,controller")
                    .containsEntry("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
                    .containsEntry("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://" + broker.getKey() + ":9092")
                    .containsEntry("KAFKA_DEFAULT_REPLICATION_FACTOR", "3")
                    .containsEntry("KAFKA_MIN_INSYNC_REPLICAS", "2")
                    .containsEntry("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3")
                    .containsEntry("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "3")
                    .containsEntry("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "2")
                    .containsEntry("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false");
            assertThat(env.get("KAFKA_LOG_DIRS")).as("%s: KAFKA_LOG_DIRS set (the image's default is under /tmp)",
                    broker.getKey()).isNotBlank();
            assertThat(namedVolumeAt(broker.getKey(), env.get("KAFKA_LOG_DIRS"))).as("%s: logs on its volume",
                    broker.getKey()).isNotNull();
        }
        assertThat(brokers.values().stream().map(e -> e.get("KAFKA_CONTROLLER_QUORUM_VOTERS")).distinct())
                .as("every broker knows the same three controllers").containsExactly(String.join(",", voters));
        assertThat(brokers.values().stream().map(e -> e.get("CLUSTER_ID")).distinct()).as("one cluster")
                .hasSize(1).doesNotContainNull();
        assertThat(brokers.keySet().stream().map(b -> namedVolumeAt(b, brokers.get(b).get("KAFKA_LOG_DIRS"))).distinct())
                .as("each broker its own volume").hasSize(3);
    }

    @Test
    void composeGatewaysAndWritersRunApartOnAcceptedSettingsAndThePortsTheyListenOn() throws IOException {
        Map<String, SluiceConfig> gateways = new LinkedHashMap<>();
        Map<String, SluiceConfig> writers = new LinkedHashMap<>();
        Set<String> brokerAddresses = brokers().keySet().stream().map(b -> b + ":9092").collect(Collectors.toSet());
        Map<String, String> postgres = environment(composeServices.get(serviceWithImage("postgres:")));
        for (Map.Entry<String, Map<String, Object>> service : composeServices.entrySet()) {
            List<String> command = strings(service.getValue().get("command"));
            if (command.isEmpty() || !command.get(0).equals("serve")) {
                continue;
            }
            String name = service.getKey();
            Map<String, String> env = environment(service.getValue());
            Launch launch = launch(command, env, Map.of(IMAGE_CONFIG, DEPLOY.resolve("sluice.properties")));
            SluiceConfig config = launch.config();
            assertThat(Set.copyOf(config.kafka().bootstrapServers())).as("%s: every broker", name)
                    .isEqualTo(brokerAddresses);
            assertThat(config.kafka().replicationFactor()).as("%s: topics with three copies", name).isEqualTo(3);
            assertThat(config.postgres().host()).as(name).isEqualTo(serviceWithImage("postgres:"));
            assertThat(config.postgres().database()).as(name).isEqualTo(postgres.get("POSTGRES_DB"));
            assertThat(config.postgres().user()).as(name).isEqualTo(postgres.get("POSTGRES_USER"));
            assertThat(config.postgres().password()).as(name).isEqualTo(postgres.get("POSTGRES_PASSWORD"));
            String healthcheck = String.join(" ", strings(map(service.getValue().get("healthcheck")).get("test")));
            if (config.roles().equals(Set.of(Role.GATEWAY))) {
                gateways.put(name, config);
                assertThat(strings(service.getValue().get("ports"))).as("%s: publishes server.port", name)
                        .singleElement().asString().endsWith(":" + config.server().port());
                assertThat(healthcheck).as(name).contains("/dev/tcp/127.0.0.1/" + config.server().port() + " ",
                        "GET /health/ready ");
                assertThat(namedVolumeAt(name, config.spool().dir().toString())).as("%s: spool.dir on a volume", name)
                        .isNotNull();
            } else {
                assertThat(config.roles()).as(name).isEqualTo(Set.of(Role.WRITER));
                writers.put(name, config);
                assertThat(service.getValue()).as("%s: a writer publishes no port", name).doesNotContainKey("ports");
                assertThat(healthcheck).as("%s: checks the admin listener", name)
                        .contains("/dev/tcp/127.0.0.1/" + launch.adminPort() + " ", "GET /health/ready ");
            }
        }
        assertThat(gateways).hasSizeGreaterThanOrEqualTo(2);
        assertThat(writers).isNotEmpty();
        assertThat(gateways.keySet().stream().map(g -> namedVolumeAt(g, gateways.get(g).spool().dir().toString()))
                .distinct()).as("each gateway its own spool volume (the spool locks its directory)")
                .hasSize(gateways.size());
    }

    // ---- Kubernetes ----------------------------------------------------------------------------------------------

    @Test
    void kubernetesGatewaysProbeAndServeOnServerPort() throws IOException {
        Map<String, Object> deployment = deployment(Role.GATEWAY);
        Map<String, Object> pod = podSpec(deployment);
        Map<String, Object> container = onlyContainer(pod);
        Launch launch = launch(container, pod);
        int port = launch.config().server().port();
        assertThat(containerPorts(container).values()).as("listens on server.port").containsExactly(port);
        assertProbe(container, "readinessProbe", "/health/ready", port);
        assertProbe(container, "livenessProbe", "/health/live", port);
        assertProbe(container, "startupProbe", "/health/live", port);
        assertThat(map(map(map(deployment.get("spec")).get("template")).get("metadata")).get("annotations"))
                .as("scraped on server.port").isEqualTo(Map.of("prometheus.io/scrape", "true",
                        "prometheus.io/port", Integer.toString(port), "prometheus.io/path", "/metrics"));
        Path spool = launch.config().spool().dir();
        assertThat(list(container.get("volumeMounts")).stream().map(m -> map(m).get("mountPath").toString())
                .filter(mount -> spool.startsWith(Path.of(mount)))).as("spool.dir on a volume").hasSize(1);

        Map<String, Object> service = only("Service");
        Map<String, Object> spec = map(service.get("spec"));
        assertThat(matches(map(spec.get("selector")), podLabels(deployment))).as("the Service selects gateways").isTrue();
        assertThat(matches(map(spec.get("selector")), podLabels(deployment(Role.WRITER)))).as("and not writers")
                .isFalse();
        for (Object p : list(spec.get("ports"))) {
            assertThat(resolvePort(container, map(p).get("targetPort"))).as("Service targetPort").isEqualTo(port);
        }
    }

    @Test
    void kubernetesWritersProbeTheAdminListenerAndBindNoIngestPort() throws IOException {
        Map<String, Object> deployment = deployment(Role.WRITER);
        Map<String, Object> pod = podSpec(deployment);
        Map<String, Object> container = onlyContainer(pod);
        Launch launch = launch(container, pod);
        int admin = Integer.parseInt(launch.adminPort());
        assertThat(containerPorts(container).values()).as("only the admin listener").containsExactly(admin);
        assertProbe(container, "readinessProbe", "/health/ready", admin);
        assertProbe(container, "livenessProbe", "/health/live", admin);
        assertProbe(container, "startupProbe", "/health/live", admin);
        assertThat(map(map(map(deployment.get("spec")).get("template")).get("metadata")).get("annotations"))
                .as("scraped on the admin listener").isEqualTo(Map.of("prometheus.io/scrape", "true",
                        "prometheus.io/port", Integer.toString(admin), "prometheus.io/path", "/metrics"));
    }

    @Test
    void kubernetesBudgetsSelectorsAndThePasswordSecret() throws IOException {
        List<Map<String, Object>> deployments = all("Deployment");
        assertThat(deployments).hasSize(2);
        List<Map<String, Object>> budgets = all("PodDisruptionBudget");
        for (Map<String, Object> deployment : deployments) {
            Map<String, Object> selector = map(map(map(deployment.get("spec")).get("selector")).get("matchLabels"));
            assertThat(matches(selector, podLabels(deployment))).as("%s selects its own pods", name(deployment)).isTrue();
            assertThat(deployments.stream().filter(d -> matches(selector, podLabels(d)))).as("and only those")
                    .hasSize(1);
            assertThat(budgets.stream().filter(b -> matches(map(map(map(b.get("spec")).get("selector"))
                    .get("matchLabels")), podLabels(deployment)))).as("%s has one disruption budget", name(deployment))
                    .hasSize(1);
            Map<String, Object> env = list(onlyContainer(podSpec(deployment)).get("env")).stream().map(DeployFilesTest::map)
                    .filter(e -> e.get("name").equals(Settings.POSTGRES_PASSWORD.envName())).findFirst().orElseThrow();
            assertThat(env).as("%s: the password from a Secret, never written here", name(deployment))
                    .doesNotContainKey("value");
            Map<String, Object> ref = map(map(env.get("valueFrom")).get("secretKeyRef"));
            assertThat(ref).containsEntry("name", "sluice-postgres").containsEntry("key", "password");
        }
        assertThat(Files.readString(DEPLOY.resolve("k8s/kustomization.yaml")))
                .as("says how to make the Secret").contains("kubectl create secret generic sluice-postgres --from-literal=password=");
        Properties properties = new Properties();
        properties.load(new StringReader(configMapFile("sluice-config", "sluice.properties")));
        assertThat(properties.stringPropertyNames()).as("no password in the ConfigMap")
                .doesNotContain(Settings.POSTGRES_PASSWORD.name());
    }

    // ---- launching as serve does ---------------------------------------------------------------------------------

    /** What a process is started with: its configuration as Sluice loads it, and the admin listener's port. */
    private record Launch(SluiceConfig config, String adminPort) {
    }

    /**
     * Loads the configuration {@code sluice serve} would from {@code command} (its {@code --config} file found in
     * {@code files} by its path in the container) and {@code env}; fails on anything Sluice refuses.
     */
    private static Launch launch(List<String> command, Map<String, String> env, Map<String, Path> files) {
        assertThat(command.get(0)).isEqualTo("serve");
        ConfigArgs args = ConfigArgs.parse(command.subList(1, command.size()));
        assertThat(args.rest()).as("%s: only settings after serve", command).isEmpty();
        assertThat(args.configFile()).as("%s: --config", command).isNotNull();
        Path file = files.get(args.configFile().toString());
        assertThat(file).as("%s: the --config file is in the container", command).isNotNull();
        Set<String> known = Settings.ALL.stream().map(Setting::envName).collect(Collectors.toSet());
        assertThat(env.keySet().stream().filter(k -> k.startsWith("SLUICE_"))).as("%s: environment", command)
                .allMatch(known::contains);
        SluiceConfig config = ConfigLoader.load(file, env, args.overrides());
        return new Launch(config, raw(ADMIN_PORT, ADMIN_PORT_DEFAULT, file, env, args.overrides()));
    }

    private static Launch launch(Map<String, Object> container, Map<String, Object> pod) throws IOException {
        Map<String, String> env = new HashMap<>();
        for (Object e : list(container.get("env"))) {
            Map<String, Object> entry = map(e);
            // a value from a Secret is only known in the cluster: any non-empty value stands for it
            env.put(entry.get("name").toString(), entry.containsKey("value") ? entry.get("value").toString() : "from-secret");
        }
        Map<String, Path> files = new HashMap<>();
        Map<String, Object> volumes = new HashMap<>();
        list(pod.get("volumes")).forEach(v -> volumes.put(map(v).get("name").toString(), v));
        for (Object m : list(container.get("volumeMounts"))) {
            Map<String, Object> mount = map(m);
            Map<String, Object> volume = map(volumes.get(mount.get("name").toString()));
            if (volume.containsKey("configMap")) {
                String configMap = map(volume.get("configMap")).get("name").toString();
                for (Map.Entry<String, Object> data : map(only("ConfigMap", configMap).get("data")).entrySet()) {
                    Path local = Files.createTempFile("configmap-", ".properties");
                    local.toFile().deleteOnExit();
                    Files.writeString(local, data.getValue().toString());
                    files.put(mount.get("mountPath") + "/" + data.getKey(), local);
                }
            }
        }
        return launch(strings(container.get("args")), env, files);
    }

    /**
     * The raw value of a setting by Sluice's precedence (default, file, environment, command line); for a setting
     * the catalogue does not have yet, {@code fallbackDefault}, and then nothing may set it (Sluice would refuse
     * the file or the argument, and ignore the variable).
     */
    private static String raw(String name, String fallbackDefault, Path file, Map<String, String> env,
                              Map<String, String> overrides) {
        var setting = Settings.byName(name);
        String envName = "SLUICE_" + name.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
        Properties props = new Properties();
        try (var reader = Files.newBufferedReader(file)) {
            props.load(reader);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        if (setting.isEmpty()) {
            assertThat(props.stringPropertyNames()).doesNotContain(name);
            assertThat(env).doesNotContainKey(envName);
            assertThat(overrides).doesNotContainKey(name);
            return fallbackDefault;
        }
        String value = setting.get().defaultValue();
        value = props.getProperty(name, value);
        value = env.getOrDefault(setting.get().envName(), value);
        return overrides.getOrDefault(name, value);
    }

    // ---- reading compose -----------------------------------------------------------------------------------------

    private static Map<String, Map<String, String>> brokers() {
        Map<String, Map<String, String>> brokers = new LinkedHashMap<>();
        composeServices.forEach((name, service) -> {
            if (String.valueOf(service.get("image")).startsWith("apache/kafka:")) {
                brokers.put(name, environment(service));
            }
        });
        return brokers;
    }

    private static String serviceWithImage(String prefix) {
        List<String> names = composeServices.entrySet().stream()
                .filter(s -> String.valueOf(s.getValue().get("image")).startsWith(prefix)).map(Map.Entry::getKey).toList();
        assertThat(names).as("one service runs %s", prefix).hasSize(1);
        return names.get(0);
    }

    /** A service's environment, with {@code ${NAME:-default}} as compose fills it in when NAME is not set. */
    private static Map<String, String> environment(Map<String, Object> service) {
        Map<String, String> env = new LinkedHashMap<>();
        Pattern variable = Pattern.compile("\\$\\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)}");
        map(service.get("environment")).forEach((k, v) -> env.put(k, variable.matcher(String.valueOf(v))
                .replaceAll(m -> Matcher.quoteReplacement(m.group(1)))));
        return env;
    }

    /** The named volume (declared at the top level) mounted at {@code path} or a parent of it, or null. */
    private static String namedVolumeAt(String service, String path) {
        for (String volume : strings(composeServices.get(service).get("volumes"))) {
            String[] parts = volume.split(":");
            if (parts.length >= 2 && Path.of(path).startsWith(Path.of(parts[1])) && !parts[0].startsWith("/")
                    && !parts[0].startsWith(".")) {
                return parts[0];
            }
        }
        return null;
    }

    // ---- reading Kubernetes --------------------------------------------------------------------------------------

    private static List<Map<String, Object>> all(String kind) {
        return k8s.stream().filter(d -> kind.equals(d.get("kind"))).toList();
    }

    private static Map<String, Object> only(String kind) {
        List<Map<String, Object>> docs = all(kind);
        assertThat(docs).as("one %s", kind).hasSize(1);
        return docs.get(0);
    }

    private static Map<String, Object> only(String kind, String name) {
        List<Map<String, Object>> docs = all(kind).stream().filter(d -> name.equals(name(d))).toList();
        assertThat(docs).as("one %s %s", kind, name).hasSize(1);
        return docs.get(0);
    }

    private static String configMapFile(String configMap, String key) {
        return map(only("ConfigMap", configMap).get("data")).get(key).toString();
    }

    private static String name(Map<String, Object> doc) {
        return String.valueOf(map(doc.get("metadata")).get("name"));
    }

    /** The Deployment whose process runs exactly {@code role}. */
    private static Map<String, Object> deployment(Role role) throws IOException {
        List<Map<String, Object>> found = new ArrayList<>();
        for (Map<String, Object> d : all("Deployment")) {
            Map<String, Object> pod = podSpec(d);
            if (launch(onlyContainer(pod), pod).config().roles().equals(Set.of(role))) {
                found.add(d);
            }
        }
        assertThat(found).as("one Deployment runs %s alone", role).hasSize(1);
        return found.get(0);
    }

    private static Map<String, Object> podSpec(Map<String, Object> deployment) {
        return map(map(map(deployment.get("spec")).get("template")).get("spec"));
    }

    private static Map<String, Object> podLabels(Map<String, Object> deployment) {
        return map(map(map(map(deployment.get("spec")).get("template")).get("metadata")).get("labels"));
    }

    private static Map<String, Object> onlyContainer(Map<String, Object> pod) {
        List<Object> containers = list(pod.get("containers"));
        assertThat(containers).hasSize(1);
        return map(containers.get(0));
    }

    private static Map<String, Integer> containerPorts(Map<String, Object> container) {
        Map<String, Integer> ports = new LinkedHashMap<>();
        for (Object p : list(container.get("ports"))) {
            ports.put(String.valueOf(map(p).get("name")), (Integer) map(p).get("containerPort"));
        }
        return ports;
    }

    private static int resolvePort(Map<String, Object> container, Object port) {
        if (port instanceof Integer number) {
            return number;
        }
        Integer named = containerPorts(container).get(String.valueOf(port));
        assertThat(named).as("a container port named %s", port).isNotNull();
        return named;
    }

    private static void assertProbe(Map<String, Object> container, String probe, String path, int port) {
        Map<String, Object> get = map(map(container.get(probe)).get("httpGet"));
        assertThat(get.get("path")).as(probe).isEqualTo(path);
        assertThat(resolvePort(container, get.get("port"))).as(probe + " port").isEqualTo(port);
    }

    private static boolean matches(Map<String, Object> selector, Map<String, Object> labels) {
        return !selector.isEmpty() && labels.entrySet().containsAll(selector.entrySet());
    }

    // ---- YAML values ---------------------------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value) {
        assertThat(value).as("a mapping").isInstanceOf(Map.class);
        Map<String, Object> out = new LinkedHashMap<>();
        ((Map<Object, Object>) value).forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object value) {
        return value == null ? List.of() : (List<Object>) value;
    }

    private static List<String> strings(Object value) {
        return list(value).stream().map(String::valueOf).toList();
    }
}
