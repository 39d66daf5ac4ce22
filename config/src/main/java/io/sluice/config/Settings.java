package io.sluice.config;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * Every setting Sluice has, with its default and what a valid value looks like.
 *
 * <p>This catalogue is the single source for validation, for the environment variable names and for
 * {@code config/sluice.example.properties} (a test keeps that file equal to {@link #renderExample()}).
 */
public final class Settings {

    private static final Pattern HOST_PORT = Pattern.compile("[A-Za-z0-9._\\-\\[\\]:]+:\\d{1,5}");

    // ---- server --------------------------------------------------------------------------------
    public static final Setting<String> SERVER_HOST = string("server.host", "0.0.0.0",
            "Address the gateway listens on.");
    public static final Setting<Integer> SERVER_PORT = intIn("server.port", 8080, 0, 65535,
            "Port for HTTP and the binary protocol (told apart by their first bytes; TLS too when configured); "
                    + "0 picks any free port.");
    public static final Setting<Integer> SERVER_IO_THREADS = intIn("server.io-threads", 0, 0, 1024,
            "Event-loop threads; 0 means one per core.");
    public static final Setting<Integer> SERVER_MAX_CONNECTIONS = intIn("server.max-connections", 10_000, 1,
            1_000_000, "Open connections above this are closed on accept and counted.");
    public static final Setting<Duration> SERVER_IDLE_TIMEOUT = duration("server.idle-timeout", "60s",
            Duration.ofSeconds(1), Duration.ofDays(1), "A connection with no traffic for this long is closed (binary: "
                    + "any frame in either direction, PING included, resets it; announced in HELLO_OK).");
    public static final Setting<Integer> SERVER_MAX_HEADER_BYTES = byteSize("server.max-header-bytes", "8KiB",
            1 << 10, 1 << 20, "Largest HTTP request line, and largest block of request headers; a longer request "
                    + "line gets 414, larger headers get 431.");
    public static final Setting<Integer> SERVER_MAX_BODY_BYTES = byteSize("server.max-body-bytes", "4MiB",
            1 << 10, 256 << 20, "Largest HTTP request body; larger requests get 413.");
    public static final Setting<Integer> SERVER_EARLY_RETRIES = intIn("server.early-retries", 3, 0, 1000,
            "Requests an HTTP connection may send in a row before the Retry-After of the 429 it was given has run "
                    + "out (of the kind that 429 covers: the same key after a request-quota 429, redirects after a "
                    + "redirect-limit 429): each is answered 429 at once, unread, and pauses the connection's reads "
                    + "until then; the next one closes the connection.");
    public static final Setting<Duration> SERVER_SHUTDOWN_GRACE = duration("server.shutdown-grace", "10s",
            Duration.ZERO, Duration.ofMinutes(10), "How long shutdown waits for in-flight work.");
    public static final Setting<Duration> SERVER_HEALTH_TIMEOUT = duration("server.health-timeout", "2s",
            Duration.ofMillis(50), Duration.ofMinutes(1),
            "How long /health/ready waits for each dependency check.");
    public static final Setting<Integer> SERVER_BINARY_PORT = intIn("server.binary-port", -1, -1, 65535,
            "An extra port that serves only the binary protocol (TLS too when configured); -1 = none, "
                    + "0 picks any free port. The binary protocol is always served on server.port as well.");
    public static final Setting<String> SERVER_TLS_CERT_FILE = optionalString("server.tls.cert-file",
            "PEM certificate chain for TLS on the gateway's ports; empty = TLS off. Plain and TLS connections "
                    + "are both accepted on the same port. Set together with server.tls.key-file.");
    public static final Setting<String> SERVER_TLS_KEY_FILE = optionalString("server.tls.key-file",
            "PEM private key (PKCS#8, unencrypted) for server.tls.cert-file; empty = TLS off.");
    public static final Setting<Boolean> SERVER_REQUEST_LOG = bool("server.request-log", false,
            "Log one line per answered HTTP request (logger sluice.request: method, path without query, route, "
                    + "status, duration, bytes, tenant, remote address, trace_id; never headers or API keys).");
    public static final Setting<Integer> ADMIN_PORT = intIn("admin.port", 9091, 0, 65535,
            "Where a process without the gateway role (serve --roles=writer) serves /health/live, /health/ready and "
                    + "/metrics (0 = any free port). A process with the gateway role serves them on server.port "
                    + "and binds no admin port.");
    public static final Setting<Set<Role>> ROLES = new Setting<>("roles", "gateway,writer",
            "a comma-separated subset of gateway, writer, alerter",
            "Which roles run in this process (serve): gateway (the ingest, query and redirect listener), writer "
                    + "(Kafka to PostgreSQL) and alerter (evaluates alert rules, sends notifications). Each can run "
                    + "in its own processes, as many as needed.",
            raw -> Role.parseSet(raw), set -> !set.isEmpty(), false);

    // ---- binary -------------------------------------------------------------------------------
    public static final Setting<Integer> BINARY_MAX_FRAME_BYTES = byteSize("binary.max-frame-bytes", "1MiB", 1 << 10,
            64 << 20, "Largest binary frame payload a client may send (announced in HELLO_OK); larger frames get "
                    + "ERROR FRAME_TOO_LARGE.");
    public static final Setting<Integer> BINARY_MAX_IN_FLIGHT_BATCHES = intIn("binary.max-in-flight-batches", 32, 1,
            65_535, "Unanswered BATCHes one binary connection may have (announced in HELLO_OK); a client that "
                    + "sends more gets ERROR PROTOCOL_ERROR.");
    public static final Setting<Duration> BINARY_FLUSH_DELAY = duration("binary.flush-delay", "5ms", Duration.ZERO,
            Duration.ofSeconds(1), "How long a binary connection's accepted BATCHes wait, at most, for the ones after "
                    + "them before they go to Kafka together (their ACKs wait as long; not at all once the connection "
                    + "has binary.max-in-flight-batches unanswered). Batches sent together define each series once in "
                    + "each Kafka record rather than once per batch, which costs the gateway, Kafka and the writer "
                    + "less; 0 sends what one read brought at once.");

    // ---- kafka ---------------------------------------------------------------------------------
    public static final Setting<List<String>> KAFKA_BOOTSTRAP_SERVERS = new Setting<>("kafka.bootstrap-servers",
            "127.0.0.1:9092", "a comma-separated list of host:port",
            "Kafka brokers to bootstrap from (dev mode uses its embedded broker).",
            Values::list, list -> !list.isEmpty() && list.stream().allMatch(s -> HOST_PORT.matcher(s).matches()),
            false);
    public static final Setting<String> KAFKA_CLIENT_ID = string("kafka.client-id", "sluice",
            "Client id prefix for producers, consumers and the admin client.");
    public static final Setting<Duration> KAFKA_REQUEST_TIMEOUT = duration("kafka.request-timeout", "30s",
            Duration.ofSeconds(1), Duration.ofMinutes(10), "Timeout for one Kafka request.");
    public static final Setting<Duration> KAFKA_ADMIN_TIMEOUT = duration("kafka.admin-timeout", "5s",
            Duration.ofMillis(100), Duration.ofMinutes(10), "Deadline of one Kafka admin call (describing and "
                    + "creating the topics, the readiness check); a call that passes it is retried later.");

    public static final Setting<Duration> KAFKA_SEND_TIMEOUT = duration("kafka.send-timeout", "5s",
            Duration.ofMillis(100), Duration.ofMinutes(5), "How long an ingest waits for Kafka's acknowledgement before "
                    + "it fsyncs the data to the spool instead (and counts a failure for the circuit breaker).");
    public static final Setting<String> KAFKA_TOPIC_PREFIX = new Setting<>("kafka.topic-prefix", "sluice.",
            "letters, digits, '.', '_' or '-' (may be empty)",
            "Prefix of Sluice's topics: <prefix>metrics, <prefix>events, <prefix>clicks, <prefix>control.",
            java.util.function.Function.identity(), p -> p.matches("[A-Za-z0-9._-]{0,100}"), false);
    public static final Setting<Integer> KAFKA_PARTITIONS = intIn("kafka.partitions", 6, 1, 10_000,
            "Partitions of each topic Sluice creates at start (existing topics are left as they are).");
    public static final Setting<Integer> KAFKA_REPLICATION_FACTOR = intIn("kafka.replication-factor", 0, 0, 32,
            "Replication factor of topics Sluice creates; 0 = the broker's default.");

    // ---- postgres ------------------------------------------------------------------------------
    public static final Setting<String> POSTGRES_HOST = string("postgres.host", "127.0.0.1",
            "PostgreSQL host (dev mode uses its embedded server).");
    public static final Setting<Integer> POSTGRES_PORT = intIn("postgres.port", 5432, 1, 65535,
            "PostgreSQL port.");
    public static final Setting<String> POSTGRES_DATABASE = string("postgres.database", "sluice",
            "Database name.");
    public static final Setting<String> POSTGRES_USER = string("postgres.user", "sluice", "Database user.");
    public static final Setting<String> POSTGRES_PASSWORD = new Setting<>("postgres.password", "",
            "any string", "Database password (never printed).", Function.identity(), s -> true, true);
    public static final Setting<Integer> POSTGRES_POOL_MAX_SIZE = intIn("postgres.pool-max-size", 16, 1, 1000,
            "Most connections in the R2DBC pool.");
    public static final Setting<Duration> POSTGRES_CONNECT_TIMEOUT = duration("postgres.connect-timeout", "5s",
            Duration.ofMillis(100), Duration.ofMinutes(5), "Timeout for opening one connection.");
    public static final Setting<Duration> POSTGRES_CALL_TIMEOUT = duration("postgres.call-timeout", "5s",
            Duration.ofMillis(100), Duration.ofMinutes(5), "Deadline of the PostgreSQL work one request needs (API key "
                    + "lookup, links and their stats, a redirect's lookup, the readiness check), waiting for a pooled "
                    + "connection included; when it passes the request gets 503 with Retry-After (a binary HELLO: ERROR "
                    + "RETRY_LATER). Queries, series and labels get query.statement-timeout plus this.");
    public static final Setting<Duration> POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT = duration(
            "postgres.idle-in-transaction-timeout", "60s", Duration.ofSeconds(1), Duration.ofHours(1),
            "PostgreSQL ends a Sluice session that sits this long inside a transaction without sending a statement "
                    + "(idle_in_transaction_session_timeout), releasing its locks. Sluice's transactions are short: "
                    + "this only fires when a client lost track of one (a cancelled call the driver never rolled "
                    + "back), which would otherwise hold its locks until the connection closes.");

    // ---- auth ----------------------------------------------------------------------------------
    public static final Setting<Duration> AUTH_CACHE_TTL = duration("auth.cache-ttl", "60s", Duration.ofSeconds(1),
            Duration.ofHours(1), "How long a valid API key is trusted before it is looked up again; a key in steady "
                    + "use is looked up in the background while its verdict still answers, so a revoked key is refused "
                    + "within this time plus one lookup.");
    public static final Setting<Duration> AUTH_NEGATIVE_TTL = duration("auth.negative-ttl", "5s", Duration.ZERO,
            Duration.ofHours(1), "How long an unknown or revoked API key is remembered as such.");
    public static final Setting<Duration> AUTH_STALE_IF_ERROR = duration("auth.stale-if-error", "24h", Duration.ZERO,
            Duration.ofDays(30), "While PostgreSQL cannot be reached, a key that was valid at its last successful lookup "
                    + "within this time keeps authenticating (ingest goes on into Kafka); 0 = never. Revocations apply "
                    + "once PostgreSQL answers again.");

    // ---- tenants -------------------------------------------------------------------------------
    public static final Setting<Long> TENANTS_FREE_REQUESTS_PER_MINUTE = perMinute(
            "tenants.free.requests-per-minute", 100, "API requests a free tenant may make per minute.");
    public static final Setting<Long> TENANTS_PAID_REQUESTS_PER_MINUTE = perMinute(
            "tenants.paid.requests-per-minute", 1_000, "API requests a paid tenant may make per minute.");
    public static final Setting<Long> TENANTS_ENTERPRISE_REQUESTS_PER_MINUTE = perMinute(
            "tenants.enterprise.requests-per-minute", 10_000,
            "API requests an enterprise tenant may make per minute.");
    public static final Setting<Long> TENANTS_FREE_ITEMS_PER_MINUTE = perMinute(
            "tenants.free.items-per-minute", 100_000, "Samples and events a free tenant may ingest per minute.");
    public static final Setting<Long> TENANTS_PAID_ITEMS_PER_MINUTE = perMinute(
            "tenants.paid.items-per-minute", 1_000_000, "Samples and events a paid tenant may ingest per minute.");
    public static final Setting<Long> TENANTS_ENTERPRISE_ITEMS_PER_MINUTE = perMinute(
            "tenants.enterprise.items-per-minute", 20_000_000,
            "Samples and events an enterprise tenant may ingest per minute.");

    // ---- cluster -------------------------------------------------------------------------------
    public static final Setting<String> CLUSTER_NODE_ID = new Setting<>("cluster.node-id", "",
            "letters, digits, '.', '_', ':' or '-', at most 200, or empty",
            "This gateway's name in the cluster_nodes table, through which the gateways share each tenant's quota "
                    + "(each enforces the tier divided by the live gateways); empty = a new id each time the process "
                    + "starts. Two live processes must not share one.",
            String::strip, id -> id.matches("[A-Za-z0-9._:-]{0,200}"), false);
    public static final Setting<Duration> CLUSTER_HEARTBEAT_INTERVAL = duration("cluster.heartbeat-interval", "2s",
            Duration.ofMillis(50), Duration.ofMinutes(10), "How often a gateway records itself as live in PostgreSQL "
                    + "and reads how many gateways are live; a gateway that stops gracefully gives its quota share "
                    + "back to the others at their next heartbeat.");
    public static final Setting<Duration> CLUSTER_NODE_TTL = duration("cluster.node-ttl", "10s",
            Duration.ofMillis(100), Duration.ofHours(1), "A gateway not heard from for this long (by PostgreSQL's "
                    + "clock) no longer counts as live; a crashed gateway's share returns to the others at their first "
                    + "heartbeat after this has passed. Must be longer than cluster.heartbeat-interval.");

    // ---- ingest -------------------------------------------------------------------------------
    public static final Setting<Integer> INGEST_MAX_ITEMS_PER_REQUEST = intIn("ingest.max-items-per-request", 10_000,
            1, 1_000_000, "Most samples or events in one HTTP ingest request; larger batches get 413.");
    public static final Setting<Integer> INGEST_MAX_NAME_LENGTH = intIn("ingest.max-name-length", 200, 1, 1024,
            "Longest metric name or event type, in UTF-8 bytes.");
    public static final Setting<Integer> INGEST_MAX_LABELS = intIn("ingest.max-labels", 32, 0, 32,
            "Most labels on one sample (or attributes on one event).");
    public static final Setting<Integer> INGEST_MAX_LABEL_NAME_LENGTH = intIn("ingest.max-label-name-length", 100, 1,
            1024, "Longest label (or attribute) name, in UTF-8 bytes.");
    public static final Setting<Integer> INGEST_MAX_LABEL_VALUE_LENGTH = intIn("ingest.max-label-value-length", 1024,
            1, 1024, "Longest label (or attribute) value, event id or event key, in UTF-8 bytes.");
    public static final Setting<Duration> INGEST_LATE_WINDOW = duration("ingest.late-window", "1h",
            Duration.ofMinutes(1), Duration.ofDays(7), "Samples and events older than this are rejected as too_old; at most "
            + "retention.raw (older samples are not stored, so none may be acknowledged).");
    public static final Setting<Duration> INGEST_CLOCK_SKEW = duration("ingest.clock-skew", "10m", Duration.ZERO,
            Duration.ofDays(1), "Samples and events further ahead than this are rejected as too_new.");
    public static final Setting<Integer> INGEST_MAX_ACTIVE_SERIES = intIn("ingest.max-active-series", 100_000, 1,
            100_000_000, "Most series one tenant may have active (seen in the last hour) on this node; "
                    + "samples of new series beyond it are rejected as cardinality_limit.");

    public static final Setting<Long> INGEST_MAX_IN_FLIGHT_ITEMS = new Setting<>("ingest.max-in-flight-items",
            "1000000", "1.." + (1L << 40), "Samples and events accepted but not yet acknowledged by Kafka, over all "
                    + "connections. At this mark binary reads pause (resuming below half of it) and further batches "
                    + "get 503 / RETRY_LATER.", Long::parseLong, v -> v >= 1 && v <= (1L << 40), false);
    public static final Setting<Long> INGEST_MAX_IN_FLIGHT_BYTES = longByteSize("ingest.max-in-flight-bytes", "256MiB",
            1L << 10, 1L << 40, "Record bytes accepted but not yet acknowledged by Kafka, over all connections; "
                    + "same behaviour as ingest.max-in-flight-items.");
    public static final Setting<Integer> INGEST_MAX_METERED_TENANTS = intIn("ingest.max-metered-tenants", 1000, 0,
            100_000, "Most tenants counted by name in sluice_ingest_tenant_samples_total and "
                    + "sluice_ingest_tenant_events_total (bounds their series); items of further tenants are counted "
                    + "under tenant=\"_other\".");

    public static final Setting<Integer> INGEST_SERIES_CACHE_ENTRIES = intIn("ingest.series-cache-entries", 8192, 0,
            1 << 20, "Series each HTTP ingest decoder (JSON, line protocol, remote_write 1.0) keeps per event loop by the "
                    + "bytes they were sent as, so that a series sent again as the same bytes is not decoded, checked and "
                    + "built again; about 400 bytes each. 0 turns it off.");

    // ---- writer / retention ----------------------------------------------------------------------
    public static final Setting<Integer> WRITER_MAX_BATCH_RECORDS = intIn("writer.max-batch-records", 500, 1, 100_000,
            "Most Kafka records (segments) the storage writer applies in one PostgreSQL transaction per partition. A "
                    + "partition the writer is behind on holds up to twice this many records in memory (the batch "
                    + "being applied and the next one); the rest wait in Kafka.");
    public static final Setting<Long> WRITER_MAX_BATCH_BYTES = longByteSize("writer.max-batch-bytes", "8MiB", 1L << 16,
            1L << 31, "Most record bytes, as decoded (a compressed segment counts its records uncompressed), the "
                    + "storage writer applies in one PostgreSQL transaction per partition; a longer run of records is applied as several transactions. A "
                    + "partition holds at most twice this in records taken from Kafka and not yet applied (one record "
                    + "heavier than that goes alone); the rest wait in Kafka.");
    public static final Setting<Duration> WRITER_TRANSACTION_TIMEOUT = duration("writer.transaction-timeout", "60s",
            Duration.ofSeconds(1), Duration.ofHours(1), "Deadline of one storage-writer transaction (a run of records, "
                    + "with its record-by-record retry after a permanent failure); one PostgreSQL does not finish in "
                    + "time is rolled back and tried again with backoff, behind the writer's circuit breaker.");
    public static final Setting<Duration> WRITER_SESSION_TIMEOUT = duration("writer.session-timeout", "10s",
            Duration.ofSeconds(6), Duration.ofMinutes(5), "How soon a writer process that stopped answering (crashed, "
                    + "frozen, cut off) loses its partitions to the other writers of the consumer group (Kafka's "
                    + "session.timeout.ms; the broker's group.min/max.session.timeout.ms bound it). A writer that "
                    + "stops cleanly hands them over at once.");
    public static final Setting<Duration> WRITER_MAX_BATCH_WAIT = duration("writer.max-batch-wait", "250ms",
            Duration.ofMillis(1), Duration.ofMinutes(1), "How long the writer waits to fill a batch before writing "
                    + "it. Its Kafka fetches wait at most half of this (and at most 500 ms) for writer.max-batch-bytes "
                    + "/ 8 of records.");
    public static final Setting<Integer> WRITER_KNOWN_SERIES = intIn("writer.known-series", 262_144, 0, 1 << 26,
            "Series the storage writer remembers as stored in the series table this hour (8 bytes each, lossy: a "
                    + "forgotten one is upserted again): a batch upserts only the series it does not remember, and the "
                    + "memory is emptied every hour so that each series' last_seen still moves hourly; 0 = upsert "
                    + "every series of every batch. Also how many series' heads (newest stored timestamp) it "
                    + "remembers, shared out among the metrics topic's partitions (up to 32 bytes each, lossy: a "
                    + "forgotten one is looked up in its newest 1-minute rollup); 0 = look every series up in every "
                    + "batch.");
    public static final Setting<Integer> WRITER_CHUNK_MAX_SAMPLES = intIn("writer.chunk-max-samples", 2048, 16, 1_000_000,
            "Most samples in one chunk compaction writes: the samples of a series' hour are split, in timestamp order, "
                    + "into as few chunks as this allows.");
    public static final Setting<Duration> WRITER_COMPACTION_INTERVAL = duration("writer.compaction-interval", "5m",
            Duration.ofSeconds(1), Duration.ofDays(1), "How often the writer compacts the chunks of finished hours; also "
                    + "the deadline of one hour's compaction transaction (one that passes it rolls back and is tried "
                    + "again next time).");
    public static final Setting<Duration> WRITER_COMPACTION_DELAY = duration("writer.compaction-delay", "15m",
            Duration.ZERO, Duration.ofDays(7), "An hour is compacted once it ended at least this long ago (late "
                    + "samples of it are still accepted afterwards and compacted at a later run).");
    public static final Setting<Duration> WRITER_COMPACTION_LOOKBACK = duration("writer.compaction-lookback", "6h",
            Duration.ofHours(1), Duration.ofDays(3650), "How far back before writer.compaction-delay a compaction run "
                    + "looks for hours to compact, and at least ingest.late-window plus an hour (hours that still "
                    + "take samples are never left out); the first run after the writer starts looks at everything "
                    + "within retention.raw.");
    public static final Setting<Integer> WRITER_COMPACTION_BATCH = intIn("writer.compaction-batch", 1000, 1, 1_000_000,
            "Most (series, hour) pairs one compaction query returns; a run works through them, then asks for the "
                    + "next ones.");
    public static final Setting<Integer> WRITER_COMPACTION_TRANSACTION_SAMPLES = intIn(
            "writer.compaction-transaction-samples", 262_144, 1, 100_000_000, "Most samples one compaction transaction "
                    + "rewrites: hours are merged together in short transactions up to this many samples (an hour with "
                    + "more is merged alone). Bounds the memory compaction holds.");
    public static final Setting<Duration> WRITER_ROLLUP_FOLD_DELAY = duration("writer.rollup-fold-delay", "2m",
            Duration.ZERO, Duration.ofDays(1), "An hour's 1-hour rollups are folded from its 1-minute rollups once it "
                    + "ended at least this long ago (the writer merges batches into the 1-minute rollups only until "
                    + "then; queries fold the 1-minute rows of hours not folded yet themselves). Folds are looked for "
                    + "every half of this, at least every second and at most every minute.");
    public static final Setting<Duration> RETENTION_RAW = duration("retention.raw", "7d", Duration.ofDays(1),
            Duration.ofDays(3650), "Raw sample and event partitions older than this are dropped.");
    public static final Setting<Duration> RETENTION_ROLLUP_1M = duration("retention.rollup-1m", "30d",
            Duration.ofDays(1), Duration.ofDays(3650), "1-minute rollup partitions older than this are dropped; at "
                    + "least retention.raw (the writer finds what is stored of a series through its 1-minute rollups).");
    public static final Setting<Duration> RETENTION_ROLLUP_1H = duration("retention.rollup-1h", "365d",
            Duration.ofDays(1), Duration.ofDays(36500), "1-hour rollup partitions older than this are dropped.");
    public static final Setting<Integer> RETENTION_PARTITIONS_AHEAD = intIn("retention.partitions-ahead", 3, 1, 60,
            "Daily partitions created ahead of today by the maintenance task.");

    // ---- query --------------------------------------------------------------------------------
    public static final Setting<Integer> QUERY_MAX_POINTS_PER_SERIES = intIn("query.max-points-per-series", 11_000, 1,
            1_000_000, "Most points one series of a query result may have ((to - from) / step); more gets 422.");
    public static final Setting<Integer> QUERY_MAX_SERIES = intIn("query.max-series", 500, 1, 100_000,
            "Most series a query may match; more gets 422.");
    public static final Setting<Integer> QUERY_MAX_SAMPLES = intIn("query.max-samples",
            (int) QueryConfig.DEFAULT_MAX_SAMPLES, 1, 2_000_000_000, "Most samples one PromQL query may load into "
            + "memory: the raw samples and rollup buckets its selectors read plus the points of its answer (about 16 "
            + "bytes of heap each); more gets 422. Raise it with the heap.");
    public static final Setting<Duration> QUERY_MAX_RANGE = duration("query.max-range", "400d", Duration.ofMinutes(1),
            Duration.ofDays(3650), "Longest time range one query may cover; longer gets 422.");
    public static final Setting<Duration> QUERY_STATEMENT_TIMEOUT = duration("query.statement-timeout", "10s",
            Duration.ofMillis(100), Duration.ofMinutes(10), "PostgreSQL statement timeout for one query; 503 when hit.");
    public static final Setting<Duration> QUERY_ROLLUP_MIN_STEP = duration("query.rollup-min-step", "1h",
            Duration.ofMinutes(1), Duration.ofDays(3650), "PromQL range queries at this step or longer read rate, "
            + "increase, delta and sum|count|avg|min|max_over_time over a range selector from the rollups where they "
            + "give what raw samples would (range, offset, step and start in whole minutes, no sample on a minute's "
            + "start) in fewer rows; ranges reaching past retention.raw read them at any step. Instant queries "
            + "read the whole buckets inside their windows and raw samples at the edges, past retention.raw always, "
            + "else where that is exact and fewer rows.");
    public static final Setting<Long> QUERY_CACHE_MAX_BYTES = longByteSize("query.cache-max-bytes", "64MiB", 1L << 20,
            1L << 34, "Approximate bytes of query answers a node keeps, all its caches together (entries weighed by result "
                    + "size): 3/8 for Sluice's range answers and 3/8 for PromQL answers (each fresh answers and their "
                    + "stale copies), on the heap; 1/4 for PromQL answers kept rendered as Prometheus JSON with their "
                    + "gzip copies, in direct memory.");

    // ---- links --------------------------------------------------------------------------------
    public static final Setting<String> LINKS_BASE_URL = new Setting<>("links.base-url", "",
            "an absolute http(s) URL without a path, or empty", "How short links are written (base + / + code); links "
            + "may not point at this host. Empty = http://127.0.0.1:<the port server.port bound>.",
            String::strip, u -> u.isEmpty() || u.matches("https?://[A-Za-z0-9.\\-\\[\\]:]+(:\\d{1,5})?"), false);
    public static final Setting<Integer> LINKS_CACHE_MAX = intIn("links.cache-max-entries", 1_000_000, 1, 100_000_000,
            "Most links (and known-missing codes) the redirect cache holds.");
    public static final Setting<Duration> LINKS_CACHE_TTL = duration("links.cache-ttl", "10m", Duration.ofSeconds(1),
            Duration.ofDays(1), "Longest a link stays cached (shorter when it expires sooner).");
    public static final Setting<Duration> LINKS_NEGATIVE_TTL = duration("links.negative-ttl", "10s", Duration.ZERO,
            Duration.ofHours(1), "How long an unknown code is remembered as unknown.");
    public static final Setting<Duration> LINKS_PERMANENT_MAX_AGE = duration("links.permanent-max-age", "5m",
            Duration.ZERO, Duration.ofDays(365), "Cache-Control max-age of 301 and 308 answers.");
    public static final Setting<Long> LINKS_REDIRECTS_PER_MINUTE = perMinute("links.redirects-per-minute-per-client",
            600, "Redirects one client address may get per minute; more get 429.");
    public static final Setting<Integer> LINKS_CLICK_QUEUE = intIn("links.click-queue", 100_000, 1, 10_000_000,
            "Clicks recorded and not yet added up (the queue is drained every 100 ms); when it is full, new clicks "
            + "are dropped and counted in sluice_clicks_total{outcome=\"dropped_queue_full\"}.");
    public static final Setting<Duration> LINKS_CLICK_FLUSH_INTERVAL = duration("links.click-flush-interval", "10s",
            Duration.ofMillis(10), Duration.ofMinutes(1), "How often a gateway sends the clicks it counted to Kafka: "
            + "one event per link, minute, referrer host, bot flag and anonymised client, with a count. Link stats lag "
            + "by up to this much. A send costs the writer and PostgreSQL work per link and minute it holds, however "
            + "many clicks each sums, so shorter intervals repeat that work more often.");

    // ---- spool --------------------------------------------------------------------------------
    public static final Setting<String> SPOOL_DIR = string("spool.dir", ".sluice/spool",
            "Where accepted data is fsync'd while Kafka is unavailable (dev mode uses dev.data-dir/spool).");
    public static final Setting<Long> SPOOL_MAX_BYTES = longByteSize("spool.max-bytes", "1GiB", 16L << 20, 1L << 40,
            "Most bytes the spool holds; about ten minutes at 150k samples/s. When full, ingest answers 503 / RETRY_LATER.");
    public static final Setting<Integer> SPOOL_SEGMENT_BYTES = byteSize("spool.segment-bytes", "64MiB", 1 << 20,
            1 << 30, "Size at which the spool starts a new segment file; delivered segments are deleted whole.");
    public static final Setting<Duration> SPOOL_FSYNC_INTERVAL = duration("spool.fsync-interval", "5ms",
            Duration.ZERO, Duration.ofSeconds(1),
            "Group commit: appends arriving within this window share one fsync (0 = fsync as soon as possible).");

    // ---- alerting -----------------------------------------------------------------------------
    public static final Setting<Duration> ALERTING_DEFAULT_INTERVAL = duration("alerting.default-interval", "30s",
            Duration.ofSeconds(1), Duration.ofHours(24), "Evaluation interval of an alert rule that names none.");
    public static final Setting<Duration> ALERTING_FREE_MIN_INTERVAL = duration("alerting.free.min-interval", "60s",
            Duration.ofSeconds(1), Duration.ofHours(24), "Shortest evaluation interval a free-tier tenant's rule may "
                    + "ask for; a shorter one gets 400.");
    public static final Setting<Duration> ALERTING_PAID_MIN_INTERVAL = duration("alerting.paid.min-interval", "15s",
            Duration.ofSeconds(1), Duration.ofHours(24), "Shortest evaluation interval a paid-tier tenant's rule may "
                    + "ask for; a shorter one gets 400.");
    public static final Setting<Duration> ALERTING_ENTERPRISE_MIN_INTERVAL = duration("alerting.enterprise.min-interval",
            "5s", Duration.ofSeconds(1), Duration.ofHours(24), "Shortest evaluation interval an enterprise-tier "
                    + "tenant's rule may ask for; a shorter one gets 400.");
    public static final Setting<Integer> ALERTING_MAX_RULES_PER_TENANT = intIn("alerting.max-rules-per-tenant", 10_000,
            1, 1_000_000, "Most alert rules one tenant may have; more gets 422.");
    public static final Setting<Duration> ALERTING_EVALUATION_TIMEOUT = duration("alerting.evaluation-timeout", "10s",
            Duration.ofMillis(100), Duration.ofMinutes(10), "Deadline of one rule's evaluation (its query and the "
                    + "transaction that stores its alerts); a rule that passes it is marked health=error and counted, "
                    + "and is evaluated again at its next interval, not sooner.");
    public static final Setting<Duration> ALERTING_POLL_INTERVAL = duration("alerting.poll-interval", "1s",
            Duration.ofMillis(10), Duration.ofMinutes(1), "How often an alerter claims the rules that are due and the "
                    + "notifications that are due; also how late after its due time a rule may be evaluated.");
    public static final Setting<Integer> ALERTING_CLAIM_BATCH = intIn("alerting.claim-batch", 200, 1, 100_000,
            "Most rules one alerter claims (and evaluates concurrently) per round.");
    public static final Setting<Duration> ALERTING_RESOLVED_RETENTION = duration("alerting.resolved-retention", "15m",
            Duration.ofSeconds(1), Duration.ofDays(7), "How long a resolved alert is kept, so that its resolution is "
                    + "notified and listed, before it is forgotten.");
    public static final Setting<Duration> ALERTING_GROUP_WAIT = duration("alerting.group-wait", "30s", Duration.ZERO,
            Duration.ofHours(24), "Default wait before a new notification group's first notification (a route may "
                    + "set its own), so that alerts firing together are sent together.");
    public static final Setting<Duration> ALERTING_GROUP_INTERVAL = duration("alerting.group-interval", "5m",
            Duration.ofSeconds(1), Duration.ofHours(24), "Default least time between two notifications of a group "
                    + "whose alerts changed (a route may set its own).");
    public static final Setting<Duration> ALERTING_REPEAT_INTERVAL = duration("alerting.repeat-interval", "4h",
            Duration.ofSeconds(1), Duration.ofDays(30), "Default time after which a group still firing unchanged is "
                    + "notified again (a route may set its own).");
    public static final Setting<Duration> ALERTING_WEBHOOK_TIMEOUT = duration("alerting.webhook-timeout", "10s",
            Duration.ofMillis(100), Duration.ofMinutes(5), "Deadline of one delivery attempt to a receiver (connect, "
                    + "send, answer); one that passes it is retried like a failure.");
    public static final Setting<Duration> ALERTING_RETRY_INITIAL_BACKOFF = duration("alerting.retry-initial-backoff",
            "1s", Duration.ofMillis(10), Duration.ofHours(1), "Largest wait before the first retry of a failed "
                    + "delivery; each later retry doubles it up to alerting.retry-max-backoff, and the wait is drawn "
                    + "uniformly below it (full jitter).");
    public static final Setting<Duration> ALERTING_RETRY_MAX_BACKOFF = duration("alerting.retry-max-backoff", "5m",
            Duration.ofMillis(10), Duration.ofDays(1), "Largest wait between two delivery attempts.");
    public static final Setting<Duration> ALERTING_DELIVERY_MAX_AGE = duration("alerting.delivery-max-age", "24h",
            Duration.ofSeconds(1), Duration.ofDays(30), "A notification not delivered this long after it was queued "
                    + "is dropped and counted (sluice_alert_notifications_total{result=\"dropped\"}).");
    public static final Setting<Integer> ALERTING_OUTBOX_MAX_ROWS = intIn("alerting.outbox-max-rows", 10_000, 1,
            10_000_000, "Most notifications waiting for delivery per tenant; past it the oldest are dropped and counted.");
    public static final Setting<Integer> ALERTING_MAX_RULE_NAME_LENGTH = intIn("alerting.max-rule-name-length", 200,
            1, 4096, "Longest name of an alert rule or rule group, in characters; longer gets 400.");
    public static final Setting<Integer> ALERTING_MAX_EXPR_BYTES = byteSize("alerting.max-expr-bytes", "16KiB", 256,
            1 << 20, "Longest expression of an alert rule, in UTF-8 bytes; longer gets 400.");
    public static final Setting<Integer> ALERTING_MAX_LABELS_PER_RULE = intIn("alerting.max-labels-per-rule", 64, 0,
            1024, "Most labels one alert rule may add to its alerts; more gets 400.");
    public static final Setting<Integer> ALERTING_MAX_ANNOTATIONS_PER_RULE = intIn("alerting.max-annotations-per-rule",
            64, 0, 1024, "Most annotations one alert rule may have; more gets 400.");
    public static final Setting<Integer> ALERTING_MAX_LABEL_VALUE_LENGTH = intIn("alerting.max-label-value-length",
            1024, 1, 65_536, "Longest value of an alert rule's label, in characters; longer gets 400.");
    public static final Setting<Integer> ALERTING_MAX_ANNOTATION_BYTES = byteSize("alerting.max-annotation-bytes",
            "16KiB", 256, 1 << 20, "Longest annotation template of an alert rule, in UTF-8 bytes; longer gets 400.");
    public static final Setting<Integer> ALERTING_MAX_LISTED_ALERTS = intIn("alerting.max-listed-alerts", 10_000, 1,
            1_000_000, "Most pending and firing alerts one tenant's rule listing (GET /prometheus/api/v1/rules) "
                    + "shows with the rules; the rest are left out.");
    public static final Setting<Integer> ALERTING_MAX_ROUTES_PER_TENANT = intIn("alerting.max-routes-per-tenant", 1000,
            1, 100_000, "Most notification routes one tenant's route list may hold; more gets 400.");
    public static final Setting<Integer> ALERTING_MAX_SILENCE_TEXT_LENGTH = intIn("alerting.max-silence-text-length",
            4096, 1, 65_536, "Longest created_by, and longest comment, of a silence, in characters; longer gets 400.");
    public static final Setting<Integer> ALERTING_MAX_RECEIVERS_PER_TENANT = intIn("alerting.max-receivers-per-tenant",
            100, 1, 100_000, "Most notification receivers one tenant may have; more gets 422.");
    public static final Setting<Integer> ALERTING_MAX_RECEIVER_HEADERS = intIn("alerting.max-receiver-headers", 32, 0,
            1024, "Most HTTP headers one notification receiver may have; more gets 400.");
    public static final Setting<Integer> ALERTING_MAX_RECEIVER_HEADER_VALUE_LENGTH = intIn(
            "alerting.max-receiver-header-value-length", 4096, 1, 65_536,
            "Longest value of a notification receiver's header, in characters; longer gets 400.");
    public static final Setting<Integer> ALERTING_MAX_RECEIVER_URL_LENGTH = intIn("alerting.max-receiver-url-length",
            2048, 16, 65_536, "Longest URL of a notification receiver, in characters; longer gets 400.");
    public static final Setting<String> ALERTING_EXTERNAL_URL = new Setting<>("alerting.external-url", "",
            "an absolute http(s) URL with a host, no query, fragment or user info, or empty", "Where clients reach "
            + "Sluice's API, for the URLs in notifications: externalURL (external_url), and each alert's generatorURL "
            + "(generator_url), <external-url>/api/v1/alerts/rules/<rule id>. Empty = unknown: \"\" in the "
            + "Alertmanager format, null in Sluice's.",
            Settings::externalUrl, Settings::validExternalUrl, false);

    // ---- dev -----------------------------------------------------------------------------------
    public static final Setting<String> DEV_DATA_DIR = string("dev.data-dir", ".sluice/dev",
            "Where `sluice dev` keeps the embedded Kafka and PostgreSQL data and endpoints.env.");

    /** All settings, in the order of the example file. */
    public static final List<Setting<?>> ALL = List.of(
            SERVER_HOST, SERVER_PORT, SERVER_IO_THREADS, SERVER_MAX_CONNECTIONS, SERVER_IDLE_TIMEOUT,
            SERVER_MAX_HEADER_BYTES, SERVER_MAX_BODY_BYTES, SERVER_EARLY_RETRIES, SERVER_SHUTDOWN_GRACE, SERVER_HEALTH_TIMEOUT,
            SERVER_BINARY_PORT, SERVER_TLS_CERT_FILE, SERVER_TLS_KEY_FILE, SERVER_REQUEST_LOG, ADMIN_PORT, ROLES,
            BINARY_MAX_FRAME_BYTES, BINARY_MAX_IN_FLIGHT_BATCHES, BINARY_FLUSH_DELAY,
            KAFKA_BOOTSTRAP_SERVERS, KAFKA_CLIENT_ID, KAFKA_REQUEST_TIMEOUT, KAFKA_ADMIN_TIMEOUT, KAFKA_SEND_TIMEOUT, KAFKA_TOPIC_PREFIX, KAFKA_PARTITIONS,
            KAFKA_REPLICATION_FACTOR,
            POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DATABASE, POSTGRES_USER, POSTGRES_PASSWORD,
            POSTGRES_POOL_MAX_SIZE, POSTGRES_CONNECT_TIMEOUT, POSTGRES_CALL_TIMEOUT, POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT,
            AUTH_CACHE_TTL, AUTH_NEGATIVE_TTL, AUTH_STALE_IF_ERROR,
            INGEST_MAX_ITEMS_PER_REQUEST, INGEST_MAX_NAME_LENGTH, INGEST_MAX_LABELS, INGEST_MAX_LABEL_NAME_LENGTH,
            INGEST_MAX_LABEL_VALUE_LENGTH, INGEST_LATE_WINDOW, INGEST_CLOCK_SKEW, INGEST_MAX_ACTIVE_SERIES,
            INGEST_MAX_IN_FLIGHT_ITEMS, INGEST_MAX_IN_FLIGHT_BYTES, INGEST_MAX_METERED_TENANTS, INGEST_SERIES_CACHE_ENTRIES,
            WRITER_MAX_BATCH_RECORDS, WRITER_MAX_BATCH_BYTES, WRITER_TRANSACTION_TIMEOUT, WRITER_SESSION_TIMEOUT, WRITER_MAX_BATCH_WAIT, WRITER_KNOWN_SERIES, WRITER_CHUNK_MAX_SAMPLES,
            WRITER_COMPACTION_INTERVAL, WRITER_COMPACTION_DELAY, WRITER_COMPACTION_LOOKBACK, WRITER_COMPACTION_BATCH,
            WRITER_ROLLUP_FOLD_DELAY,
            WRITER_COMPACTION_TRANSACTION_SAMPLES,
            RETENTION_RAW, RETENTION_ROLLUP_1M, RETENTION_ROLLUP_1H,
            RETENTION_PARTITIONS_AHEAD,
            QUERY_MAX_POINTS_PER_SERIES, QUERY_MAX_SERIES, QUERY_MAX_RANGE, QUERY_STATEMENT_TIMEOUT,
            QUERY_ROLLUP_MIN_STEP, QUERY_MAX_SAMPLES, QUERY_CACHE_MAX_BYTES,
            LINKS_BASE_URL, LINKS_CACHE_MAX, LINKS_CACHE_TTL, LINKS_NEGATIVE_TTL, LINKS_PERMANENT_MAX_AGE,
            LINKS_REDIRECTS_PER_MINUTE, LINKS_CLICK_QUEUE, LINKS_CLICK_FLUSH_INTERVAL,
            SPOOL_DIR, SPOOL_MAX_BYTES, SPOOL_SEGMENT_BYTES, SPOOL_FSYNC_INTERVAL,
            TENANTS_FREE_REQUESTS_PER_MINUTE, TENANTS_PAID_REQUESTS_PER_MINUTE,
            TENANTS_ENTERPRISE_REQUESTS_PER_MINUTE, TENANTS_FREE_ITEMS_PER_MINUTE, TENANTS_PAID_ITEMS_PER_MINUTE,
            TENANTS_ENTERPRISE_ITEMS_PER_MINUTE,
            CLUSTER_NODE_ID, CLUSTER_HEARTBEAT_INTERVAL, CLUSTER_NODE_TTL,
            ALERTING_DEFAULT_INTERVAL, ALERTING_FREE_MIN_INTERVAL, ALERTING_PAID_MIN_INTERVAL,
            ALERTING_ENTERPRISE_MIN_INTERVAL, ALERTING_MAX_RULES_PER_TENANT, ALERTING_EVALUATION_TIMEOUT,
            ALERTING_POLL_INTERVAL, ALERTING_CLAIM_BATCH, ALERTING_RESOLVED_RETENTION, ALERTING_GROUP_WAIT,
            ALERTING_GROUP_INTERVAL, ALERTING_REPEAT_INTERVAL, ALERTING_WEBHOOK_TIMEOUT,
            ALERTING_RETRY_INITIAL_BACKOFF, ALERTING_RETRY_MAX_BACKOFF, ALERTING_DELIVERY_MAX_AGE,
            ALERTING_OUTBOX_MAX_ROWS, ALERTING_MAX_RULE_NAME_LENGTH, ALERTING_MAX_EXPR_BYTES,
            ALERTING_MAX_LABELS_PER_RULE, ALERTING_MAX_ANNOTATIONS_PER_RULE, ALERTING_MAX_LABEL_VALUE_LENGTH,
            ALERTING_MAX_ANNOTATION_BYTES, ALERTING_MAX_LISTED_ALERTS, ALERTING_MAX_ROUTES_PER_TENANT,
            ALERTING_MAX_SILENCE_TEXT_LENGTH, ALERTING_MAX_RECEIVERS_PER_TENANT, ALERTING_MAX_RECEIVER_HEADERS,
            ALERTING_MAX_RECEIVER_HEADER_VALUE_LENGTH, ALERTING_MAX_RECEIVER_URL_LENGTH, ALERTING_EXTERNAL_URL,
            DEV_DATA_DIR);

    private Settings() {
    }

    /** Looks a setting up by name. */
    public static java.util.Optional<Setting<?>> byName(String name) {
        return ALL.stream().filter(s -> s.name().equals(name)).findFirst();
    }

    /** The example configuration file: every setting, commented, with its default. */
    public static String renderExample() {
        StringBuilder out = new StringBuilder();
        out.append("# Sluice configuration: every setting with its default.\n")
           .append("# Precedence: defaults < this file (--config FILE) < environment (SLUICE_SERVER_PORT=…)\n")
           .append("#             < command line (--server.port=9090).\n")
           .append("# Durations: 250ms, 30s, 5m, 1h, 7d. Sizes: 65536, 64KiB, 4MiB, 1GiB.\n");
        String section = "";
        for (Setting<?> s : ALL) {
            String head = s.name().substring(0, s.name().indexOf('.') < 0 ? s.name().length() : s.name().indexOf('.'));
            if (!head.equals(section)) {
                out.append("\n# ---- ").append(head).append('\n');
                section = head;
            }
            out.append("# ").append(s.description()).append(" Expected: ").append(s.expected())
               .append(". Env: ").append(s.envName()).append('\n')
               .append(s.name()).append('=').append(s.defaultValue()).append('\n');
        }
        return out.toString();
    }

    /** {@code alerting.external-url} as written, without the trailing slashes. */
    private static String externalUrl(String raw) {
        String url = raw.strip();
        while (url.endsWith("/")) {
            url = url.substring(0, url.length() - 1);
        }
        return url;
    }

    /** Empty, or an absolute http(s) URL with a host and no user info, query or fragment. */
    private static boolean validExternalUrl(String url) {
        if (url.isEmpty()) {
            return true;
        }
        java.net.URI uri;
        try {
            uri = new java.net.URI(url);
        } catch (java.net.URISyntaxException e) {
            return false;
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
        return (scheme.equals("http") || scheme.equals("https")) && uri.getHost() != null
                && uri.getRawUserInfo() == null && uri.getRawQuery() == null && uri.getRawFragment() == null
                && uri.getPort() <= 65535;
    }

    private static Setting<String> string(String name, String def, String description) {
        return new Setting<>(name, def, "a non-empty string", description, Function.identity(),
                s -> !s.isEmpty(), false);
    }

    private static Setting<String> optionalString(String name, String description) {
        return new Setting<>(name, "", "a file path, or empty", description, Function.identity(), s -> true, false);
    }

    private static Setting<Boolean> bool(String name, boolean def, String description) {
        return new Setting<>(name, Boolean.toString(def), "true or false", description, Values::bool, v -> true, false);
    }

    private static Setting<Integer> intIn(String name, int def, int min, int max, String description) {
        return new Setting<>(name, Integer.toString(def), min + ".." + max, description, Integer::parseInt,
                v -> v >= min && v <= max, false);
    }

    /**
     * The most a per-minute rate may be: Bucket4j refills at most one token per nanosecond, so higher rates
     * would be accepted here and then fail when the first bucket is built.
     */
    static final long MAX_PER_MINUTE = 60_000_000_000L;

    private static Setting<Long> perMinute(String name, long def, String description) {
        return new Setting<>(name, Long.toString(def), "1.." + MAX_PER_MINUTE, description, Long::parseLong,
                v -> v >= 1 && v <= MAX_PER_MINUTE, false);
    }

    private static Setting<Integer> byteSize(String name, String def, int min, int max, String description) {
        Predicate<Integer> inRange = v -> v >= min && v <= max;
        return new Setting<>(name, def, "a size from " + human(min) + " to " + human(max), description,
                raw -> Math.toIntExact(Values.bytes(raw)), inRange, false);
    }

    private static Setting<Long> longByteSize(String name, String def, long min, long max, String description) {
        return new Setting<>(name, def, "a size from " + human(min) + " to " + human(max), description,
                Values::bytes, v -> v >= min && v <= max, false);
    }

    private static Setting<Duration> duration(String name, String def, Duration min, Duration max,
                                              String description) {
        return new Setting<>(name, def, "a duration from " + human(min) + " to " + human(max)
                + " like 250ms, 30s, 5m, 1h", description, Values::duration,
                d -> d.compareTo(min) >= 0 && d.compareTo(max) <= 0, false);
    }

    private static String human(long bytes) {
        if (bytes % (1L << 40) == 0) {
            return (bytes >> 40) + "TiB";
        }
        if (bytes % (1L << 30) == 0) {
            return (bytes >> 30) + "GiB";
        }
        if (bytes % (1 << 20) == 0) {
            return (bytes >> 20) + "MiB";
        }
        if (bytes % (1 << 10) == 0) {
            return (bytes >> 10) + "KiB";
        }
        return bytes + "B";
    }

    private static String human(Duration d) {
        if (d.isZero()) {
            return "0s";
        }
        if (d.toMillis() % 86_400_000 == 0) {
            return d.toDays() + "d";
        }
        if (d.toMillis() % 60_000 == 0) {
            return d.toMinutes() + "m";
        }
        if (d.toMillis() % 1000 == 0) {
            return d.toSeconds() + "s";
        }
        return d.toMillis() + "ms";
    }
}
