package io.sluice.storage.promql;

import io.sluice.config.QueryConfig;
import io.sluice.storage.query.Matcher;
import io.sluice.storage.query.RollupRead;
import io.sluice.storage.query.SampleBudget;
import io.sluice.storage.query.SeriesRollups;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Range functions read from the rollups ({@link PromqlRollups}): the same answers as raw samples where raw samples
 * still cover the range, raw samples read instead where the rollups could not tell, and answers past
 * {@code retention.raw} where only rollups are left.
 */
class PromqlRollupsTest {

    private static final double STALE = Double.longBitsToDouble(Series.STALE_NAN_BITS);
    private static final QueryConfig LIMITS = new QueryConfig(11_000, 500, Duration.ofDays(30),
            Duration.ofSeconds(30), 0);
    private static final long MINUTE = 60_000;
    private static final long HOUR = 60 * MINUTE;
    /** The data's first hour (a whole hour), and how long it runs. */
    private static final long T0 = Instant.parse("2031-05-01T00:00:00Z").toEpochMilli();
    private static final long SPAN = 8 * HOUR;
    /** The rollups' retention: long enough for every test's data but where a test says otherwise. */
    private static final List<Duration> KEPT = List.of(Duration.ofDays(3650), Duration.ofDays(3650));

    /** Counts what the engine reads; raw samples older than {@code rawFrom} are gone, as past retention.raw. */
    private static final class Counting implements SampleSource {
        final InMemorySampleSource all;
        final long rawFrom;
        final AtomicInteger raw = new AtomicInteger();
        final AtomicInteger rollups = new AtomicInteger();
        /** The longest span one raw read asked for. */
        final java.util.concurrent.atomic.AtomicLong widestRaw = new java.util.concurrent.atomic.AtomicLong();

        Counting(InMemorySampleSource all, long rawFrom) {
            this.all = all;
            this.rawFrom = rawFrom;
        }

        @Override
        public Mono<List<Series>> select(String tenant, List<Matcher> matchers, long fromMs, long toMs) {
            raw.incrementAndGet();
            widestRaw.accumulateAndGet(toMs - fromMs, Math::max);
            return all.select(tenant, matchers, Math.max(fromMs, rawFrom), toMs);
        }

        @Override
        public Mono<List<RollupSeries>> selectRollups(String tenant, List<Matcher> matchers, RollupRead read,
                                                      SampleBudget budget) {
            rollups.incrementAndGet();
            return all.selectRollups(tenant, matchers, read, budget);
        }
    }

    /**
     * Scrapes every 15 s at 7.3 s past the quarter minute (never on a minute's start): a counter that resets now and
     * then, one that never does, a gauge with NaNs, and a series that goes stale for a while.
     */
    private static InMemorySampleSource data(long seed, long phaseMs) {
        SplittableRandom random = new SplittableRandom(seed);
        int n = (int) (SPAN / 15_000);
        InMemorySampleSource s = new InMemorySampleSource();
        for (int host = 0; host < 3; host++) {
            long[] ts = new long[n];
            double[] counter = new double[n];
            double[] gauge = new double[n];
            double[] flaky = new double[n];
            double[] mono = new double[n];
            double c = random.nextInt(1000);
            for (int i = 0; i < n; i++) {
                ts[i] = T0 + i * 15_000L + phaseMs;
                c = random.nextInt(500) == 0 ? random.nextInt(10) : c + random.nextInt(50);
                counter[i] = c;
                mono[i] = i * 3.7 + host;
                gauge[i] = random.nextInt(100) == 0 ? Double.NaN : random.nextDouble() * 100 - 20;
                flaky[i] = i % 1000 > 900 ? STALE : random.nextInt(1000);
            }
            String h = "h" + host;
            s.add(new Series(labels("reqs_total", h), ts, counter));
            s.add(new Series(labels("temp", h), ts, gauge));
            s.add(new Series(labels("flaky", h), ts, flaky));
            s.add(new Series(labels("mono_total", h), ts, mono));
        }
        return s;
    }

    private static java.util.SortedMap<String, String> labels(String name, String host) {
        TreeMap<String, String> l = new TreeMap<>();
        l.put("__name__", name);
        l.put("host", host);
        return Series.sorted(l);
    }

