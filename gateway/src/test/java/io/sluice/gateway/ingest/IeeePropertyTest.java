package io.sluice.gateway.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.config.ConfigLoader;
import io.sluice.config.PostgresConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.gateway.http.JsonDoubles;
import io.sluice.protocol.client.RecordBatch;
import io.sluice.protocol.client.SluiceClient;
import io.sluice.protocol.record.Series;
import io.sluice.storage.SeriesIds;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.chunks.SampleChunks;
import io.sluice.storage.chunks.HourFold;
import io.sluice.storage.chunks.Summary;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.sluice.storage.writer.WriterRole;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Every float64 is storable, end to end through both transports, the real Kafka, the real writer and PostgreSQL.
 *
 * <p>Random values of every kind (NaN, NaN with payloads, ±Inf, ±0, subnormals, MAX and -MAX, values whose sums
 * overflow, any bit pattern) are sent as one request per series, over HTTP JSON and over the binary protocol, each
 * transport to series of its own. Once the writer applied them, the test reads {@code sample_chunks} with SQL,
 * decodes them with {@link SampleChunks} and asserts the values bit for bit: the binary protocol carries the raw 64
 * bits, so its values (NaN payloads included) come back exactly as sent; JSON has no NaN, and the string
 * {@code "NaN"} is read as Java's canonical NaN ({@code 0x7ff8000000000000}), so over HTTP any NaN is expected back
 * as that one NaN and every other value bit-exact. The {@code rollups_1m} and {@code rollups_1h} rows must equal the
 * summaries computed here with the documented rule ({@link Summary}: one request lands in one writer batch, where
 * a minute's sum is IEEE addition in timestamp order, an hour's the addition of its minutes' sums in minute order, and
 * min / max skip NaN unless every value is NaN); sums and extremes
 * are compared with {@link Double#doubleToLongBits} (every NaN equal, -0 and +0 told apart).
 */
@RealInfrastructure
class IeeePropertyTest {

    private static final long MINUTE_MS = 60_000;
    private static final long HOUR_MS = 3_600_000;
    private static final long CANONICAL_NAN = 0x7ff8000000000000L;
    private static final double MAX = Double.MAX_VALUE;
    private static final double[] SPECIALS = {
            Double.NaN, Double.longBitsToDouble(0x7ff0000000000002L), Double.longBitsToDouble(0xfff8000000000001L),
            Double.longBitsToDouble(0x7fffffffffffffffL), Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0,
            Double.MIN_VALUE, -Double.MIN_VALUE, Math.nextDown(Double.MIN_NORMAL), Double.MIN_NORMAL, MAX, -MAX,
            Math.nextDown(MAX), 0x1p1023, -0x1p1023, 0x1p970};
    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static GatewayRole sluice;
    private static WriterRole writer;
    private static final SimpleMeterRegistry writerMetrics = new SimpleMeterRegistry();
    private static SluiceClient binary;
    private static String tenant;
    private static String key;
    private static String run;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0")));
        run = UUID.randomUUID().toString().substring(0, 8);
        tenant = "ieee-" + run;
        key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.ENTERPRISE);
        sluice = GatewayRole.start(config);
        writer = WriterRole.start(sluice.config(), writerMetrics);
        // the server's verdict is the subject: the client must not refuse anything itself
        binary = SluiceClient.builder().address("127.0.0.1", sluice.port()).apiKey(key).checkAnnouncedLimits(false)
                .closeTimeout(Duration.ofSeconds(10)).build();
    }

    @AfterAll
    static void stop() {
        if (binary != null) {
            binary.close();
        }
        if (writer != null) {
            writer.close();
        }
        if (sluice != null) {
            sluice.close();
        }
    }

    /** One series' samples as sent (in the request's order) and the raw bits expected back per timestamp. */
    record Sent(String name, boolean overHttp, long[] timestamps, double[] values, TreeMap<Long, Long> expected) {
    }

    @Test
    void randomValuesOfEveryKindAreStoredBitExactWithRollupsByTheRule() throws Exception {
        long now = System.currentTimeMillis();
        List<Sent> sent = new ArrayList<>();
        for (long seed = 1; seed <= 12; seed++) {
            Random random = new Random(seed);
            boolean overHttp = seed % 2 == 1;
            int n = 1 + random.nextInt(seed <= 2 ? 5 : 150);
            // distinct timestamps within the last 50 minutes (inside ingest.late-window), several per minute
            long span = (5 + random.nextInt(46)) * MINUTE_MS;
            long start = now - MINUTE_MS - span;
            List<Long> ts = new ArrayList<>();
            java.util.Set<Long> used = new java.util.HashSet<>();
            while (ts.size() < n) {
                long t = start + (long) (random.nextDouble() * span);
                if (used.add(t)) {
                    ts.add(t);
                }
            }
            Collections.shuffle(ts, random); // any order in the request: the writer orders them
            long[] timestamps = ts.stream().mapToLong(Long::longValue).toArray();
            double[] values = new double[n];
            TreeMap<Long, Long> expected = new TreeMap<>();
            for (int i = 0; i < n; i++) {
                values[i] = randomValue(random, (int) (seed % 3));
                long bits = Double.doubleToRawLongBits(values[i]);
                expected.put(timestamps[i], overHttp && Double.isNaN(values[i]) ? CANONICAL_NAN : bits);
            }
            Sent s = new Sent("ieee.prop_" + seed, overHttp, timestamps, values, expected);
            send(s);
            sent.add(s);
        }
        for (Sent s : sent) {
            long id = seriesId(s.name());
            await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> assertThat(storedCount(id)).as(s.name())
                    .isEqualTo(s.expected().size()));
            TreeMap<Long, Long> stored = storedSamples(id);
            assertThat(hex(stored)).as(s.name() + (s.overHttp() ? " over HTTP" : " over binary"))
                    .containsExactlyEntriesOf(hex(s.expected()));

            // the rule, computed here: a minute's values in timestamp order (as stored: for HTTP, NaN is the canonical
            // NaN), an hour's minutes in minute order
            Map<Long, Summary> minutes = new LinkedHashMap<>();
            Map<Long, Summary> hours = new LinkedHashMap<>();
            stored.forEach((t, bits) -> minutes.computeIfAbsent(Math.floorDiv(t, MINUTE_MS) * MINUTE_MS,
                    k -> new Summary()).add(Double.longBitsToDouble(bits)));
            minutes.forEach((m, summary) -> hours.computeIfAbsent(Math.floorDiv(m, HOUR_MS) * HOUR_MS,
                    k -> new Summary()).add(summary));
            assertThat(rollups("rollups_1m", id)).as(s.name() + ": rollups_1m").containsExactlyEntriesOf(describe(minutes));
            assertThat(rollups("rollups_1h", id)).as(s.name() + ": rollups_1h").containsExactlyEntriesOf(describe(hours));
        }
    }

    /**
     * The case the overflow made a poison record of: two samples of one series, each the largest double, in one
     * minute, sent in two requests that the writer applies in two batches. The rollup's sum is +Infinity (merged in
     * SQL), nothing is set aside, and the writer's lag drains.
     */
    @Test
    void twoLargestDoublesInOneMinuteAcrossTwoBatchesSumToInfinity(TestInfrastructure infra) throws Exception {
        String name = "ieee.max_twice";
        long id = seriesId(name);
        long deadBefore = scalar("SELECT count(*) FROM dead_letters");
        long minute = Math.floorDiv(System.currentTimeMillis() - 5 * MINUTE_MS, MINUTE_MS) * MINUTE_MS;

        send(new Sent(name, true, new long[] {minute + 1_000}, new double[] {MAX}, null));
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> assertThat(storedCount(id)).isEqualTo(1));
        assertThat(rollups("rollups_1m", id)).containsExactly(Map.entry(minute, row(MAX, MAX, MAX, 1)));

        send(new Sent(name, false, new long[] {minute + 2_000}, new double[] {MAX}, null));
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> assertThat(storedCount(id)).isEqualTo(2));

        String infinity = row(MAX, MAX, Double.POSITIVE_INFINITY, 2);
        assertThat(rollups("rollups_1m", id)).containsExactly(Map.entry(minute, infinity));
        assertThat(rollups("rollups_1h", id)).containsExactly(Map.entry(Math.floorDiv(minute, HOUR_MS) * HOUR_MS, infinity));
        assertThat(hex(storedSamples(id))).containsExactlyEntriesOf(hex(new TreeMap<>(Map.of(
                minute + 1_000, Double.doubleToRawLongBits(MAX), minute + 2_000, Double.doubleToRawLongBits(MAX)))));
        assertThat(scalar("SELECT count(*) FROM dead_letters")).as("nothing set aside").isEqualTo(deadBefore);
        assertThat(writerMetrics.find("sluice_writer_dead_letters").counters())
                .allSatisfy(c -> assertThat(c.count()).isZero());

        // the writer's lag drains: every metrics partition's stored offset reaches the end of the partition
        String topic = sluice.config().kafka().topic("metrics");
        Map<TopicPartition, Long> ends = endOffsets(infra.bootstrapServers(), topic);
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> {
            Map<TopicPartition, Long> applied = new HashMap<>();
            try (Connection c = connect(); PreparedStatement s = c.prepareStatement(
                    "SELECT partition, next_offset FROM writer_offsets WHERE topic = ?")) {
                s.setString(1, topic);
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        applied.put(new TopicPartition(topic, r.getInt(1)), r.getLong(2));
                    }
                }
            }
            ends.forEach((tp, end) -> assertThat(applied.getOrDefault(tp, 0L)).as(tp.toString()).isEqualTo(end));
            assertThat(writerMetrics.find("sluice_writer_lag").tag("topic", topic).gauges())
                    .isNotEmpty().allSatisfy(g -> assertThat(g.value()).isZero());
        });
    }

    /**
     * An hour's sum is its minutes' sums added in minute order, whether the writer merged the batch into a folded hour
     * or the hour was folded from its minutes (migration V14), so it does not depend on how samples fell into batches:
     * MAX, then MAX and -MAX a minute later, is MAX for the hour (MAX + (MAX + -MAX)), not the +Infinity that adding
     * the three values in timestamp order gives (MAX + MAX overflows before -MAX comes).
     */
    @Test
    void theHoursSumIsItsMinutesSumsInMinuteOrder() throws Exception {
        String name = "ieee.hour_order";
        long id = seriesId(name);
        long minute = Math.floorDiv(System.currentTimeMillis() - 5 * MINUTE_MS, MINUTE_MS) * MINUTE_MS;
        if (Math.floorDiv(minute - MINUTE_MS, HOUR_MS) != Math.floorDiv(minute, HOUR_MS)) {
            minute -= MINUTE_MS; // keep both minutes in one hour
        }
        long first = minute - MINUTE_MS;
        send(new Sent(name, false, new long[] {first + 10, minute + 10, minute + 20}, new double[] {MAX, MAX, -MAX}, null));
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> assertThat(storedCount(id)).isEqualTo(3));
        assertThat(rollups("rollups_1m", id)).containsExactly(Map.entry(first, row(MAX, MAX, MAX, 1)),
                Map.entry(minute, row(-MAX, MAX, 0.0, 2)));
        assertThat(rollups("rollups_1h", id)).containsExactly(
                Map.entry(Math.floorDiv(minute, HOUR_MS) * HOUR_MS, row(-MAX, MAX, MAX, 3)));
    }

    // --- sending ------------------------------------------------------------------------------------------------

    private static void send(Sent s) throws Exception {
        if (s.overHttp()) {
            StringWriter body = new StringWriter();
            try (JsonGenerator json = new JsonFactory().createGenerator(body)) {
                json.writeStartObject();
                json.writeArrayFieldStart("samples");
                for (int i = 0; i < s.timestamps().length; i++) {
                    json.writeStartObject();
                    json.writeStringField("name", s.name());
                    json.writeObjectFieldStart("labels");
                    json.writeStringField("run", run);
                    json.writeEndObject();
                    json.writeNumberField("timestamp", s.timestamps()[i]);
                    json.writeFieldName("value");
                    JsonDoubles.write(json, s.values()[i]);
                    json.writeEndObject();
                }
                json.writeEndArray();
                json.writeEndObject();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + sluice.port() + "/api/v1/ingest/metrics"))
                    .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + key)
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
            assertThat(response.body()).isEqualTo("{\"accepted\":" + s.timestamps().length + ",\"rejected\":[]}");
        } else {
            RecordBatch batch = binary.newBatch();
            for (int i = 0; i < s.timestamps().length; i++) {
                batch.addSample(Series.of(s.name(), "run", run), s.timestamps()[i], s.values()[i]);
            }
            binary.send(batch).get(30, TimeUnit.SECONDS);
        }
    }

    /**
     * kind 0: every kind of value (NaN and infinities make most sums NaN or infinite); kind 1: finite values only,
     * many huge (sums overflow, or not, depending on the order of addition), some tiny; kind 2: ordinary decimals,
     * whose sums round differently in another order.
     */
    private static double randomValue(Random random, int kind) {
        double sign = random.nextBoolean() ? 1 : -1;
        int pick = kind == 0 ? random.nextInt(8) : kind == 1 ? 3 + random.nextInt(5) : 7;
        return switch (pick) {
            case 0, 1 -> SPECIALS[random.nextInt(SPECIALS.length)];
            case 2 -> Double.longBitsToDouble(random.nextLong()); // any bits: NaN payloads, subnormals, huge
            case 3 -> sign * Math.scalb(1 + random.nextDouble(), -1074 + random.nextInt(60)); // tiny, subnormal
            case 4, 5 -> sign * Math.scalb(1 + random.nextDouble(), 1000 + random.nextInt(24)); // sums overflow
            case 6 -> sign * (random.nextBoolean() ? MAX : Math.nextDown(MAX));
            default -> sign * random.nextDouble() * 1000;
        };
    }

    // --- reading ------------------------------------------------------------------------------------------------

    private static long seriesId(String name) {
        return SeriesIds.of(tenant, Series.of(name, "run", run));
    }

    private static long storedCount(long seriesId) throws SQLException {
        try (Connection c = connect(); PreparedStatement s = c.prepareStatement(
                "SELECT coalesce(sum(samples), 0) FROM sample_chunks WHERE series_id = ?")) {
            s.setLong(1, seriesId);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    /** Every sample of the series' chunks: timestamp to raw value bits (a timestamp stored twice fails). */
    private static TreeMap<Long, Long> storedSamples(long seriesId) throws SQLException {
        TreeMap<Long, Long> samples = new TreeMap<>();
        try (Connection c = connect(); PreparedStatement s = c.prepareStatement(
                "SELECT data FROM sample_chunks WHERE series_id = ? ORDER BY hour, min_ms")) {
            s.setLong(1, seriesId);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    SampleChunks.decode(r.getBytes(1), (t, v) -> assertThat(samples.put(t, Double.doubleToRawLongBits(v)))
                            .as("timestamp " + t + " stored once").isNull());
                }
            }
        }
        return samples;
    }

    /** bucket (ms) to "min max sum count", the doubles as doubleToLongBits (every NaN alike) in hex. */
    /**
     * A series' {@code rollups_1m} rows, or its hours as a query reads them (migration V14): the {@code rollups_1h} rows
     * of folded hours, and the 1-minute rows of later hours folded by {@link HourFold}, in one statement.
     */
    private static Map<Long, String> rollups(String table, long seriesId) throws SQLException {
        Map<Long, String> rows = new LinkedHashMap<>();
        String columns = "(extract(epoch FROM bucket) * 1000)::bigint, float8send(min), float8send(max), float8send(sum),"
                + " count";
        String sql = table.equals("rollups_1h")
                ? "SELECT false, " + columns + " FROM rollups_1h WHERE series_id = ? AND bucket < (SELECT folded_before"
                        + " FROM rollup_folds) UNION ALL SELECT true, " + columns + " FROM rollups_1m WHERE series_id = ?"
                        + " AND bucket >= (SELECT folded_before FROM rollup_folds) ORDER BY 2"
                : "SELECT false, " + columns + " FROM " + table + " WHERE series_id = ? ORDER BY 2";
        HourFold fold = new HourFold((series, hourMs, summary, run) -> rows.put(hourMs, row(summary.min(), summary.max(),
                summary.sum(), summary.count())));
        try (Connection c = connect(); PreparedStatement s = c.prepareStatement(sql)) {
            s.setLong(1, seriesId);
            if (table.equals("rollups_1h")) {
                s.setLong(2, seriesId);
            }
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    double min = fromBytes(r.getBytes(3));
                    double max = fromBytes(r.getBytes(4));
                    double sum = fromBytes(r.getBytes(5));
                    if (r.getBoolean(1)) {
                        fold.minute(seriesId, r.getLong(2), min, max, sum, r.getLong(6), -1, 0, Double.NaN, 0, Double.NaN,
                                Double.NaN);
                    } else {
                        fold.finish();
                        rows.put(r.getLong(2), row(min, max, sum, r.getLong(6)));
                    }
                }
            }
        }
        fold.finish();
        return rows;
    }

    private static Map<Long, String> describe(Map<Long, Summary> summaries) {
        Map<Long, String> rows = new LinkedHashMap<>();
        summaries.forEach((bucket, s) -> rows.put(bucket, row(s.min(), s.max(), s.sum(), s.count())));
        return rows;
    }

    private static String row(double min, double max, double sum, long count) {
        return "min " + bits(min) + " max " + bits(max) + " sum " + bits(sum) + " count " + count;
    }

    private static String bits(double v) {
        return Long.toHexString(Double.doubleToLongBits(v)) + " (" + v + ")";
    }

    private static Map<Long, String> hex(TreeMap<Long, Long> samples) {
        Map<Long, String> out = new TreeMap<>();
        samples.forEach((t, bits) -> out.put(t, Long.toHexString(bits)));
        return out;
    }

    private static double fromBytes(byte[] bytes) {
        return ByteBuffer.wrap(bytes).getDouble();
    }

    private static long scalar(String sql) throws SQLException {
        try (Connection c = connect(); PreparedStatement s = c.prepareStatement(sql); ResultSet r = s.executeQuery()) {
            r.next();
            return r.getLong(1);
        }
    }

    private static Connection connect() throws SQLException {
        PostgresConfig p = sluice.config().postgres();
        return DriverManager.getConnection(p.jdbcUrl(), p.user(), p.password());
    }

    private static Map<TopicPartition, Long> endOffsets(String bootstrap, String topic) {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class))) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            return consumer.endOffsets(partitions, Duration.ofSeconds(30));
        }
    }
}
