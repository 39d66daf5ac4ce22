package io.sluice.storage.postgres;

import io.sluice.config.PostgresConfig;
import io.sluice.storage.chunks.SampleChunks;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Migration V7 on a database that has data: a schema at V6 filled the way the old writer filled it (samples, one
 * row each, in day partitions; rollups), then migrated to the latest version. Every sample is then in
 * {@code sample_chunks}, bit-exact (NaN payloads, ±Inf, ±0, subnormals), one chunk per series and UTC hour;
 * {@code series_heads} holds each series' newest timestamp; {@code samples} is gone; the rollups are untouched.
 */
@RealInfrastructure
class StorageV2MigrationTest {

    private static final long HOUR_MS = 3_600_000;
    private static final double[] SPECIALS = {
            Double.NaN, Double.longBitsToDouble(0x7ff0000000000002L), Double.longBitsToDouble(0xfff8000000000005L),
            Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0, Double.MIN_VALUE, -Double.MIN_VALUE,
            Math.nextDown(Double.MIN_NORMAL), Double.MAX_VALUE, -Double.MAX_VALUE};

    @Test
    void samplesMoveIntoChunksBitExactAndRollupsStayAsTheyWere(TestInfrastructure infra) throws SQLException {
        PostgresConfig db = emptyDatabase(infra);
        assertThat(Migrations.apply(db, "classpath:db/migration", "6")).isEqualTo("6");

        // a day before 1970 (negative timestamps) and two days of 2026, with samples in several hours of each
        List<LocalDate> days = List.of(LocalDate.parse("1969-12-31"), LocalDate.parse("2026-03-01"),
                LocalDate.parse("2026-03-02"));
        long[] seriesIds = {42L, -7_000_000_000_000_000_000L, Long.MAX_VALUE};
        Map<Long, TreeMap<Long, Long>> expected = new HashMap<>(); // series -> ts -> raw value bits
        Random random = new Random(11);
        try (Connection c = DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password())) {
            try (Statement s = c.createStatement()) {
                for (LocalDate day : days) {
                    String d = day.toString().replace("-", "");
                    String range = " FOR VALUES FROM ('" + day + " 00:00:00+00') TO ('" + day.plusDays(1) + " 00:00:00+00')";
                    s.execute("CREATE TABLE samples_p" + d + " PARTITION OF samples" + range);
                    s.execute("CREATE TABLE rollups_1m_p" + d + " PARTITION OF rollups_1m" + range);
                    String month = d.substring(0, 6);
                    s.execute("CREATE TABLE IF NOT EXISTS rollups_1h_p" + month + " PARTITION OF rollups_1h FOR VALUES FROM ('"
                            + day.withDayOfMonth(1) + " 00:00:00+00') TO ('" + day.withDayOfMonth(1).plusMonths(1)
                            + " 00:00:00+00')");
                }
            }
            try (PreparedStatement insert = c.prepareStatement("INSERT INTO samples (series_id, ts, value) "
                    + "VALUES (?, timestamptz 'epoch' + ? * interval '1 millisecond', ?)")) {
                int special = 0;
                for (long series : seriesIds) {
                    for (LocalDate day : days) {
                        long dayMs = day.atStartOfDay().toInstant(ZoneOffset.UTC).toEpochMilli();
                        for (int hour : new int[] {0, 1, 13, 23}) {
                            int n = 1 + random.nextInt(40);
                            for (int i = 0; i < n; i++) {
                                // irregular, ms precision, the first and last millisecond of the hour included
                                long ts = dayMs + hour * HOUR_MS + switch (i) {
                                    case 0 -> 0;
                                    case 1 -> HOUR_MS - 1;
                                    default -> random.nextInt((int) HOUR_MS);
                                };
                                double value = switch (random.nextInt(3)) {
                                    case 0 -> SPECIALS[special++ % SPECIALS.length];
                                    case 1 -> Double.longBitsToDouble(random.nextLong());
                                    default -> random.nextGaussian() * 1000;
                                };
                                if (expected.computeIfAbsent(series, k -> new TreeMap<>()).putIfAbsent(ts,
                                        Double.doubleToRawLongBits(value)) != null) {
                                    continue; // the same timestamp twice: the old primary key allowed one
                                }
                                insert.setLong(1, series);
                                insert.setLong(2, ts);
                                insert.setDouble(3, value);
                                insert.addBatch();
                            }
                        }
                    }
                }
                insert.executeBatch();
            }
            try (PreparedStatement rollup = c.prepareStatement("INSERT INTO rollups_1m (series_id, bucket, min, max, sum, count) "
                    + "SELECT series_id, date_trunc('minute', ts, 'UTC'), min(value), max(value), sum(value), count(*) "
                    + "FROM samples WHERE value <> 'NaN' AND abs(value) < 1e300 GROUP BY 1, 2")) {
                rollup.executeUpdate();
            }
            try (PreparedStatement special = c.prepareStatement("INSERT INTO rollups_1h (series_id, bucket, min, max, sum, count) "
                    + "VALUES (42, '2026-03-01 00:00:00+00', ?, ?, ?, 7), (42, '1969-12-31 23:00:00+00', ?, ?, ?, 1)")) {
                special.setDouble(1, Double.NEGATIVE_INFINITY);
                special.setDouble(2, -0.0);
                special.setDouble(3, Double.NaN);
                special.setDouble(4, Double.MIN_VALUE);
                special.setDouble(5, Double.MAX_VALUE);
                special.setDouble(6, Double.POSITIVE_INFINITY);
                special.executeUpdate();
            }
            assertThat(count(c, "SELECT count(*) FROM samples"))
                    .isEqualTo(expected.values().stream().mapToLong(TreeMap::size).sum());
            List<String> rollupsBefore = rollups(c);
            assertThat(rollupsBefore).hasSizeGreaterThan(50);

            String version = Migrations.apply(db);
            assertThat(Integer.parseInt(version)).isGreaterThanOrEqualTo(7);

            assertThat(count(c, "SELECT count(*) FROM pg_class WHERE relname = 'samples'")).as("samples dropped").isZero();
            assertThat(rollups(c)).as("rollups unchanged, bit for bit").containsExactlyElementsOf(rollupsBefore);

            Map<Long, TreeMap<Long, Long>> stored = new HashMap<>();
            List<String> chunkKeys = new ArrayList<>();
            try (Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("SELECT series_id, (extract(epoch FROM hour) * 1000)::bigint, min_ms, max_ms, "
                         + "samples, data FROM sample_chunks ORDER BY series_id, hour")) {
                while (r.next()) {
                    long series = r.getLong(1);
                    long hour = r.getLong(2);
                    long minMs = r.getLong(3);
                    long maxMs = r.getLong(4);
                    int samples = r.getInt(5);
                    String chunk = "chunk of " + series + " at " + Instant.ofEpochMilli(hour);
                    chunkKeys.add(series + "@" + hour);
                    List<Long> ts = new ArrayList<>();
                    int n = SampleChunks.decode(r.getBytes(6), (t, v) -> {
                        ts.add(t);
                        assertThat(stored.computeIfAbsent(series, k -> new TreeMap<>())
                                .put(t, Double.doubleToRawLongBits(v))).as(chunk + ": " + t + " once").isNull();
                    });
                    assertThat(n).as(chunk).isEqualTo(samples);
                    assertThat(ts).as(chunk).isSorted().allSatisfy(t -> assertThat(t).isBetween(hour, hour + HOUR_MS - 1));
                    assertThat(ts.get(0)).as(chunk).isEqualTo(minMs);
                    assertThat(ts.get(ts.size() - 1)).as(chunk).isEqualTo(maxMs);
                }
            }
            assertThat(chunkKeys).as("one chunk per series and hour").doesNotHaveDuplicates()
                    .hasSize(seriesIds.length * days.size() * 4);
            assertThat(stored.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
            for (long series : seriesIds) {
                // compared as hex so that a difference in a NaN payload or the sign of a zero shows
                assertThat(hex(stored.get(series))).as("series " + series).containsExactlyEntriesOf(hex(expected.get(series)));
            }

            Map<Long, Long> heads = new HashMap<>();
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT series_id, max_ms FROM series_heads")) {
                while (r.next()) {
                    heads.put(r.getLong(1), r.getLong(2));
                }
            }
            Map<Long, Long> newest = new HashMap<>();
            expected.forEach((series, samples) -> newest.put(series, samples.lastKey()));
            assertThat(heads).isEqualTo(newest);

            assertThat(count(c, "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
                    + "WHERE p.relname = 'sample_chunks'")).as("a chunk partition per day with samples").isEqualTo(days.size());
        }
    }

    private static Map<Long, String> hex(TreeMap<Long, Long> samples) {
        Map<Long, String> out = new TreeMap<>();
        samples.forEach((ts, bits) -> out.put(ts, Long.toHexString(bits)));
        return out;
    }

    private static List<String> rollups(Connection c) throws SQLException {
        List<String> rows = new ArrayList<>();
        for (String table : List.of("rollups_1m", "rollups_1h")) {
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT series_id, bucket, "
                    + "encode(float8send(min), 'hex'), encode(float8send(max), 'hex'), encode(float8send(sum), 'hex'), count "
                    + "FROM " + table + " ORDER BY series_id, bucket")) {
                while (r.next()) {
                    rows.add(table + " " + r.getLong(1) + " " + r.getString(2) + " " + r.getString(3) + " "
                            + r.getString(4) + " " + r.getString(5) + " " + r.getLong(6));
                }
            }
        }
        return rows;
    }

    private static long count(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
            assertThat(r.next()).isTrue();
            return r.getLong(1);
        }
    }

    private static PostgresConfig emptyDatabase(TestInfrastructure infra) throws SQLException {
        String name = "v2mig_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        PostgresConfig p = infra.config().postgres();
        try (Connection c = DriverManager.getConnection(p.jdbcUrl(), p.user(), p.password());
             Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
        return p.withDatabase(name, 2);
    }
}