    /** An engine that reads rollups wherever they answer exactly, fewer rows or not. */
    private static PromqlEngine pushing(SampleSource source, Duration minStep, Duration rawRetention, long now) {
        return new PromqlEngine(source, LIMITS, new RollupPushDown(minStep, rawRetention, KEPT,
                Clock.fixed(Instant.ofEpochMilli(now), ZoneOffset.UTC), false));
    }

    private static List<Series> range(PromqlEngine engine, String expr, long start, long end, long step) {
        return ((PromqlResult.Matrix) engine.range("t", expr, start, end, step).block()).series();
    }

    @Test
    void whereRawSamplesCoverTheRangeRollupsGiveTheSameAnswers() {
        InMemorySampleSource data = data(7, 7_300);
        PromqlEngine raw = new PromqlEngine(data, LIMITS);
        int compared = 0;
        for (String f : List.of("rate", "increase", "delta", "count_over_time", "min_over_time", "max_over_time",
                "sum_over_time", "avg_over_time")) {
            for (String metric : List.of("reqs_total", "mono_total", "temp", "flaky")) {
                for (String window : List.of("1m", "5m", "1h", "2h")) {
                    for (long step : new long[] {MINUTE, 5 * MINUTE, HOUR}) {
                        for (String offset : List.of("", " offset 1h")) {
                            String expr = f + "(" + metric + "[" + window + "]" + offset + ")";
                            Counting source = new Counting(data, Long.MIN_VALUE);
                            PromqlEngine pushing = pushing(source, Duration.ofMinutes(1), Duration.ofDays(3650),
                                    T0 + SPAN);
                            long start = T0 + 2 * HOUR;
                            List<Series> expected = range(raw, expr, start, T0 + SPAN, step);
                            List<Series> got = range(pushing, expr, start, T0 + SPAN, step);
                            assertThat(source.rollups.get()).as(expr).isEqualTo(1);
                            boolean sums = f.equals("sum_over_time") || f.equals("avg_over_time");
                            // counter resets are added per bucket, not one by one: the last digits may differ
                            boolean resets = (f.equals("rate") || f.equals("increase"))
                                    && !metric.equals("mono_total");
                            boolean pushed = source.raw.get() == 0;
                            // staleness markers are in flaky's sums: those read raw samples instead
                            assertThat(pushed).as(expr + " read from the rollups")
                                    .isEqualTo(!(sums && metric.equals("flaky")));
                            assertSame(expr, got, expected, sums || resets);
                            compared += expected.size();
                        }
                    }
                }
            }
        }
        assertThat(compared).isGreaterThan(500);
    }

    /**
     * Bit for bit, or where sums are added in another order (per bucket here, sample by sample by Prometheus) within a
     * relative 1e-9.
     */
    private static void assertSame(String expr, List<Series> got, List<Series> expected, boolean sums) {
        assertThat(got).as(expr).hasSameSizeAs(expected);
        for (int i = 0; i < expected.size(); i++) {
            Series e = expected.get(i);
            Series g = got.get(i);
            assertThat(g.labels()).as(expr).isEqualTo(e.labels());
            assertThat(g.timestamps()).as(expr).isEqualTo(e.timestamps());
            for (int k = 0; k < e.values().length; k++) {
                double ev = e.values()[k];
                double gv = g.values()[k];
                if (sums && !Double.isNaN(ev)) {
                    assertThat(gv).as(expr + " at " + e.timestamps()[k]).isCloseTo(ev, within(1e-9 * Math.abs(ev)));
                } else {
                    assertThat(Double.doubleToLongBits(gv)).as(expr + " at " + e.timestamps()[k])
                            .isEqualTo(Double.doubleToLongBits(ev));
                }
            }
        }
    }

    @Test
    void aSampleOnAMinutesStartMakesTheQueryReadRawSamples() {
        // scrapes on the quarter minute: every fourth one is on a minute's start, where (t - r, t] and [t - r, t) differ
        InMemorySampleSource data = data(11, 0);
        Counting source = new Counting(data, Long.MIN_VALUE);
        PromqlEngine pushing = pushing(source, Duration.ofMinutes(1), Duration.ofDays(3650), T0 + SPAN);
        String expr = "rate(reqs_total[5m])";
        List<Series> got = range(pushing, expr, T0 + HOUR, T0 + SPAN, 5 * MINUTE);
        assertThat(source.rollups.get()).isEqualTo(1);
        assertThat(source.raw.get()).as("fell back to raw samples").isEqualTo(1);
        assertSame(expr, got, range(new PromqlEngine(data, LIMITS), expr, T0 + HOUR, T0 + SPAN, 5 * MINUTE), false);
    }

