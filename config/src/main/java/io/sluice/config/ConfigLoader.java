package io.sluice.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * Builds a {@link SluiceConfig} from four layers, each overriding the one before: the defaults, a
 * properties file, {@code SLUICE_*} environment variables, then command-line overrides.
 *
 * <p>Every value is validated; all problems are reported together in one {@link ConfigException}, each
 * naming the setting, the value, what was expected and where the value came from.
 */
public final class ConfigLoader {

    private ConfigLoader() {
    }

    /**
     * @param file      a properties file, or {@code null} for none
     * @param env       the environment (normally {@code System.getenv()})
     * @param overrides setting name to raw value, from the command line
     */
    public static SluiceConfig load(Path file, Map<String, String> env, Map<String, String> overrides) {
        Map<String, String> raw = new LinkedHashMap<>();
        Map<String, String> origin = new HashMap<>();
        List<String> problems = new ArrayList<>();
        for (Setting<?> s : Settings.ALL) {
            raw.put(s.name(), s.defaultValue());
            origin.put(s.name(), "default");
        }
        if (file != null) {
            Properties props = readFile(file);
            for (String key : props.stringPropertyNames()) {
                if (raw.containsKey(key)) {
                    raw.put(key, props.getProperty(key));
                    origin.put(key, "file " + file);
                } else {
                    problems.add(key + ": unknown setting (in " + file + "; see config/sluice.example.properties)");
                }
            }
        }
        for (Setting<?> s : Settings.ALL) {
            String value = env.get(s.envName());
            if (value != null) {
                raw.put(s.name(), value);
                origin.put(s.name(), "environment " + s.envName());
            }
        }
        overrides.forEach((key, value) -> {
            if (raw.containsKey(key)) {
                raw.put(key, value);
                origin.put(key, "command line --" + key);
            } else {
                problems.add(key + ": unknown setting (on the command line; see config/sluice.example.properties)");
            }
        });

        Map<Setting<?>, Object> typed = new HashMap<>();
        for (Setting<?> s : Settings.ALL) {
            try {
                typed.put(s, s.parse(raw.get(s.name())));
            } catch (ConfigException e) {
                for (String p : e.problems()) {
                    problems.add(p + " [from " + origin.get(s.name()) + "]");
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return assemble(new Typed(typed));
    }

    /**
     * The names of the settings given a value by the file, the environment or the overrides (rather than left
     * at their defaults), for commands whose behaviour depends on whether a setting was chosen.
     */
    public static Set<String> explicitlySet(Path file, Map<String, String> env, Map<String, String> overrides) {
        Set<String> names = new java.util.TreeSet<>();
        if (file != null) {
            names.addAll(readFile(file).stringPropertyNames());
        }
        for (Setting<?> s : Settings.ALL) {
            if (env.containsKey(s.envName())) {
                names.add(s.name());
            }
        }
        names.addAll(overrides.keySet());
        return names;
    }

    private static Properties readFile(Path file) {
        Properties props = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            props.load(reader);
        } catch (IOException e) {
            throw new ConfigException("--config: " + file + " (expected: a readable properties file; "
                    + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
        return props;
    }

    private static SluiceConfig assemble(Typed t) {
        ServerConfig server = new ServerConfig(
                t.get(Settings.SERVER_HOST),
                t.get(Settings.SERVER_PORT),
                t.get(Settings.SERVER_IO_THREADS),
                t.get(Settings.SERVER_MAX_CONNECTIONS),
                t.get(Settings.SERVER_IDLE_TIMEOUT),
                t.get(Settings.SERVER_MAX_HEADER_BYTES),
                t.get(Settings.SERVER_MAX_BODY_BYTES),
                t.get(Settings.SERVER_EARLY_RETRIES),
                t.get(Settings.SERVER_SHUTDOWN_GRACE),
                t.get(Settings.SERVER_HEALTH_TIMEOUT),
                t.get(Settings.SERVER_REQUEST_LOG),
                t.get(Settings.ADMIN_PORT));
        KafkaConfig kafka = new KafkaConfig(
                t.get(Settings.KAFKA_BOOTSTRAP_SERVERS),
                t.get(Settings.KAFKA_CLIENT_ID),
                t.get(Settings.KAFKA_REQUEST_TIMEOUT),
                t.get(Settings.KAFKA_TOPIC_PREFIX),
                t.get(Settings.KAFKA_PARTITIONS),
                t.get(Settings.KAFKA_REPLICATION_FACTOR),
                t.get(Settings.KAFKA_ADMIN_TIMEOUT));
        PostgresConfig postgres = new PostgresConfig(
                t.get(Settings.POSTGRES_HOST),
                t.get(Settings.POSTGRES_PORT),
                t.get(Settings.POSTGRES_DATABASE),
                t.get(Settings.POSTGRES_USER),
                t.get(Settings.POSTGRES_PASSWORD),
                t.get(Settings.POSTGRES_POOL_MAX_SIZE),
                t.get(Settings.POSTGRES_CONNECT_TIMEOUT),
                t.get(Settings.POSTGRES_CALL_TIMEOUT),
                t.get(Settings.POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT));
        Map<Tier, TenantsConfig.Quota> quotas = new EnumMap<>(Tier.class);
        quotas.put(Tier.FREE, new TenantsConfig.Quota(t.get(Settings.TENANTS_FREE_REQUESTS_PER_MINUTE),
                t.get(Settings.TENANTS_FREE_ITEMS_PER_MINUTE)));
        quotas.put(Tier.PAID, new TenantsConfig.Quota(t.get(Settings.TENANTS_PAID_REQUESTS_PER_MINUTE),
                t.get(Settings.TENANTS_PAID_ITEMS_PER_MINUTE)));
        quotas.put(Tier.ENTERPRISE, new TenantsConfig.Quota(t.get(Settings.TENANTS_ENTERPRISE_REQUESTS_PER_MINUTE),
                t.get(Settings.TENANTS_ENTERPRISE_ITEMS_PER_MINUTE)));
        Set<Role> roles = t.get(Settings.ROLES);
        SpoolConfig spool = new SpoolConfig(Path.of(t.get(Settings.SPOOL_DIR)), t.get(Settings.SPOOL_MAX_BYTES),
                t.get(Settings.SPOOL_SEGMENT_BYTES), t.get(Settings.SPOOL_FSYNC_INTERVAL), t.get(Settings.KAFKA_SEND_TIMEOUT));
        IngestConfig ingest = new IngestConfig(t.get(Settings.INGEST_MAX_ITEMS_PER_REQUEST),
                t.get(Settings.INGEST_MAX_NAME_LENGTH), t.get(Settings.INGEST_MAX_LABELS),
                t.get(Settings.INGEST_MAX_LABEL_NAME_LENGTH), t.get(Settings.INGEST_MAX_LABEL_VALUE_LENGTH),
                t.get(Settings.INGEST_LATE_WINDOW), t.get(Settings.INGEST_CLOCK_SKEW),
                t.get(Settings.INGEST_MAX_ACTIVE_SERIES), t.get(Settings.INGEST_MAX_IN_FLIGHT_ITEMS),
                t.get(Settings.INGEST_MAX_IN_FLIGHT_BYTES), t.get(Settings.INGEST_MAX_METERED_TENANTS),
                t.get(Settings.INGEST_SERIES_CACHE_ENTRIES));
        WriterConfig writer = new WriterConfig(t.get(Settings.WRITER_MAX_BATCH_RECORDS),
                t.get(Settings.WRITER_MAX_BATCH_BYTES), t.get(Settings.WRITER_MAX_BATCH_WAIT), t.get(Settings.RETENTION_RAW),
                t.get(Settings.RETENTION_ROLLUP_1M), t.get(Settings.RETENTION_ROLLUP_1H),
                t.get(Settings.RETENTION_PARTITIONS_AHEAD), t.get(Settings.WRITER_CHUNK_MAX_SAMPLES),
                t.get(Settings.WRITER_COMPACTION_INTERVAL), t.get(Settings.WRITER_COMPACTION_DELAY),
                compactionLookback(t.get(Settings.WRITER_COMPACTION_LOOKBACK), t.get(Settings.INGEST_LATE_WINDOW)),
                t.get(Settings.WRITER_COMPACTION_BATCH),
                t.get(Settings.WRITER_COMPACTION_TRANSACTION_SAMPLES), t.get(Settings.WRITER_TRANSACTION_TIMEOUT),
                t.get(Settings.WRITER_SESSION_TIMEOUT), t.get(Settings.WRITER_KNOWN_SERIES),
                t.get(Settings.WRITER_ROLLUP_FOLD_DELAY));
        QueryConfig query = new QueryConfig(t.get(Settings.QUERY_MAX_POINTS_PER_SERIES), t.get(Settings.QUERY_MAX_SERIES),
                t.get(Settings.QUERY_MAX_RANGE), t.get(Settings.QUERY_STATEMENT_TIMEOUT),
                t.get(Settings.QUERY_CACHE_MAX_BYTES), t.get(Settings.QUERY_ROLLUP_MIN_STEP),
                t.get(Settings.QUERY_MAX_SAMPLES));
        LinksConfig links = new LinksConfig(t.get(Settings.LINKS_BASE_URL), t.get(Settings.LINKS_CACHE_MAX),
                t.get(Settings.LINKS_CACHE_TTL), t.get(Settings.LINKS_NEGATIVE_TTL),
                t.get(Settings.LINKS_PERMANENT_MAX_AGE), t.get(Settings.LINKS_REDIRECTS_PER_MINUTE),
                t.get(Settings.LINKS_CLICK_QUEUE), t.get(Settings.LINKS_CLICK_FLUSH_INTERVAL));
        Duration lateWindow = t.get(Settings.INGEST_LATE_WINDOW);
        Duration rawRetention = t.get(Settings.RETENTION_RAW);
        if (lateWindow.compareTo(rawRetention) > 0) {
            // the writer stores no sample older than retention.raw (its partition is gone or about to be): one the
            // gateway accepted would be acknowledged and then lost
            throw new ConfigException(Settings.INGEST_LATE_WINDOW.name() + ": " + lateWindow.toMillis() + "ms"
                    + " (expected: at most " + Settings.RETENTION_RAW.name() + ", " + rawRetention.toMillis()
                    + "ms: samples older than that are not stored, so none may be accepted)");
        }
        Duration rollupRetention = t.get(Settings.RETENTION_ROLLUP_1M);
        if (rollupRetention.compareTo(rawRetention) < 0) {
            // the writer finds a series' newest stored sample through its newest 1-minute rollup: without one, a sample
            // sent again could be taken for new and stored twice
            throw new ConfigException(Settings.RETENTION_ROLLUP_1M.name() + ": " + rollupRetention.toMillis() + "ms"
                    + " (expected: at least " + Settings.RETENTION_RAW.name() + ", " + rawRetention.toMillis()
                    + "ms: the writer finds what is stored of a series through its 1-minute rollups)");
        }
        String cert = t.get(Settings.SERVER_TLS_CERT_FILE);
        String key = t.get(Settings.SERVER_TLS_KEY_FILE);
        if (cert.isBlank() != key.isBlank()) {
            throw new ConfigException(Settings.SERVER_TLS_CERT_FILE + " and " + Settings.SERVER_TLS_KEY_FILE
                    + ": only one is set (expected: both, for TLS, or neither)");
        }
        EdgeConfig edge = new EdgeConfig(t.get(Settings.SERVER_BINARY_PORT),
                cert.isBlank() ? null : Path.of(cert.strip()), key.isBlank() ? null : Path.of(key.strip()),
                t.get(Settings.BINARY_MAX_FRAME_BYTES), t.get(Settings.BINARY_MAX_IN_FLIGHT_BATCHES),
                t.get(Settings.BINARY_FLUSH_DELAY));
        AuthConfig auth = new AuthConfig(t.get(Settings.AUTH_CACHE_TTL), t.get(Settings.AUTH_NEGATIVE_TTL),
                t.get(Settings.AUTH_STALE_IF_ERROR));
        ClusterConfig cluster = new ClusterConfig(t.get(Settings.CLUSTER_NODE_ID),
                t.get(Settings.CLUSTER_HEARTBEAT_INTERVAL), t.get(Settings.CLUSTER_NODE_TTL));
        Map<Tier, Duration> minIntervals = new EnumMap<>(Tier.class);
        minIntervals.put(Tier.FREE, t.get(Settings.ALERTING_FREE_MIN_INTERVAL));
        minIntervals.put(Tier.PAID, t.get(Settings.ALERTING_PAID_MIN_INTERVAL));
        minIntervals.put(Tier.ENTERPRISE, t.get(Settings.ALERTING_ENTERPRISE_MIN_INTERVAL));
        AlertingConfig alerting = new AlertingConfig(t.get(Settings.ALERTING_DEFAULT_INTERVAL), minIntervals,
                t.get(Settings.ALERTING_MAX_RULES_PER_TENANT), t.get(Settings.ALERTING_EVALUATION_TIMEOUT),
                t.get(Settings.ALERTING_POLL_INTERVAL), t.get(Settings.ALERTING_CLAIM_BATCH),
                t.get(Settings.ALERTING_RESOLVED_RETENTION), t.get(Settings.ALERTING_GROUP_WAIT),
                t.get(Settings.ALERTING_GROUP_INTERVAL), t.get(Settings.ALERTING_REPEAT_INTERVAL),
                t.get(Settings.ALERTING_WEBHOOK_TIMEOUT), t.get(Settings.ALERTING_RETRY_INITIAL_BACKOFF),
                t.get(Settings.ALERTING_RETRY_MAX_BACKOFF), t.get(Settings.ALERTING_DELIVERY_MAX_AGE),
                t.get(Settings.ALERTING_OUTBOX_MAX_ROWS),
                new AlertingConfig.Limits(t.get(Settings.ALERTING_MAX_RULE_NAME_LENGTH),
                        t.get(Settings.ALERTING_MAX_EXPR_BYTES), t.get(Settings.ALERTING_MAX_LABELS_PER_RULE),
                        t.get(Settings.ALERTING_MAX_ANNOTATIONS_PER_RULE),
                        t.get(Settings.ALERTING_MAX_LABEL_VALUE_LENGTH), t.get(Settings.ALERTING_MAX_ANNOTATION_BYTES),
                        t.get(Settings.ALERTING_MAX_LISTED_ALERTS), t.get(Settings.ALERTING_MAX_ROUTES_PER_TENANT),
                        t.get(Settings.ALERTING_MAX_SILENCE_TEXT_LENGTH),
                        t.get(Settings.ALERTING_MAX_RECEIVERS_PER_TENANT),
                        t.get(Settings.ALERTING_MAX_RECEIVER_HEADERS),
                        t.get(Settings.ALERTING_MAX_RECEIVER_HEADER_VALUE_LENGTH),
                        t.get(Settings.ALERTING_MAX_RECEIVER_URL_LENGTH)),
                t.get(Settings.ALERTING_EXTERNAL_URL));
        return new SluiceConfig(server, kafka, postgres, new TenantsConfig(quotas), ingest, writer, query, links, spool,
                roles, Path.of(t.get(Settings.DEV_DATA_DIR)), edge, auth, cluster, alerting);
    }

    /**
     * How far back compaction looks: {@code writer.compaction-lookback}, and at least {@code ingest.late-window} plus
     * an hour. Samples that old are still accepted, so their hours still take new chunks; a shorter lookback would
     * leave such hours (back-filled, or replayed after an outage) uncompacted until the writer restarts.
     */
    static Duration compactionLookback(Duration lookback, Duration lateWindow) {
        Duration covering = lateWindow.plusHours(1);
        return lookback.compareTo(covering) >= 0 ? lookback : covering;
    }

    /** The parsed values, read back with their static types. */
    private record Typed(Map<Setting<?>, Object> values) {
        @SuppressWarnings("unchecked")
        <T> T get(Setting<T> setting) {
            return (T) values.get(setting);
        }
    }

}
