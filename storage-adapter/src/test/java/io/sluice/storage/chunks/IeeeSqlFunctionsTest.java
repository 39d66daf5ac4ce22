package io.sluice.storage.chunks;

import io.sluice.config.PostgresConfig;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SQL side of the one rule, on the real PostgreSQL: {@code sluice_add(a, b)} is Java's {@code a + b} bit for
 * bit (an overflow is ±Infinity, never error 22003; NaN compared as NaN, -0 and +0 told apart), and
 * {@code sluice_min} / {@code sluice_max} are {@link Summary#min} / {@link Summary#max}. Values are bound as binary
 * float8 (pgjdbc's setDouble) and read back with {@code float8send}, so no text conversion touches the bits.
 */
@RealInfrastructure
class IeeeSqlFunctionsTest {

    private static final double TWO_970 = 0x1p970;
    private static final double MAX = Double.MAX_VALUE;

    @Test
    void edgePairsAddAsJavaDoes(TestInfrastructure infra) throws SQLException {
        double[] edges = {
                MAX, -MAX, Math.nextDown(MAX), 0x1p1023, Math.nextDown(0x1p1023), Math.nextUp(0x1p1023),
                TWO_970, Math.nextDown(TWO_970), Math.nextUp(TWO_970), 0x1p969, 0x1p971, Math.nextDown(0x1p971),
                -TWO_970, -Math.nextDown(TWO_970), 0x1p1022, 0x1.8p1023, Math.ulp(MAX), Math.ulp(MAX) / 2,
                Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN, Double.longBitsToDouble(0x7ff0000000000002L),
                0.0, -0.0, Double.MIN_VALUE, -Double.MIN_VALUE, Double.MIN_NORMAL, Math.nextDown(Double.MIN_NORMAL),
                1.0, -1.0, 0x1p53, 1e308, -1e308, 9e307};
        List<double[]> pairs = new ArrayList<>();
        for (double a : edges) {
            for (double b : edges) {
                pairs.add(new double[] {a, b});
            }
        }
        // the rounding boundary of MAX + x: x = 2^970 rounds up to 2^1024 (overflow), anything below rounds to MAX
        pairs.add(new double[] {MAX, TWO_970});
        pairs.add(new double[] {MAX, TWO_970 - Math.ulp(Math.nextDown(TWO_970))});
        pairs.add(new double[] {Math.nextDown(MAX), TWO_970 + Math.ulp(TWO_970)});
        pairs.add(new double[] {Math.nextDown(MAX), 0x1p971});
        pairs.add(new double[] {Math.nextDown(MAX), 0x1p971 + 0x1p970});
        pairs.add(new double[] {Math.nextDown(MAX), Math.nextDown(0x1p971 + 0x1p970)});
        pairs.add(new double[] {0x1p1023, Math.nextDown(0x1p1023)});
        pairs.add(new double[] {0x1.fffffffffffffp1022, 0x1.fffffffffffffp1022});
        check(infra, pairs, "edge pairs");
    }

    /** The cases the rule's own comment names, spelled out, so that a failure reads plainly. */
    @Test
    void overflowIsInfinityAndTheRoundingBoundaryIsJavas(TestInfrastructure infra) throws SQLException {
        assertThat(MAX + MAX).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(MAX + TWO_970).isEqualTo(Double.POSITIVE_INFINITY);
        double justBelow = TWO_970 - Math.ulp(Math.nextDown(TWO_970));
        assertThat(MAX + justBelow).isEqualTo(MAX);
        try (Connection c = connect(infra)) {
            assertThat(add(c, MAX, MAX)).isEqualTo(Double.POSITIVE_INFINITY);
            assertThat(add(c, -MAX, -MAX)).isEqualTo(Double.NEGATIVE_INFINITY);
            assertThat(add(c, MAX, TWO_970)).isEqualTo(Double.POSITIVE_INFINITY);
            assertThat(add(c, MAX, justBelow)).as("MAX + (2^970 - ulp) rounds to MAX").isEqualTo(MAX);
            assertThat(add(c, -MAX, -justBelow)).isEqualTo(-MAX);
            assertThat(add(c, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY)).isNaN();
            assertThat(add(c, Double.NaN, 1)).isNaN();
            assertThat(Double.doubleToRawLongBits(add(c, -0.0, -0.0))).isEqualTo(Double.doubleToRawLongBits(-0.0));
            assertThat(add(c, Double.MIN_VALUE, Double.MIN_VALUE)).isEqualTo(2 * Double.MIN_VALUE);
        }
    }

    /**
     * The writer merges every rollup row through these three functions: PostgreSQL must inline them into the statement
     * (a STRICT SQL function with a CASE body never is, and then each call costs more than the rest of the upsert).
     * A NULL argument still gives NULL, as STRICT did.
     */
    @Test
    void thePlannerInlinesThemAndANullGivesNull(TestInfrastructure infra) throws SQLException {
        try (Connection c = connect(infra)) {
            StringBuilder plan = new StringBuilder();
            try (PreparedStatement s = c.prepareStatement("EXPLAIN (VERBOSE, COSTS OFF) SELECT sluice_add(a, b), "
                    + "sluice_min(a, b), sluice_max(a, b) FROM (VALUES (1::float8, 2::float8), (3, 4)) v(a, b)");
                 ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    plan.append(r.getString(1)).append('\n');
                }
            }
            assertThat(plan.toString()).as("the plan's output list").contains("CASE").doesNotContain("sluice_");
            StringBuilder resets = new StringBuilder();
            try (PreparedStatement s = c.prepareStatement("EXPLAIN (VERBOSE, COSTS OFF) SELECT sluice_resets(p, r, f, "
                    + "v, l, w, p, r, f, v, l, w) FROM (VALUES (1::bigint, 0::float8, 1::bigint, 1::float8, 2::bigint, "
                    + "2::float8), (2, 0, 3, 3, 4, 4)) x(p, r, f, v, l, w)");
                 ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    resets.append(r.getString(1)).append('\n');
                }
            }
            assertThat(resets.toString()).as("sluice_resets, merged into every rollup row").contains("CASE")
                    .doesNotContain("sluice_resets");
            try (PreparedStatement s = c.prepareStatement("SELECT sluice_add(NULL, 1), sluice_add(1, NULL), "
                    + "sluice_min(NULL, 1), sluice_min(1, NULL), sluice_max(NULL, 1), sluice_max(1, NULL)");
                 ResultSet r = s.executeQuery()) {
                assertThat(r.next()).isTrue();
                for (int i = 1; i <= 6; i++) {
                    assertThat(r.getObject(i)).as("column " + i).isNull();
                }
            }
        }
    }

    /**
     * {@code sluice_resets} (migration V12) joins a rollup bucket's two parts as {@link CounterRun#append} joins the
     * earlier and the later one, bit for bit (NaN never compares lower, where PostgreSQL sorts NaN above every number);
     * parts that interleave give NULL, a part without points leaves the other's resets.
     */
    @Test
    void resetsJoinAsCounterRunDoes(TestInfrastructure infra) throws SQLException {
        Random random = new Random(20261201);
        double[] values = {0, 0, 0, 1, 5, 7.5, -3, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, MAX,
            -0.0};
        try (Connection c = connect(infra); PreparedStatement s = c.prepareStatement("SELECT float8send(sluice_resets("
                + "?::bigint, ?::float8, ?::bigint, ?::float8, ?::bigint, ?::float8, "
                + "?::bigint, ?::float8, ?::bigint, ?::float8, ?::bigint, ?::float8))")) {
            for (int i = 0; i < 1000; i++) {
                long[] a = {random.nextInt(3), 100 + random.nextInt(100)};
                long[] b = {random.nextInt(3), 100 + random.nextInt(100)};
                // first, last, resets; resets start at +0 and only add, so they are never -0
                double[] av = {values[random.nextInt(values.length)], values[random.nextInt(values.length)],
                        values[random.nextInt(values.length - 1)]};
                double[] bv = {values[random.nextInt(values.length)], values[random.nextInt(values.length)],
                        values[random.nextInt(values.length - 1)]};
                long aLast = a[1] + (a[0] > 1 ? random.nextInt(50) : 0);
                long bLast = b[1] + (b[0] > 1 ? random.nextInt(50) : 0);
                int k = 1;
                for (Object o : new Object[] {a[0], av[2], a[1], av[0], aLast, av[1], b[0], bv[2], b[1], bv[0], bLast,
                        bv[1]}) {
                    s.setObject(k++, o);
                }
                Double expected;
                if (b[0] == 0) {
                    expected = av[2];
                } else if (a[0] == 0) {
                    expected = bv[2];
                } else if (b[1] > aLast || bLast < a[1]) {
                    boolean after = b[1] > aLast;
                    CounterRun run = new CounterRun();
                    run.append(after ? a[0] : b[0], after ? a[1] : b[1], after ? av[0] : bv[0], after ? aLast : bLast,
                            after ? av[1] : bv[1], after ? av[2] : bv[2]);
                    run.append(after ? b[0] : a[0], after ? b[1] : a[1], after ? bv[0] : av[0], after ? bLast : aLast,
                            after ? bv[1] : av[1], after ? bv[2] : av[2]);
                    expected = run.resets();
                } else {
                    expected = null;
                }
                try (ResultSet r = s.executeQuery()) {
                    assertThat(r.next()).isTrue();
                    byte[] bytes = r.getBytes(1);
                    String what = "a " + java.util.Arrays.toString(a) + ".." + aLast + " " + java.util.Arrays.toString(av)
                            + ", b " + java.util.Arrays.toString(b) + ".." + bLast + " " + java.util.Arrays.toString(bv);
                    if (expected == null) {
                        assertThat(bytes).as(what).isNull();
                    } else {
                        assertThat(bytes).as(what).isNotNull();
                        assertThat(same(fromBytes(bytes), expected)).as(what + ": SQL " + fromBytes(bytes) + ", Java "
                                + expected).isTrue();
                    }
                }
            }
        }
    }

    /** Thousands of random pairs, most of them near the top of the range where sums overflow. */
    @Test
    void randomPairsAddAsJavaDoes(TestInfrastructure infra) throws SQLException {
        Random random = new Random(20261130);
        List<double[]> pairs = new ArrayList<>();
        for (int i = 0; i < 6000; i++) {
            pairs.add(new double[] {randomValue(random), randomValue(random)});
        }
        // pairs that sit on the overflow boundary: MAX (or near it) plus values around 2^970
        for (int i = 0; i < 1000; i++) {
            double a = random.nextBoolean() ? MAX : Double.longBitsToDouble(Double.doubleToRawLongBits(MAX) - random.nextInt(64));
            double b = Double.longBitsToDouble(Double.doubleToRawLongBits(TWO_970) + random.nextInt(4097) - 2048);
            double sign = random.nextBoolean() ? 1 : -1;
            pairs.add(random.nextBoolean() ? new double[] {sign * a, sign * b} : new double[] {sign * b, sign * a});
        }
        check(infra, pairs, "random pairs");
    }

    private static double randomValue(Random random) {
        double sign = random.nextBoolean() ? 1 : -1;
        return switch (random.nextInt(10)) {
            case 0 -> Double.longBitsToDouble(random.nextLong()); // any bits
            case 1 -> SampleChunksTest.SPECIALS[random.nextInt(SampleChunksTest.SPECIALS.length)];
            case 2 -> sign * random.nextDouble() * 1e6;
            case 3 -> sign * Math.scalb(1 + random.nextDouble(), -1074 + random.nextInt(60)); // tiny, subnormal
            default -> sign * Math.scalb(1 + random.nextDouble(), 960 + random.nextInt(64)); // huge: 2^960..2^1023
        };
    }

    private static void check(TestInfrastructure infra, List<double[]> pairs, String what) throws SQLException {
        int perStatement = 500;
        int mismatches = 0;
        List<String> firstMismatches = new ArrayList<>();
        try (Connection c = connect(infra)) {
            for (int from = 0; from < pairs.size(); from += perStatement) {
                List<double[]> part = pairs.subList(from, Math.min(pairs.size(), from + perStatement));
                StringBuilder sql = new StringBuilder("SELECT i, float8send(sluice_add(a, b)), float8send(sluice_min(a, b)), "
                        + "float8send(sluice_max(a, b)) FROM (VALUES ");
                for (int i = 0; i < part.size(); i++) {
                    sql.append(i == 0 ? "" : ", ").append("(").append(i).append(", ?::float8, ?::float8)");
                }
                sql.append(") v(i, a, b) ORDER BY i");
                try (PreparedStatement s = c.prepareStatement(sql.toString())) {
                    for (int i = 0; i < part.size(); i++) {
                        s.setDouble(2 * i + 1, part.get(i)[0]);
                        s.setDouble(2 * i + 2, part.get(i)[1]);
                    }
                    try (ResultSet r = s.executeQuery()) {
                        int row = 0;
                        while (r.next()) {
                            double[] p = part.get(r.getInt(1));
                            double a = p[0];
                            double b = p[1];
                            double sum = fromBytes(r.getBytes(2));
                            double min = fromBytes(r.getBytes(3));
                            double max = fromBytes(r.getBytes(4));
                            if (!same(sum, a + b) || !same(min, Summary.min(a, b)) || !same(max, Summary.max(a, b))) {
                                mismatches++;
                                if (firstMismatches.size() < 10) {
                                    firstMismatches.add(describe(a) + " + " + describe(b) + ": SQL sum " + describe(sum)
                                            + " min " + describe(min) + " max " + describe(max) + ", Java sum "
                                            + describe(a + b) + " min " + describe(Summary.min(a, b)) + " max "
                                            + describe(Summary.max(a, b)));
                                }
                            }
                            row++;
                        }
                        assertThat(row).isEqualTo(part.size());
                    }
                }
            }
        }
        assertThat(firstMismatches).as(what + ": " + mismatches + " of " + pairs.size() + " pairs differ").isEmpty();
    }

    private static double add(Connection c, double a, double b) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT float8send(sluice_add(?::float8, ?::float8))")) {
            s.setDouble(1, a);
            s.setDouble(2, b);
            try (ResultSet r = s.executeQuery()) {
                assertThat(r.next()).isTrue();
                return fromBytes(r.getBytes(1));
            }
        }
    }

    /** Bit for bit, except that every NaN is NaN (PostgreSQL's NaN is canonical, Java's sum may keep a payload). */
    private static boolean same(double x, double y) {
        return Double.doubleToLongBits(x) == Double.doubleToLongBits(y);
    }

    private static String describe(double v) {
        return v + " (0x" + Long.toHexString(Double.doubleToRawLongBits(v)) + ")";
    }

    private static double fromBytes(byte[] bytes) {
        assertThat(bytes).hasSize(8);
        return ByteBuffer.wrap(bytes).getDouble();
    }

    private static Connection connect(TestInfrastructure infra) throws SQLException {
        PostgresConfig p = infra.config().postgres();
        return DriverManager.getConnection(p.jdbcUrl(), p.user(), p.password());
    }
}