    /** A range query, ending at the data's end, and whether it reads the rollups (and nothing raw). */
    private record Case(String expr, long start, long step, boolean pushed) {
    }

    /** Each case over the data reads the rollups or not as it says, and answers what raw samples give. */
    private static void assertCases(InMemorySampleSource data, RollupPushDown policy, List<Case> cases) {
        long end = T0 + SPAN;
        for (Case c : cases) {
            Counting source = new Counting(data, Long.MIN_VALUE);
            List<Series> got = range(new PromqlEngine(source, LIMITS, policy), c.expr(), c.start(), end, c.step());
            assertThat(source.rollups.get() == 1 && source.raw.get() == 0).as(c.expr() + " at " + c.step())
                    .isEqualTo(c.pushed());
            assertSame(c.expr(), got, range(new PromqlEngine(data, LIMITS), c.expr(), c.start(), end, c.step()),
                    false);
        }
    }

    private static RollupPushDown policy(Duration minStep, boolean fewerRows) {
        return new RollupPushDown(minStep, Duration.ofDays(3650), KEPT,
                Clock.fixed(Instant.ofEpochMilli(T0 + SPAN), ZoneOffset.UTC), fewerRows);
    }

    @Test
    void rollupsAreReadOnlyWhereTheStepRangeAndStartAreWholeBucketsAndTheStepIsLongEnough() {
        assertCases(data(3, 7_300), policy(Duration.ofMinutes(30), false), List.of(
                new Case("rate(reqs_total[5m])", T0 + HOUR, HOUR, true),
                new Case("sum by (host) (rate(reqs_total[5m])) * 2", T0 + HOUR, HOUR, true),
                new Case("rate(reqs_total[5m])", T0 + HOUR, 10 * MINUTE, false), // under query.rollup-min-step
                new Case("rate(reqs_total[5m])", T0 + HOUR, 90_000, false), // not whole minutes
                new Case("rate(reqs_total[90s])", T0 + HOUR, HOUR, false),
                new Case("rate(reqs_total[5m])", T0 + HOUR + 30_000, HOUR, false),
                new Case("rate(reqs_total[5m] offset 30s)", T0 + HOUR, HOUR, false),
                new Case("rate(reqs_total[5m] @ 3600)", T0 + HOUR, HOUR, false),
                new Case("max_over_time(rate(reqs_total[5m])[1h:5m])", T0 + HOUR, HOUR, false), // in a subquery
                new Case("irate(reqs_total[5m])", T0 + HOUR, HOUR, false),
                new Case("quantile_over_time(0.5, temp[1h])", T0 + HOUR, HOUR, false)));
    }

    /**
     * In production, while raw samples cover the range, rollups are read only where they are fewer rows than the raw
     * chunks (one per series and hour at least): short windows far apart.
     */
    @Test
    void whereRawSamplesCoverTheRangeRollupsAreReadOnlyForFewerRows() {
        assertCases(data(9, 7_300), policy(Duration.ofHours(1), true), List.of(
                // 6 buckets a step, 1 chunk an hour: 6 rows against 1 at a 1 h step, 6 against 4 at 4 h
                new Case("rate(reqs_total[5m])", T0 + HOUR, HOUR, false),
                new Case("rate(reqs_total[5m])", T0 + 4 * HOUR, 4 * HOUR, false),
                // 2 one-minute buckets a step against 4 hours of chunks
                new Case("rate(reqs_total[1m])", T0 + 4 * HOUR, 4 * HOUR, true),
                // 2 one-hour buckets a step against the 2 hours each step spans
                new Case("increase(reqs_total[1h])", T0 + 2 * HOUR, 2 * HOUR, true),
                new Case("increase(reqs_total[1h])", T0 + 2 * HOUR, HOUR, false)));
    }

    /** While raw samples cover the range, rollups older than their own retention are not read: they are gone. */
    @Test
    void whereTheRollupsAreGoneRawSamplesAnswer() {
        InMemorySampleSource data = data(13, 7_300);
        long now = T0 + SPAN + 2 * HOUR;
        // 1-minute rollups kept for 4 hours, 1-hour ones for 3650 days, raw samples for 3650 days
        Counting source = new Counting(data, Long.MIN_VALUE);
        PromqlEngine engine = new PromqlEngine(source, LIMITS, new RollupPushDown(Duration.ofMinutes(1),
                Duration.ofDays(3650), List.of(Duration.ofHours(4), Duration.ofDays(3650)),
                Clock.fixed(Instant.ofEpochMilli(now), ZoneOffset.UTC), false));
        String expr = "rate(reqs_total[1m])";
        List<Series> got = range(engine, expr, T0 + HOUR, T0 + SPAN, HOUR);
        assertThat(source.rollups.get()).isZero();
        assertSame(expr, got, range(new PromqlEngine(data, LIMITS), expr, T0 + HOUR, T0 + SPAN, HOUR), false);
        // whole hours: the 1-hour rollups are still there
        String hourly = "increase(reqs_total[1h])";
        List<Series> fromHours = range(engine, hourly, T0 + HOUR, T0 + SPAN, HOUR);
        assertThat(source.rollups.get()).isEqualTo(1);
        assertSame(hourly, fromHours, range(new PromqlEngine(data, LIMITS), hourly, T0 + HOUR, T0 + SPAN, HOUR),
                false);
    }

    @Test
    void pastRetentionRawRangesAreAnsweredFromTheRollupsAtAnyStep() {
        InMemorySampleSource data = data(5, 7_300);
        long now = T0 + SPAN + 2 * HOUR;
        // raw samples are kept for 4 hours: the first half of the data is gone from them
        Counting source = new Counting(data, now - 4 * HOUR);
        PromqlEngine pushing = pushing(source, Duration.ofHours(1), Duration.ofHours(4), now);
        String expr = "increase(reqs_total[10m])";
        List<Series> got = range(pushing, expr, T0 + HOUR, T0 + SPAN, MINUTE);
        assertThat(source.raw.get()).isZero();
        assertSame(expr, got, range(new PromqlEngine(data, LIMITS), expr, T0 + HOUR, T0 + SPAN, MINUTE), false);
        // without rollups, the old half would be empty
        List<Series> rawOnly = range(new PromqlEngine(source, LIMITS), expr, T0 + HOUR, T0 + SPAN, MINUTE);
        assertThat(rawOnly.get(0).timestamps()[0]).isGreaterThanOrEqualTo(now - 4 * HOUR);
        assertThat(got.get(0).timestamps()[0]).isEqualTo(T0 + HOUR);
    }

    @Test
    void pastRetentionRawAStepWhoseBucketsAreUnknownHasNoValue() {
        // two buckets of one minute; the second is unknown (its batches interleaved): windows holding it have no value
        SeriesRollups rows = new SeriesRollups(1);
        rows.add(T0, 0, 10, 10, 2, 2, T0 + 5_000, 0, T0 + 35_000, 10, 0);
        rows.add(T0 + MINUTE, 10, 30, 40, 2, -1, 0, Double.NaN, 0, Double.NaN, Double.NaN);
        rows.add(T0 + 2 * MINUTE, 30, 40, 70, 2, 2, T0 + 125_000, 30, T0 + 155_000, 40, 0);
        RollupSeries series = new RollupSeries(labels("reqs_total", "h0"), rows);
        SampleSource source = new SampleSource() {
            @Override
            public Mono<List<Series>> select(String tenant, List<Matcher> matchers, long fromMs, long toMs) {
                return Mono.just(List.of());
            }

            @Override
            public Mono<List<RollupSeries>> selectRollups(String tenant, List<Matcher> matchers, RollupRead read,
                                                          SampleBudget budget) {
                return Mono.just(List.of(series));
            }
        };
        PromqlEngine pushing = pushing(source, Duration.ofHours(1), Duration.ofDays(1), T0 + 10 * 24 * HOUR);
        List<Series> got = range(pushing, "max_over_time(reqs_total[1m])", T0 + MINUTE, T0 + 3 * MINUTE, MINUTE);
        assertThat(got).hasSize(1);
        assertThat(got.get(0).timestamps()).containsExactly(T0 + MINUTE, T0 + 3 * MINUTE);
        assertThat(got.get(0).values()).containsExactly(10.0, 40.0);
        List<Series> rate = range(pushing, "increase(reqs_total[3m])", T0 + 3 * MINUTE, T0 + 3 * MINUTE, MINUTE);
        assertThat(rate).as("the window holds the unknown bucket").isEmpty();
    }

    @Test
    void fromSamplesMakesTheBucketsTheWriterWould() {
        long[] ts = {T0 + 1_000, T0 + 2_000, T0 + MINUTE + 1, T0 + 3 * MINUTE};
        double[] vs = {5, 3, STALE, 7};
        RollupRead read = new RollupRead(io.sluice.storage.query.Resolution.MINUTE, T0, T0 + 2 * MINUTE, MINUTE,
                MINUTE);
        List<RollupSeries> out = RollupSeries.fromSamples(List.of(new Series(labels("x", "h"), ts, vs)), read);
        assertThat(out).hasSize(1);
        SeriesRollups rows = out.get(0).rows();
        assertThat(out.get(0).buckets()).as("buckets past the read are left out").containsExactly(T0, T0 + MINUTE);
        assertThat(rows.count(0)).isEqualTo(2);
        assertThat(rows.points(0)).isEqualTo(2);
        assertThat(rows.resets(0)).isEqualTo(5);
        assertThat(rows.sum(0)).isEqualTo(8);
        assertThat(rows.count(1)).as("a staleness marker is counted").isEqualTo(1);
        assertThat(rows.points(1)).as("but is no point").isZero();
    }

    private static List<PromqlResult.Sample> instant(PromqlEngine engine, String expr, long t) {
        return ((PromqlResult.Vector) engine.instant("t", expr, t).block()).samples();
    }

    private static void assertSameSamples(String expr, List<PromqlResult.Sample> got,
                                          List<PromqlResult.Sample> expected, boolean sums) {
        assertThat(got).as(expr).hasSameSizeAs(expected);
        for (int i = 0; i < expected.size(); i++) {
            PromqlResult.Sample e = expected.get(i);
            PromqlResult.Sample g = got.get(i);
            assertThat(g.labels()).as(expr).isEqualTo(e.labels());
            assertThat(g.timeMs()).as(expr).isEqualTo(e.timeMs());
            if (sums && !Double.isNaN(e.value())) {
                assertThat(g.value()).as(expr).isCloseTo(e.value(), within(1e-9 * Math.abs(e.value())));
            } else {
                assertThat(Double.doubleToLongBits(g.value())).as(expr + ": " + g.value() + " vs " + e.value())
                        .isEqualTo(Double.doubleToLongBits(e.value()));
            }
        }
    }

    /**
     * An instant query's window need not be whole buckets: it reads the buckets inside the window and raw samples at
     * both edges, and answers what raw samples alone give (samples on a minute's start and a series that has only
     * raw samples at the edge included).
     */
    @Test
    void instantQueriesReadTheBucketsInsideTheirWindowAndRawSamplesAtItsEdges() {
        int compared = 0;
        int pushedCount = 0;
        int fellBack = 0;
        for (long phase : new long[] {7_300, 0}) {
            InMemorySampleSource data = data(17, phase);
            // a counter that starts after the last whole hour of some windows: only raw samples at their end
            int n = 60;
            long[] ts = new long[n];
            double[] vs = new double[n];
            for (int i = 0; i < n; i++) {
                ts[i] = T0 + 7 * HOUR + 10 * MINUTE + i * 15_000L;
                vs[i] = i * 2.5;
            }
            data.add(new Series(labels("reqs_total", "late"), ts, vs));
            PromqlEngine raw = new PromqlEngine(data, LIMITS);
            for (String f : List.of("rate", "increase", "delta", "count_over_time", "min_over_time",
                    "max_over_time", "sum_over_time", "avg_over_time")) {
                for (String metric : List.of("reqs_total", "mono_total", "temp", "flaky")) {
                    for (String window : List.of("5m", "90m", "3h", "6h")) {
                        for (String offset : List.of("", " offset 1h")) {
                            for (long t : new long[] {T0 + 7 * HOUR + 22 * MINUTE + 7_300, T0 + 7 * HOUR + 45 * MINUTE
                                    + 31_337, T0 + 7 * HOUR}) {
                                String expr = f + "(" + metric + "[" + window + "]" + offset + ")";
                                Counting source = new Counting(data, Long.MIN_VALUE);
                                PromqlEngine pushing = pushing(source, Duration.ofHours(1), Duration.ofDays(3650),
                                        T0 + SPAN);
                                List<PromqlResult.Sample> expected = instant(raw, expr, t);
                                List<PromqlResult.Sample> got = instant(pushing, expr, t);
                                boolean sums = f.equals("sum_over_time") || f.equals("avg_over_time");
                                boolean resets = (f.equals("rate") || f.equals("increase"))
                                        && !metric.equals("mono_total");
                                boolean pushed = source.rollups.get() == 1 && source.widestRaw.get() < HOUR;
                                if (window.equals("5m")) {
                                    assertThat(source.rollups.get()).as(expr + ": no whole minute... read")
                                            .isLessThanOrEqualTo(1);
                                } else if (sums && metric.equals("flaky")) {
                                    // a window whose sums hold staleness markers reads its raw samples instead
                                    fellBack += pushed ? 0 : 1;
                                } else {
                                    assertThat(pushed).as(expr + " at " + t + " read from the rollups").isTrue();
                                }
                                pushedCount += pushed ? 1 : 0;
                                assertSameSamples(expr + " at " + t, got, expected, sums || resets);
                                compared += expected.size();
                            }
                        }
                    }
                }
            }
        }
        assertThat(compared).isGreaterThan(1_000);
        assertThat(pushedCount).isGreaterThan(300);
        assertThat(fellBack).as("windows whose buckets could not answer exactly").isPositive();
    }

    /**
     * Past {@code retention.raw}, an instant query's window is the whole buckets from its start on (as a range
     * query's {@code [t - r, t)}) and the raw samples after the last one; raw samples alone would answer for the
     * part still kept only.
     */
    @Test
    void pastRetentionRawInstantQueriesReadTheRollupsAndTheRecentRawSamples() {
        InMemorySampleSource data = data(19, 7_300);
        long now = T0 + SPAN;
        // raw samples are kept for 4 hours; the window starts on a whole hour 6 h 20 m 3 s before t
        Counting source = new Counting(data, now - 4 * HOUR);
        PromqlEngine pushing = pushing(source, Duration.ofHours(1), Duration.ofHours(4), now);
        PromqlEngine raw = new PromqlEngine(data, LIMITS);
        long t = T0 + 7 * HOUR + 20 * MINUTE + 3_000;
        for (String f : List.of("increase", "count_over_time", "max_over_time", "sum_over_time")) {
            String expr = f + "(reqs_total[6h20m3s])";
            List<PromqlResult.Sample> got = instant(pushing, expr, t);
            assertThat(source.widestRaw.get()).as("raw samples read after the last whole hour only")
                    .isLessThan(HOUR);
            assertSameSamples(expr, got, instant(raw, expr, t), !f.equals("count_over_time")
                    && !f.equals("max_over_time"));
            assertThat(got).hasSize(3);
        }
        // without rollups, only the last 4 hours count
        List<PromqlResult.Sample> rawOnly = instant(new PromqlEngine(source, LIMITS), "count_over_time(reqs_total[6h20m3s])",
                t);
        assertThat(rawOnly.get(0).value()).isLessThan(instant(pushing, "count_over_time(reqs_total[6h20m3s])", t)
                .get(0).value() * 0.7);
    }

    /** While raw samples cover it, an instant query reads the rollups only for fewer rows: whole hours are as many. */
    @Test
    void whereRawSamplesCoverItAnInstantQueryReadsRawSamplesForAsManyRows() {
        InMemorySampleSource data = data(23, 7_300);
        Counting source = new Counting(data, Long.MIN_VALUE);
        PromqlEngine engine = new PromqlEngine(source, LIMITS, policy(Duration.ofHours(1), true));
        long t = T0 + 7 * HOUR + 20 * MINUTE + 3_000;
        String expr = "increase(reqs_total[6h])";
        List<PromqlResult.Sample> got = instant(engine, expr, t);
        assertThat(source.rollups.get()).isZero();
        assertSameSamples(expr, got, instant(new PromqlEngine(data, LIMITS), expr, t), false);
    }
}
