package io.sluice.storage.promql;

import io.sluice.config.QueryConfig;
import io.sluice.storage.query.Matcher;
import io.sluice.storage.query.QueryLimitException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * The engine over fixed data, expected results worked out by hand in the comments (Prometheus 3 semantics: 5 m
 * lookback, left-open ranges, staleness markers, rate extrapolation, label handling).
 */
class PromqlEngineTest {

    private static final double STALE = Double.longBitsToDouble(Series.STALE_NAN_BITS);
    private static final QueryConfig LIMITS = new QueryConfig(11_000, 500, Duration.ofDays(1), Duration.ofSeconds(10),
            0);

    private final InMemorySampleSource source = data();
    private final PromqlEngine engine = new PromqlEngine(source, LIMITS);

    private static InMemorySampleSource data() {
        InMemorySampleSource s = new InMemorySampleSource();
        // a counter at 1/s, one sample a minute
        s.add(series("reqs_total{job=\"a\"}", 0, 0, 60, 60, 120, 120, 180, 180, 240, 240));
        // a counter that resets between 60 s and 120 s
        s.add(series("resets_total{job=\"b\"}", 0, 10, 60, 20, 120, 5, 180, 15, 240, 25));
        // a counter that starts late in the range (every 30 s)
        s.add(series("late_total{job=\"c\"}", 180, 100, 210, 130, 240, 160));
        // a counter whose extrapolation to the range start would go below zero
        s.add(series("fresh_total{job=\"d\"}", 60, 1, 120, 61, 180, 121));
        // a gauge that goes stale at 120 s and comes back at 300 s
        s.add(series("gauge{job=\"s\"}", 0, 1, 60, 2, 120, STALE, 300, 5));
        s.add(series("old{job=\"o\"}", 0, 7));
        s.add(series("over_time{job=\"g\"}", 0, 4, 60, 1, 120, 3, 180, 2));
        s.add(series("errs{code=\"500\",job=\"a\"}", 0, 3));
        s.add(series("errs{code=\"500\",job=\"b\"}", 0, 4));
        s.add(series("errs_copy{code=\"500\",job=\"a\"}", 0, 5));
        s.add(series("totals{job=\"a\"}", 0, 30));
        s.add(series("totals{job=\"b\"}", 0, 40));
        s.add(series("cpu{host=\"a\",mode=\"idle\"}", 0, 1));
        s.add(series("cpu{host=\"a\",mode=\"user\"}", 0, 2));
        s.add(series("cpu{host=\"b\",mode=\"idle\"}", 0, 3));
        s.add(series("cpu{host=\"b\",mode=\"user\"}", 0, 4));
        s.add(series("lat_bucket{le=\"0.1\"}", 0, 10));
        s.add(series("lat_bucket{le=\"0.5\"}", 0, 30));
        s.add(series("lat_bucket{le=\"1\"}", 0, 40));
        s.add(series("lat_bucket{le=\"+Inf\"}", 0, 50));
        s.add(series("dip_bucket{le=\"1\"}", 0, 5));
        s.add(series("dip_bucket{le=\"2\"}", 0, 10));
        s.add(series("dip_bucket{le=\"3\"}", 0, 8));
        s.add(series("dip_bucket{le=\"4\"}", 0, 15));
        s.add(series("dip_bucket{le=\"+Inf\"}", 0, 20));
        s.add(series("noinf_bucket{le=\"1\"}", 0, 5));
        s.add(series("noinf_bucket{le=\"2\"}", 0, 10));
        s.add(series("ties{i=\"b\"}", 0, 1));
        s.add(series("ties{i=\"a\"}", 0, 1));
        s.add(series("ver{v=\"10\"}", 0, 1));
        s.add(series("ver{v=\"9a\"}", 0, 2));
        s.add(series("ver{v=\"9\"}", 0, 3));
        return s;
    }

    /** A series from a selector and (seconds, value) pairs. */
    private static Series series(String selector, double... secondsAndValues) {
        long[] ts = new long[secondsAndValues.length / 2];
        double[] vs = new double[ts.length];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = (long) (secondsAndValues[2 * i] * 1000);
            vs[i] = secondsAndValues[2 * i + 1];
        }
        return new Series(labels(selector), ts, vs);
    }

    private static SortedMap<String, String> labels(String selector) {
        TreeMap<String, String> l = new TreeMap<>();
        if (!selector.equals("{}")) {
            for (Matcher m : PromqlParser.parseSelector(selector)) {
                l.put(m.label(), m.value());
            }
        }
        return Series.sorted(l);
    }

    /** An expected sample: labels as a selector, and a value. */
    private record S(String labels, double value) {
    }

    private static S s(String labels, double value) {
        return new S(labels, value);
    }

    private static Arguments at(double seconds, String expr, S... expected) {
        return arguments(expr, (long) (seconds * 1000), List.of(expected));
    }

    static Stream<Arguments> instantVectors() {
        return Stream.of(
                at(240, "reqs_total", s("reqs_total{job=\"a\"}", 240)),
                // window (0, 240]: 60..240 (the sample at 0 is outside, left-open); increase 180 over 180 s; the first
                // sample is 60 s from the start, under 1.1 x 60 s, so extrapolate all the way: 180 * 240/180 = 240;
                // rate = 240 / 240 s
                at(240, "rate(reqs_total[4m])", s("{job=\"a\"}", 1)),
                at(240, "increase(reqs_total[4m])", s("{job=\"a\"}", 240)),
                // window (0, 240]: 20 5 15 25; 25 - 20 + 20 (the reset from 20 to 5) = 25; zero point 180 * 20/25 = 144 s
                // before the first sample, further than 60 s; 25 * (180 + 60) / 180 = 33.33
                at(240, "increase(resets_total[4m])", s("{job=\"b\"}", 100.0 / 3)),
                at(240, "rate(resets_total[4m])", s("{job=\"b\"}", 100.0 / 3 / 240)),
                // 100 130 160 at 180 210 240: increase 60 over 60 s, average interval 30 s; the start is 180 s away
                // (over 1.1 x 30 s), so extrapolate by half an interval only: 60 * (60 + 15) / 60 = 75
                at(240, "increase(late_total[4m])", s("{job=\"c\"}", 75)),
                // 1 61 121 at 60 120 180, window (0, 180]: the start is 60 s away but the counter would be 0 just 1 s
                // before the first sample (60 * 1/120... 120 s * 1/120 = 1 s): 120 * (120 + 1) / 120 = 121
                at(180, "increase(fresh_total[3m])", s("{job=\"d\"}", 121)),
                // irate over the last two samples: 20 then 5 is a reset, so 5 / 60 s
                at(120, "irate(resets_total[2m])", s("{job=\"b\"}", 5.0 / 60)),
                at(240, "irate(resets_total[2m])", s("{job=\"b\"}", 10.0 / 60)),
                // delta is not a counter: 1 3 2 at 60 120 180, window (0, 180]: (2 - 1) * (120 + 60) / 120 = 1.5
                at(180, "delta(over_time[3m])", s("{job=\"g\"}", 1.5)),
                // lookback: newest sample in (t - 5m, t]; a staleness marker ends the series
                at(100, "gauge", s("gauge{job=\"s\"}", 2)),
                at(150, "gauge"),
                at(299, "gauge"),
                at(330, "gauge", s("gauge{job=\"s\"}", 5)),
                at(299.999, "old", s("old{job=\"o\"}", 7)),
                at(300, "old"),
                // offset, also negative
                at(240, "reqs_total offset 1m", s("reqs_total{job=\"a\"}", 180)),
                at(180, "reqs_total offset -1m", s("reqs_total{job=\"a\"}", 240)),
                at(240, "reqs_total - reqs_total offset 1m", s("{job=\"a\"}", 60)),
                // range selection drops staleness markers: (0, 300] holds 2 at 60 and 5 at 300
                at(300, "count_over_time(gauge[5m])", s("{job=\"s\"}", 2)),
                // 4 1 3 2 in (-60, 180]
                at(180, "avg_over_time(over_time[4m])", s("{job=\"g\"}", 2.5)),
                at(180, "sum_over_time(over_time[4m])", s("{job=\"g\"}", 10)),
                at(180, "min_over_time(over_time[4m])", s("{job=\"g\"}", 1)),
                at(180, "max_over_time(over_time[4m])", s("{job=\"g\"}", 4)),
                at(180, "last_over_time(over_time[4m])", s("over_time{job=\"g\"}", 2)),
                // sorted 1 2 3 4: rank 0.25 * 3 = 0.75, 1 * 0.25 + 2 * 0.75
                at(180, "quantile_over_time(0.25, over_time[4m])", s("{job=\"g\"}", 1.75)),
                // vector matching: errs 3, 4; totals 30, 40
                at(0, "errs / ignoring(code) totals", s("{job=\"a\"}", 0.1), s("{job=\"b\"}", 0.1)),
                at(0, "errs / on(job) totals", s("{job=\"a\"}", 0.1), s("{job=\"b\"}", 0.1)),
                at(0, "errs / totals"),
                at(0, "errs * on(job) group_left totals", s("{code=\"500\",job=\"a\"}", 90),
                        s("{code=\"500\",job=\"b\"}", 160)),
                // comparisons filter and keep the name; with bool they answer 0/1 and drop it
                at(0, "errs > 3", s("errs{code=\"500\",job=\"b\"}", 4)),
                at(0, "3 < errs", s("errs{code=\"500\",job=\"b\"}", 4)),
                at(0, "errs > bool 3", s("{code=\"500\",job=\"a\"}", 0), s("{code=\"500\",job=\"b\"}", 1)),
                // totals / 10 is 3, 4: both pass; on(job) keeps only job
                at(0, "errs >= on(job) totals / 10", s("{job=\"a\"}", 3), s("{job=\"b\"}", 4)),
                at(0, "errs > on(job) totals / 10"),
                at(0, "errs and on(job) totals{job=\"a\"}", s("errs{code=\"500\",job=\"a\"}", 3)),
                at(0, "errs unless on(job) totals{job=\"a\"}", s("errs{code=\"500\",job=\"b\"}", 4)),
                at(0, "totals{job=\"a\"} or errs", s("totals{job=\"a\"}", 30), s("errs{code=\"500\",job=\"a\"}", 3),
                        s("errs{code=\"500\",job=\"b\"}", 4)),
                at(0, "-errs", s("{code=\"500\",job=\"a\"}", -3), s("{code=\"500\",job=\"b\"}", -4)),
                at(0, "2 ^ 3 ^ 2 + errs{job=\"a\"}", s("{code=\"500\",job=\"a\"}", 515)),
                // aggregations: cpu a/idle 1, a/user 2, b/idle 3, b/user 4
                at(0, "sum by (mode) (cpu)", s("{mode=\"idle\"}", 4), s("{mode=\"user\"}", 6)),
                at(0, "sum without (host) (cpu)", s("{mode=\"idle\"}", 4), s("{mode=\"user\"}", 6)),
                at(0, "avg(cpu) by (host)", s("{host=\"a\"}", 1.5), s("{host=\"b\"}", 3.5)),
                at(0, "count(cpu)", s("{}", 4)),
                at(0, "max by (mode) (cpu)", s("{mode=\"idle\"}", 3), s("{mode=\"user\"}", 4)),
                at(0, "min without (mode) (cpu)", s("{host=\"a\"}", 1), s("{host=\"b\"}", 3)),
                at(0, "topk(1, cpu)", s("cpu{host=\"b\",mode=\"user\"}", 4)),
                at(0, "topk by (host) (1, cpu)", s("cpu{host=\"a\",mode=\"user\"}", 2),
                        s("cpu{host=\"b\",mode=\"user\"}", 4)),
                at(0, "quantile(0.5, cpu)", s("{}", 2.5)),
                // mean 2.5, variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25
                at(0, "stdvar(cpu)", s("{}", 1.25)),
                // an infinite sample makes the spread NaN, even alone
                at(0, "stddev(errs{job=\"a\"} / 0)", s("{}", Double.NaN)),
                at(0, "stddev(errs{job=\"a\"})", s("{}", 0)),
                at(0, "count_values(\"v\", errs)", s("{v=\"3\"}", 1), s("{v=\"4\"}", 1)),
                // histogram_quantile: 10 30 40 50 at 0.1 0.5 1 +Inf; rank 25 falls in (0.1, 0.5]: 0.1 + 0.4 * 15/20
                at(0, "histogram_quantile(0.5, lat_bucket)", s("{}", 0.4)),
                // rank 49.5 falls in the +Inf bucket: the highest finite bound
                at(0, "histogram_quantile(0.99, lat_bucket)", s("{}", 1)),
                // 5 10 8 15 20: the dip to 8 is raised to 10; rank 12 falls in (3, 4]: 3 + 1 * (12 - 10) / (15 - 10)
                at(0, "histogram_quantile(0.6, dip_bucket)", s("{}", 3.4)),
                at(0, "histogram_quantile(0.5, noinf_bucket)", s("{}", Double.NaN)),
                at(0, "histogram_quantile(1.5, lat_bucket)", s("{}", Double.POSITIVE_INFINITY)),
                // simple functions drop the name
                at(60, "abs(over_time - 3)", s("{job=\"g\"}", 2)),
                at(0, "ceil(errs / 2)", s("{code=\"500\",job=\"a\"}", 2), s("{code=\"500\",job=\"b\"}", 2)),
                at(0, "floor(errs / 2)", s("{code=\"500\",job=\"a\"}", 1), s("{code=\"500\",job=\"b\"}", 2)),
                at(0, "round(errs / 2)", s("{code=\"500\",job=\"a\"}", 2), s("{code=\"500\",job=\"b\"}", 2)),
                // floor(3 / 5 + 0.5) * 5 = 5, floor(4 / 5 + 0.5) * 5 = 5
                at(0, "round(errs, 5)", s("{code=\"500\",job=\"a\"}", 5), s("{code=\"500\",job=\"b\"}", 5)),
                at(0, "clamp(cpu, 2, 3)", s("{host=\"a\",mode=\"idle\"}", 2), s("{host=\"a\",mode=\"user\"}", 2),
                        s("{host=\"b\",mode=\"idle\"}", 3), s("{host=\"b\",mode=\"user\"}", 3)),
                at(0, "clamp_min(cpu{host=\"a\"}, 1.5)", s("{host=\"a\",mode=\"idle\"}", 1.5),
                        s("{host=\"a\",mode=\"user\"}", 2)),
                at(0, "clamp_max(cpu{host=\"b\"}, 3.5)", s("{host=\"b\",mode=\"idle\"}", 3),
                        s("{host=\"b\",mode=\"user\"}", 3.5)),
                at(0, "clamp(cpu, 3, 2)"),
                at(42, "vector(time())", s("{}", 42)),
                at(0, "vector(scalar(totals{job=\"a\"}) * 2)", s("{}", 60)),
                at(0, "vector(scalar(totals))", s("{}", Double.NaN)));
    }

    static Stream<Arguments> beyondTheCoreSubset() {
        return Stream.of(
                // over_time: 4 1 3 2 at 0 60 120 180; (-60, 180] holds all four
                at(180, "changes(over_time[4m])", s("{job=\"g\"}", 3)),
                at(180, "resets(over_time[4m])", s("{job=\"g\"}", 2)),
                at(240, "resets(resets_total[5m])", s("{job=\"b\"}", 1)),
                // mean 2.5, squared deviations 2.25 2.25 0.25 0.25
                at(180, "stdvar_over_time(over_time[4m])", s("{job=\"g\"}", 1.25)),
                at(180, "stddev_over_time(over_time[4m])", s("{job=\"g\"}", Math.sqrt(1.25))),
                at(180, "first_over_time(over_time[4m])", s("over_time{job=\"g\"}", 4)),
                at(180, "ts_of_max_over_time(over_time[4m])", s("{job=\"g\"}", 0)),
                at(180, "ts_of_min_over_time(over_time[4m])", s("{job=\"g\"}", 60)),
                at(180, "ts_of_last_over_time(over_time[4m])", s("{job=\"g\"}", 180)),
                // median 2.5; deviations 1.5 1.5 0.5 0.5; their median 1
                at(180, "mad_over_time(over_time[4m])", s("{job=\"g\"}", 1)),
                // (90, 150] holds only the staleness marker at 120
                at(150, "present_over_time(gauge[1m])"),
                at(60, "present_over_time(gauge[1m])", s("{job=\"s\"}", 1)),
                // reqs_total grows 1/s: slope 1, and 240 + 60 * 1 a minute after 240 s
                at(240, "deriv(reqs_total[4m])", s("{job=\"a\"}", 1)),
                at(240, "predict_linear(reqs_total[4m], 60)", s("{job=\"a\"}", 300)),
                at(240, "absent(nonexistent{job=\"x\"})", s("{job=\"x\"}", 1)),
                at(240, "absent(cpu)"),
                // only equality matchers make labels
                at(240, "absent_over_time(nonexistent{job=\"x\",a=~\"b\"}[5m])", s("{job=\"x\"}", 1)),
                at(240, "absent_over_time(reqs_total[5m])"),
                // the selected sample's own time for a selector, the evaluation time otherwise
                at(100, "timestamp(gauge)", s("{job=\"s\"}", 60)),
                at(100, "timestamp(abs(gauge))", s("{job=\"s\"}", 100)),
                at(0, "sgn(-errs)", s("{code=\"500\",job=\"a\"}", -1), s("{code=\"500\",job=\"b\"}", -1)),
                at(0, "exp(errs{job=\"a\"} * 0)", s("{code=\"500\",job=\"a\"}", 1)),
                at(0, "ln(errs{job=\"a\"})", s("{code=\"500\",job=\"a\"}", Math.log(3))),
                at(0, "log2(cpu{host=\"b\",mode=\"user\"})", s("{host=\"b\",mode=\"user\"}", 2)),
                at(0, "log10(cpu{host=\"b\",mode=\"user\"} * 25)", s("{host=\"b\",mode=\"user\"}", 2)),
                at(0, "sqrt(cpu{host=\"b\",mode=\"user\"})", s("{host=\"b\",mode=\"user\"}", 2)),
                // 7200 s is 02:00; 1970-01-01 was a Thursday; February 1970 had 28 days
                at(0, "hour(vector(7200))", s("{}", 2)),
                at(0, "day_of_week(vector(0))", s("{}", 4)),
                at(0, "days_in_month(vector(86400 * 31))", s("{}", 28)),
                at(150, "minute()", s("{}", 2)),
                at(0, "year()", s("{}", 1970)),
                at(0, "label_replace(errs, \"dst\", \"x-$1\", \"job\", \"(.*)\")",
                        s("errs{code=\"500\",dst=\"x-a\",job=\"a\"}", 3),
                        s("errs{code=\"500\",dst=\"x-b\",job=\"b\"}", 4)),
                // an empty replacement deletes the label
                at(0, "label_replace(errs, \"job\", \"\", \"job\", \"a\")", s("errs{code=\"500\"}", 3),
                        s("errs{code=\"500\",job=\"b\"}", 4)),
                // as Go's Expand: $1x names group "1x" (empty), ${1}x is group 1 then x
                at(0, "label_replace(errs{job=\"a\"}, \"d\", \"$1x\", \"job\", \"(.*)\")",
                        s("errs{code=\"500\",job=\"a\"}", 3)),
                at(0, "label_replace(errs{job=\"a\"}, \"d\", \"${1}x\", \"job\", \"(.*)\")",
                        s("errs{code=\"500\",d=\"ax\",job=\"a\"}", 3)),
                // Prometheus 3 label names are any UTF-8
                at(0, "count_values(\"v.é\", errs{job=\"a\"})", s("{\"v.é\"=\"3\"}", 1)),
                at(0, "label_join(cpu{host=\"a\",mode=\"idle\"}, \"hm\", \"/\", \"host\", \"mode\")",
                        s("cpu{hm=\"a/idle\",host=\"a\",mode=\"idle\"}", 1)),
                // @ pins the evaluation time of a selector
                at(240, "reqs_total @ 120", s("reqs_total{job=\"a\"}", 120)),
                at(0, "rate(reqs_total[2m] @ 240)", s("{job=\"a\"}", 1)),
                at(240, "reqs_total @ 180 offset 1m", s("reqs_total{job=\"a\"}", 120)),
                // subqueries: steps aligned to the step inside (t - range, t]: 120 180 240
                at(240, "max_over_time(reqs_total[3m:1m])", s("{job=\"a\"}", 240)),
                at(240, "count_over_time(reqs_total[3m:1m])", s("{job=\"a\"}", 3)),
                // 60 120 180 240 300
                at(300, "sum_over_time(vector(1)[5m:1m])", s("{}", 5)),
                // rate at 120 and at 240, both 1
                at(240, "min_over_time(rate(reqs_total[2m])[4m:2m])", s("{job=\"a\"}", 1)),
                at(1, "vector(min_of(2, time()))", s("{}", 1)),
                // 4 1 3 2, sf = tf = 0.5: s = 4, b = -3; then s = 0.5 + 0.5 * (4 - 3) = 1; b = 0.5 * (1 - 4) + 0.5 * -3
                // = -3, s = 1.5 + 0.5 * (1 - 3) = 0.5; b = 0.5 * (0.5 - 1) + 0.5 * -3 = -1.75,
                // s = 1 + 0.5 * (0.5 - 1.75) = 0.375
                at(180, "double_exponential_smoothing(over_time[4m], 0.5, 0.5)", s("{job=\"g\"}", 0.375)),
                at(1, "vector(max_of(2, time()))", s("{}", 2)));
    }

    @ParameterizedTest(name = "{0} at {1} ms")
    @MethodSource("beyondTheCoreSubset")
    void beyondTheCoreSubset(String expr, long timeMs, List<S> expected) {
        instantVector(expr, timeMs, expected);
    }

    @Test
    void sortFunctionsOrderTheAnswer() {
        PromqlResult.Vector asc = (PromqlResult.Vector) engine.instant("t", "sort(-cpu)", 0).block();
        assertThat(asc.samples()).extracting(x -> x.value()).containsExactly(-4.0, -3.0, -2.0, -1.0);
        // natural order: 9 < 9a < 10
        PromqlResult.Vector byLabel = (PromqlResult.Vector) engine.instant("t", "sort_by_label(ver, \"v\")", 0)
                .block();
        assertThat(byLabel.samples()).extracting(x -> x.labels().get("v")).containsExactly("9", "9a", "10");
        PromqlResult.Vector byLabelDesc = (PromqlResult.Vector) engine.instant("t",
                "sort_by_label_desc(ver, \"v\")", 0).block();
        assertThat(byLabelDesc.samples()).extracting(x -> x.labels().get("v")).containsExactly("10", "9a", "9");
    }

    @Test
    void queryTimeFunctionsAndAtStartEnd() {
        // end - start = 120, step 60
        PromqlResult r = engine.range("t", "end() - start() + step()", 60_000, 180_000, 60_000).block();
        assertThat(r).isEqualTo(new PromqlResult.Matrix(List.of(new Series(labels("{}"),
                new long[] {60_000, 120_000, 180_000}, new double[] {180, 180, 180}))));
        PromqlResult end = engine.range("t", "reqs_total @ end()", 0, 240_000, 120_000).block();
        assertThat(end).isEqualTo(new PromqlResult.Matrix(List.of(new Series(labels("reqs_total{job=\"a\"}"),
                new long[] {0, 120_000, 240_000}, new double[] {240, 240, 240}))));
        assertThat(engine.instant("t", "range() + step()", 5_000).block()).isEqualTo(new PromqlResult.Scalar(5_000, 0));
    }

    @ParameterizedTest(name = "{0} at {1} ms")
    @MethodSource("instantVectors")
    void instantVector(String expr, long timeMs, List<S> expected) {
        PromqlResult r = engine.instant("t", expr, timeMs).block();
        assertThat(r).isInstanceOf(PromqlResult.Vector.class);
        List<PromqlResult.Sample> got = ((PromqlResult.Vector) r).samples();
        assertThat(got).hasSize(expected.size());
        List<SortedMap<String, String>> want = new ArrayList<>();
        for (S e : expected) {
            want.add(labels(e.labels()));
        }
        List<SortedMap<String, String>> gotLabels = got.stream().map(PromqlResult.Sample::labels).toList();
        assertThat(gotLabels).containsExactlyInAnyOrderElementsOf(want);
        for (S e : expected) {
            PromqlResult.Sample sample = got.stream().filter(g -> g.labels().equals(labels(e.labels())))
                    .findFirst().orElseThrow();
            assertThat(sample.timeMs()).isEqualTo(timeMs);
            if (Double.isNaN(e.value())) {
                assertThat(sample.value()).isNaN();
            } else {
                assertThat(sample.value()).isCloseTo(e.value(), within(1e-9 * Math.max(1, Math.abs(e.value()))));
            }
        }
    }

    @Test
    void instantAnswersAreSortedByLabelsExceptWhereOrderMatters() {
        PromqlResult.Vector plain = (PromqlResult.Vector) engine.instant("t", "cpu", 0).block();
        assertThat(plain.samples()).extracting(x -> x.value()).containsExactly(1.0, 2.0, 3.0, 4.0);
        PromqlResult.Vector top = (PromqlResult.Vector) engine.instant("t", "topk(3, cpu)", 0).block();
        assertThat(top.samples()).extracting(x -> x.value()).containsExactly(4.0, 3.0, 2.0);
        PromqlResult.Vector bottom = (PromqlResult.Vector) engine.instant("t", "bottomk(2, cpu)", 0).block();
        assertThat(bottom.samples()).extracting(x -> x.value()).containsExactly(1.0, 2.0);
        PromqlResult.Vector desc = (PromqlResult.Vector) engine.instant("t", "sort_desc(cpu)", 0).block();
        assertThat(desc.samples()).extracting(x -> x.value()).containsExactly(4.0, 3.0, 2.0, 1.0);
    }

    @Test
    void tiesKeepLabelOrderWhateverOrderTheSourceAnswersIn() {
        PromqlResult.Vector top = (PromqlResult.Vector) engine.instant("t", "topk(1, ties)", 0).block();
        assertThat(top.samples()).extracting(x -> x.labels().get("i")).containsExactly("a");
        PromqlResult.Vector sorted = (PromqlResult.Vector) engine.instant("t", "sort(ties)", 0).block();
        assertThat(sorted.samples()).extracting(x -> x.labels().get("i")).containsExactly("a", "b");
    }

    @Test
    void scalarsAndStrings() {
        assertThat(engine.instant("t", "time()", 240_000).block()).isEqualTo(new PromqlResult.Scalar(240_000, 240));
        assertThat(engine.instant("t", "scalar(totals{job=\"b\"}) / 4", 0).block())
                .isEqualTo(new PromqlResult.Scalar(0, 10));
        assertThat(engine.instant("t", "1 + 2 * 3 > bool 6", 5).block()).isEqualTo(new PromqlResult.Scalar(5, 1));
        assertThat(engine.instant("t", "\"hello\"", 5).block()).isEqualTo(new PromqlResult.Text(5, "hello"));
    }

    @Test
    void anInstantRangeSelectorAnswersAMatrixWithoutStalenessMarkers() {
        // (0, 180]: 2 at 60 s; the marker at 120 s is dropped, the sample at 0 is outside (left-open)
        PromqlResult r = engine.instant("t", "gauge[3m]", 180_000).block();
        assertThat(r).isEqualTo(new PromqlResult.Matrix(List.of(
                new Series(labels("gauge{job=\"s\"}"), new long[] {60_000}, new double[] {2}))));
    }

    @Test
    void rangeQueriesEvaluateEveryStep() {
        // (t - 2m, t] holds two samples 60 apart, 60 s from the start: 60 * 120/60 / 120 s = 1 at each step
        PromqlResult r = engine.range("t", "rate(reqs_total[2m])", 120_000, 240_000, 60_000).block();
        assertThat(r).isEqualTo(new PromqlResult.Matrix(List.of(new Series(labels("{job=\"a\"}"),
                new long[] {120_000, 180_000, 240_000}, new double[] {1, 1, 1}))));
        // the stale marker at 120 s hides the gauge until 5 arrives at 300 s
        PromqlResult g = engine.range("t", "gauge", 0, 300_000, 60_000).block();
        assertThat(g).isEqualTo(new PromqlResult.Matrix(List.of(new Series(labels("gauge{job=\"s\"}"),
                new long[] {0, 60_000, 300_000}, new double[] {1, 2, 5}))));
        PromqlResult t = engine.range("t", "time() * 2", 0, 120_000, 60_000).block();
        assertThat(t).isEqualTo(new PromqlResult.Matrix(List.of(new Series(labels("{}"),
                new long[] {0, 60_000, 120_000}, new double[] {0, 120, 240}))));
        PromqlResult m = engine.range("t", "sum by (host) (cpu)", 0, 60_000, 60_000).block();
        assertThat(m).isEqualTo(new PromqlResult.Matrix(List.of(
                new Series(labels("{host=\"a\"}"), new long[] {0, 60_000}, new double[] {3, 3}),
                new Series(labels("{host=\"b\"}"), new long[] {0, 60_000}, new double[] {7, 7}))));
    }

    @Test
    void aRangeQueryFindsWindowsAndDuplicatesAtEveryStepWhateverTheStepsBefore() {
        InMemorySampleSource s = new InMemorySampleSource();
        // one sample every 15 s for an hour, 1 a second; a copy under another name (same labels once rate drops
        // the name) only from 40 min on
        int n = 240;
        double[] counter = new double[2 * n];
        double[] late = new double[2 * (n - 160)];
        for (int i = 0; i < n; i++) {
            counter[2 * i] = i * 15;
            counter[2 * i + 1] = i * 15;
            if (i >= 160) {
                late[2 * (i - 160)] = i * 15;
                late[2 * (i - 160) + 1] = i * 15;
            }
        }
        s.add(series("steady_total{job=\"a\"}", counter));
        s.add(series("copy_total{job=\"a\"}", late));
        PromqlEngine e = new PromqlEngine(s, LIMITS);
        // the steps' windows, found from the step before: 1/s at each step once the window holds two samples
        PromqlResult r = e.range("t", "rate(steady_total[1m])", 0, 3_540_000, 60_000).block();
        Series only = ((PromqlResult.Matrix) r).series().get(0);
        assertThat(only.timestamps()).hasSize(59).startsWith(60_000).endsWith(3_540_000);
        for (double v : only.values()) {
            assertThat(v).isCloseTo(1.0, within(1e-9));
        }
        // windows of every size and steps that skip many samples give the answers of each step evaluated alone
        for (String range : new String[] {"15s", "1m", "7m", "59m"}) {
            for (long step : new long[] {15_000, 60_000, 420_000}) {
                PromqlResult all = e.range("t", "sum_over_time(steady_total[" + range + "])", 0, 3_600_000, step).block();
                Series got = ((PromqlResult.Matrix) all).series().get(0);
                for (int i = 0; i < got.timestamps().length; i++) {
                    PromqlResult alone = e.instant("t", "sum_over_time(steady_total[" + range + "])",
                            got.timestamps()[i]).block();
                    assertThat(got.values()[i]).as("%s at step %d, t=%d", range, step, got.timestamps()[i])
                            .isEqualTo(((PromqlResult.Vector) alone).samples().get(0).value());
                }
            }
        }
        // steps before 40 min have one series per step; the first after it has two with the same labels
        assertThatThrownBy(() -> e.range("t", "rate({__name__=~\"steady_total|copy_total\"}[1m])", 0, 3_540_000,
                60_000).block()).isInstanceOf(PromqlException.class)
                .hasMessage("vector cannot contain metrics with the same labelset");
    }

    /**
     * A range selector's points are windows onto the selected samples with staleness markers left out: checked at
     * every step of range queries over random series (markers in runs, NaN values, gaps) against the samples in
     * {@code (t - range, t]} counted, summed and picked in the test itself.
     */
    @Test
    void rangeWindowsHoldTheSamplesInTheirRangeWithoutStalenessMarkers() {
        java.util.Random random = new java.util.Random(20261202);
        for (int round = 0; round < 40; round++) {
            InMemorySampleSource src = new InMemorySampleSource();
            int n = 1 + random.nextInt(300);
            long[] ts = new long[n];
            double[] vs = new double[n];
            long t = random.nextInt(30_000);
            for (int i = 0; i < n; i++) {
                t += 1 + random.nextInt(random.nextInt(10) == 0 ? 600_000 : 30_000);
                ts[i] = t;
                int kind = random.nextInt(10);
                vs[i] = kind == 0 ? STALE : kind == 1 && i > 0 && Series.isStale(vs[i - 1]) ? STALE
                        : kind == 2 ? Double.NaN : random.nextInt(1000) - 200;
            }
            src.add(new Series(labels("g{i=\"" + round + "\"}"), ts, vs));
            PromqlEngine e = new PromqlEngine(src, LIMITS);
            long range = 1_000L * (1 + random.nextInt(900));
            long end = t + 60_000;
            // at most about 2,000 steps
            long step = Math.max(1_000L * (1 + random.nextInt(300)), (end / 2_000 / 1_000 + 1) * 1_000);
            for (String f : new String[] {"count_over_time", "sum_over_time", "last_over_time", "first_over_time"}) {
                String expr = f + "(g[" + range / 1000 + "s])";
                List<Series> got = ((PromqlResult.Matrix) e.range("t", expr, 0, end, step).block()).series();
                java.util.Map<Long, Double> byTime = new java.util.HashMap<>();
                if (!got.isEmpty()) {
                    for (int i = 0; i < got.get(0).timestamps().length; i++) {
                        byTime.put(got.get(0).timestamps()[i], got.get(0).values()[i]);
                    }
                }
                for (long at = 0; at <= end; at += step) {
                    int count = 0;
                    double sum = 0;
                    double first = 0;
                    double last = 0;
                    for (int i = 0; i < n; i++) {
                        if (ts[i] > at - range && ts[i] <= at && !Series.isStale(vs[i])) {
                            first = count == 0 ? vs[i] : first;
                            last = vs[i];
                            sum += vs[i];
                            count++;
                        }
                    }
                    String as = expr + " at " + at + " (round " + round + ")";
                    if (count == 0) {
                        assertThat(byTime).as(as).doesNotContainKey(at);
                        continue;
                    }
                    double expected = switch (f) {
                        case "count_over_time" -> count;
                        case "sum_over_time" -> sum;
                        case "last_over_time" -> last;
                        default -> first;
                    };
                    assertThat(byTime).as(as).containsKey(at);
                    if (Double.isNaN(expected)) {
                        assertThat(byTime.get(at)).as(as).isNaN();
                    } else {
                        assertThat(byTime.get(at)).as(as).isCloseTo(expected, within(1e-6));
                    }
                }
            }
        }
    }

    /**
     * A long range query is evaluated in runs of steps at once, each with its own evaluator: the answer is the one a
     * single run gives, whatever the expression keeps between steps (windows, subqueries, groups, duplicate checks).
     */
    @Test
    void aRangeQueryEvaluatedInRunsAtOnceAnswersAsOneRunDoes() {
        InMemorySampleSource src = data();
        int n = 720;
        double[] counter = new double[2 * n];
        for (int i = 0; i < n; i++) {
            counter[2 * i] = i * 15;
            // resets at 1 h, goes stale at 2 h for 5 minutes
            counter[2 * i + 1] = i >= 480 && i < 500 ? STALE : i % 240 == 239 ? 0 : i % 240 * 3.5;
        }
        src.add(series("long_total{job=\"l\"}", counter));
        PromqlEngine one = new PromqlEngine(src, LIMITS, null, 1);
        PromqlEngine three = new PromqlEngine(src, LIMITS, null, 3);
        String[] exprs = {"rate(long_total[1m])", "sum by (job) (increase({__name__=~\"long_total|reqs_total\"}[5m]))",
            "long_total", "time()", "long_total offset 30m", "long_total @ 3600", "topk(1, long_total or gauge)",
            "max_over_time(long_total[10m:1m])", "deriv(long_total[10m])", "count_values(\"v\", long_total > 800)",
            "absent(nope)", "long_total > bool 400", "vector(1) + on() group_left() long_total"};
        long[][] ranges = {{0, 10_800_000, 15_000}, {0, 10_800_000, 30_000}, {5_000, 7_205_000, 60_000}};
        for (String expr : exprs) {
            for (long[] r : ranges) {
                assertThat(three.range("t", expr, r[0], r[1], r[2]).block())
                        .as("%s over [%d, %d] at %d", expr, r[0], r[1], r[2])
                        .isEqualTo(one.range("t", expr, r[0], r[1], r[2]).block());
            }
        }
        // a failure in a later run fails the query: two series with the same labels once rate drops the name
        src.add(series("long_copy{job=\"l\"}", Arrays.copyOfRange(counter, 2 * 600, 2 * n)));
        assertThatThrownBy(() -> three.range("t", "rate({__name__=~\"long_total|long_copy\"}[1m])", 0, 10_800_000,
                15_000).block()).isInstanceOf(PromqlException.class)
                .hasMessage("vector cannot contain metrics with the same labelset");
    }

    @Test
    void upperIndexFromAHintIsTheBinarySearchsAnswer() {
        java.util.Random random = new java.util.Random(20261201);
        for (int round = 0; round < 2_000; round++) {
            long[] ts = new long[random.nextInt(60)];
            long t = random.nextInt(100);
            for (int i = 0; i < ts.length; i++) {
                t += 1 + random.nextInt(round % 2 == 0 ? 3 : 100);
                ts[i] = t;
            }
            int hint = -1;
            long at = -50;
            for (int q = 0; q < 40; q++) {
                // mostly forward by a little or a lot, sometimes back
                at += random.nextInt(10) == 0 ? -random.nextInt(500) : random.nextInt(random.nextBoolean() ? 20 : 2_000);
                int expected = PromqlEvaluator.upperIndex(ts, at);
                int got = PromqlEvaluator.upperIndex(ts, at, hint);
                assertThat(got).as("ts=%s t=%d hint=%d", java.util.Arrays.toString(ts), at, hint).isEqualTo(expected);
                hint = random.nextInt(8) == 0 ? -1 : got;
            }
        }
    }

    @Test
    void eachSelectorIsReadOnceOverTheWholeSpanItNeeds() {
        List<long[]> spans = new ArrayList<>();
        SampleSource recording = (tenant, matchers, from, to) -> {
            spans.add(new long[] {from, to});
            return source.select(tenant, matchers, from, to);
        };
        PromqlEngine e = new PromqlEngine(recording, LIMITS);
        PromqlResult r = e.range("t", "rate(reqs_total[2m]) + on(job) (reqs_total offset 1m) * 0", 600_000,
                900_000, 60_000).block();
        assertThat(((PromqlResult.Matrix) r).series()).isEmpty();
        // rate reads (600 - 120, 900]; the offset selector (600 - 60 - 300, 900 - 60]
        assertThat(spans).hasSize(1);
        assertThat(spans.get(0)).containsExactly(240_000, 900_000);
    }

    @Test
    void evaluationRunsOnTheParallelSchedulerNotOnTheThreadThatCompletesTheSource() {
        // a source that answers later, on a thread of its own, as the PostgreSQL driver does on its event loop
        reactor.core.scheduler.Scheduler driver = Schedulers.newSingle("driver-loop");
        try {
            SampleSource async = (tenant, matchers, from, to) -> source.select(tenant, matchers, from, to)
                    .delayElement(Duration.ofMillis(20), driver);
            PromqlEngine e = new PromqlEngine(async, LIMITS);
            String[] thread = new String[2];
            PromqlResult r = e.instant("t", "sum(cpu)", 0).doOnNext(x -> thread[0] = Thread.currentThread().getName())
                    .block();
            assertThat(((PromqlResult.Vector) r).samples()).hasSize(1);
            assertThat(thread[0]).startsWith("parallel-");
            e.range("t", "sum(cpu)", 0, 60_000, 15_000).doOnNext(x -> thread[1] = Thread.currentThread().getName())
                    .block();
            assertThat(thread[1]).startsWith("parallel-");
        } finally {
            driver.dispose();
        }
    }

    @Test
    void executionErrorsAsPrometheusWordsThem() {
        assertThatThrownBy(() -> engine.instant("t", "errs + on() totals", 0).block())
                .isInstanceOfSatisfying(PromqlException.class, e -> assertThat(e.errorType())
                        .isEqualTo(PromqlException.ErrorType.EXECUTION))
                .hasMessageStartingWith("found duplicate series for the match group {} on the right hand-side");
        assertThatThrownBy(() -> engine.instant("t", "{__name__=~\"errs|errs_copy\",job=\"a\"} + on(job) group_left totals", 0).block())
                .isInstanceOf(PromqlException.class)
                .hasMessage("multiple matches for labels: grouping labels must ensure unique matches");
        assertThatThrownBy(() -> engine.instant("t", "errs{job=\"a\"} + on() totals{job=\"a\"} "
                + "+ on() group_left totals", 0).block())
                .isInstanceOf(PromqlException.class).hasMessageStartingWith("found duplicate series");
        assertThatThrownBy(() -> engine.instant("t", "double_exponential_smoothing(over_time[4m], 1, 0.5)", 180_000)
                .block()).isInstanceOf(PromqlException.class)
                .hasMessage("invalid smoothing factor. Expected: 0 < sf < 1, got: 1.0");
        // byte escapes that are not UTF-8 make no valid label name; the message quotes it as Go does
        assertThatThrownBy(() -> engine.instant("t", "count_values(\"a\\xc5z\", errs)", 0).block())
                .isInstanceOf(PromqlException.class).hasMessage("invalid label name \"a\\xc5z\"");
        assertThatThrownBy(() -> engine.instant("t", "label_replace(errs, \"\\xff\", \"x\", \"job\", \".*\")", 0)
                .block()).isInstanceOf(PromqlException.class)
                .hasMessageStartingWith("invalid destination label name in label_replace()");
        assertThatThrownBy(() -> engine.instant("t", "abs({__name__=~\"errs|errs_copy\",job=\"a\"})", 0).block())
                .isInstanceOf(PromqlException.class)
                .hasMessage("vector cannot contain metrics with the same labelset");
    }

    @Test
    void badRequestsAndLimits() {
        assertThatThrownBy(() -> engine.range("t", "reqs_total[5m]", 0, 60_000, 60_000).block())
                .isInstanceOf(PromqlException.class)
                .hasMessage("invalid expression type \"range vector\" for range query, must be Scalar or instant Vector");
        assertThatThrownBy(() -> engine.range("t", "reqs_total", 60_000, 0, 60_000).block())
                .isInstanceOf(PromqlException.class).hasMessage("end timestamp must not be before start time");
        assertThatThrownBy(() -> engine.range("t", "reqs_total", 0, 60_000, 0).block())
                .isInstanceOf(PromqlException.class).hasMessageStartingWith("zero or negative query resolution step");
        PromqlEngine small = new PromqlEngine(source, new QueryConfig(10, 500, Duration.ofHours(1),
                Duration.ofSeconds(10), 0));
        // 0, 60, ..., 600 is 11 steps
        assertThat(small.range("t", "reqs_total", 0, 540_000, 60_000).block()).isNotNull();
        assertThatThrownBy(() -> small.range("t", "reqs_total", 0, 600_000, 60_000).block())
                .isInstanceOfSatisfying(PromqlException.class, e -> assertThat(e.errorType())
                        .isEqualTo(PromqlException.ErrorType.BAD_DATA))
                .hasMessageStartingWith("exceeded maximum resolution of 10 points per timeseries "
                        + "(query.max-points-per-series)");
        assertThatThrownBy(() -> small.range("t", "reqs_total", 0, 7_200_000, 3_600_000).block())
                .isInstanceOfSatisfying(QueryLimitException.class, e -> assertThat(e.code())
                        .isEqualTo("range_too_long"))
                .hasMessageContaining("query.max-range");
        assertThat(small.instant("t", "count_over_time(vector(1)[10m:1m])", 0).block()).isNotNull();
        assertThatThrownBy(() -> small.instant("t", "count_over_time(vector(1)[11m:1m])", 0).block())
                .isInstanceOf(PromqlException.class)
                .hasMessage("the subquery has 11 steps, more than query.max-points-per-series (10); use a larger step");
        assertThatThrownBy(() -> small.instant("t", "rate(reqs_total[2h])", 0).block())
                .isInstanceOf(QueryLimitException.class).hasMessageContaining("query.max-range");
    }

    /**
     * A range function over a range selector is evaluated series by series ({@link SeriesWise}): over random series
     * (counters with resets, NaN, runs of staleness markers, gaps, series that end and begin), every one-argument
     * range function, windows, steps, offsets and {@code @} give the step-by-step evaluation's answer, its error and
     * its sample budget's verdict, in one run or three.
     */
    @Test
    void aRangeFunctionEvaluatedSeriesBySeriesAnswersAsStepByStep() {
        String[] functions = {"rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
            "avg_over_time", "count_over_time", "last_over_time", "max_over_time", "min_over_time", "sum_over_time",
            "stddev_over_time", "stdvar_over_time", "present_over_time", "first_over_time", "mad_over_time",
            "ts_of_first_over_time", "ts_of_last_over_time", "ts_of_max_over_time", "ts_of_min_over_time"};
        java.util.Random random = new java.util.Random(20261203);
        int compared = 0;
        for (int round = 0; round < 60; round++) {
            InMemorySampleSource src = new InMemorySampleSource();
            int seriesCount = 1 + random.nextInt(12);
            for (int k = 0; k < seriesCount; k++) {
                int n = random.nextInt(400);
                long[] ts = new long[n];
                double[] vs = new double[n];
                long t = random.nextInt(3_600_000);
                double v = 0;
                for (int i = 0; i < n; i++) {
                    t += 1 + random.nextInt(random.nextInt(20) == 0 ? 900_000 : 30_000);
                    int kind = random.nextInt(25);
                    v = kind == 0 ? 0 : v + random.nextInt(100); // a reset now and then
                    ts[i] = t;
                    vs[i] = kind == 1 ? STALE : kind == 2 ? Double.NaN : kind == 3 ? -v : v;
                }
                src.add(new Series(labels("m_total{i=\"" + k + "\",g=\"" + k % 3 + "\"}"), ts, vs));
                if (k == 0 && round % 4 == 0) {
                    // another metric with the same labels: a function that drops the name makes duplicates where
                    // both have a value at a step, and one series of the two where their times never meet
                    int from = n == 0 ? 0 : random.nextInt(n);
                    long shift = round % 8 == 0 ? 0 : 7_200_000;
                    long[] later = Arrays.copyOfRange(ts, from, n);
                    for (int i = 0; i < later.length; i++) {
                        later[i] += shift;
                    }
                    src.add(new Series(labels("other_total{i=\"0\",g=\"0\"}"), later,
                            Arrays.copyOfRange(vs, from, n)));
                }
            }
            // a budget's verdict compared in one run (runs of steps take points per run), answers in up to three
            boolean budgeted = round % 5 == 0;
            QueryConfig limits = budgeted ? LIMITS.withMaxSamples(500 + random.nextInt(10_000)) : LIMITS;
            PromqlEngine stepwise = new PromqlEngine(src, limits, null, 1, false);
            PromqlEngine bySeries = new PromqlEngine(src, limits, null, budgeted ? 1 : 1 + random.nextInt(3), true);
            for (int q = 0; q < 12; q++) {
                String f = functions[random.nextInt(functions.length)];
                String selector = round % 4 == 0 ? "{__name__=~\"m_total|other_total\"}" : "m_total";
                String modifier = switch (random.nextInt(5)) {
                    case 0 -> " offset " + random.nextInt(600) + "s";
                    case 1 -> " @ " + random.nextInt(20_000);
                    case 2 -> " offset -" + random.nextInt(60) + "s";
                    default -> "";
                };
                String call = (q % 2 == 0 ? "" : "(") + f + "(" + selector + "[" + (1 + random.nextInt(1_200)) + "s]"
                        + modifier + ")" + (q % 2 == 0 ? "" : ")");
                // and aggregations over it: those folded series by series, and others (step by step either way)
                String[] around = {"%s", "%s", "sum(%s)", "sum by (g) (%s)", "avg without (i) (%s)", "min by (g) (%s)",
                    "max(%s)", "count by (g) (%s)", "group without (g) (%s)", "(sum by (g, i) ((%s)))",
                    "stddev by (g) (%s)", "topk(2, %s)", "avg by (__name__) (%s)"};
                String expr = around[random.nextInt(around.length)].replace("%s", call);
                long start = random.nextInt(3_600_000);
                long step = 1_000L * (1 + random.nextInt(50));
                long end = start + step * random.nextInt(1_500); // within query.max-range (a day)
                Object expected = outcome(() -> stepwise.range("t", expr, start, end, step).block());
                Object got = outcome(() -> bySeries.range("t", expr, start, end, step).block());
                assertThat(got).as("%s over [%d, %d] at %d (round %d)", expr, start, end, step, round)
                        .isEqualTo(expected);
                compared++;
            }
        }
        assertThat(compared).isEqualTo(720);

        // the same budget, to the sample: the least query.max-samples the step-by-step evaluation needs is the least
        // the series-by-series one needs (the samples read, and each answered series' points)
        InMemorySampleSource three = new InMemorySampleSource();
        for (int k = 0; k < 3; k++) {
            double[] counter = new double[2 * 100];
            for (int i = 0; i < 100; i++) {
                counter[2 * i] = i * 15;
                counter[2 * i + 1] = i * (k + 1);
            }
            three.add(series("m_total{i=\"" + k + "\"}", counter));
        }
        int needed = 1;
        while (true) {
            QueryConfig budget = LIMITS.withMaxSamples(needed);
            if (!(outcome(() -> new PromqlEngine(three, budget, null, 1, false)
                    .range("t", "rate(m_total[1m])", 0, 1_500_000, 30_000).block()) instanceof String)) {
                break;
            }
            needed++;
        }
        long least = needed;
        assertThat(least).as("300 samples read and 3 series of 50 points").isGreaterThan(300);
        assertThat(new PromqlEngine(three, LIMITS.withMaxSamples(least), null, 2, true)
                .range("t", "rate(m_total[1m])", 0, 1_500_000, 30_000).block()).isNotNull();
        assertThatThrownBy(() -> new PromqlEngine(three, LIMITS.withMaxSamples(least - 1), null, 2, true)
                .range("t", "rate(m_total[1m])", 0, 1_500_000, 30_000).block())
                .isInstanceOf(QueryLimitException.class);
        // series with a value at every step share their times
        List<Series> full = ((PromqlResult.Matrix) new PromqlEngine(three, LIMITS, null, 1, true)
                .range("t", "rate(m_total[1m])", 60_000, 1_470_000, 30_000).block()).series();
        assertThat(full).hasSize(3);
        assertThat(full.get(1).timestamps()).isSameAs(full.get(0).timestamps()).hasSize(48)
                .startsWith(60_000, 90_000).endsWith(1_470_000);
        assertThat(full.get(2).timestamps()).isSameAs(full.get(0).timestamps());
    }

    /**
     * A range query's runs of steps, evaluated at once, that fail answer with the error the steps one by one meet
     * (the first failing run's), whichever run reports first: never another run's error, nor a composite of them.
     */
    @Test
    void failingRunsAnswerWithTheErrorTheStepsOneByOneMeet() {
        // 2,000 steps at 1 s: runs [0, 666), [666, 1333) and [1333, 2000) s; the twins meet near each run's end
        InMemorySampleSource src = new InMemorySampleSource();
        double[] every15s = new double[2 * 134];
        for (int i = 0; i < 134; i++) {
            every15s[2 * i] = i * 15;
            every15s[2 * i + 1] = i;
        }
        src.add(series("m_total{i=\"0\",g=\"0\"}", every15s));
        src.add(series("other_total{i=\"0\",g=\"0\"}", 650, 1, 1320, 2, 1990, 3));
        String call = "avg_over_time({__name__=~\"m_total|other_total\"}[10s])";
        String twice = "vector cannot contain metrics with the same labelset";
        for (boolean seriesWise : new boolean[] {true, false}) {
            PromqlEngine engine = new PromqlEngine(src, LIMITS, null, 3, seriesWise);
            for (String expr : List.of(call, "avg without (i) (" + call + ")", "topk(1, " + call + ")")) {
                for (int attempt = 0; attempt < 40; attempt++) {
                    assertThatThrownBy(() -> engine.range("t", expr, 0, 1_999_000, 1_000).block())
                            .as("%s, series-wise %s", expr, seriesWise)
                            .isInstanceOf(PromqlException.class).hasMessage(twice);
                }
            }
        }
        // the second run meets another error early, the first meets the twins late: the steps one by one meet the
        // twins first (at 650 s), and so does every answer
        src.add(series("r{i=\"0\",k=\"a\"}", 700, 1));
        src.add(series("r{i=\"0\",k=\"b\"}", 700, 1));
        String joined = call + " + on(i) r";
        assertThatThrownBy(() -> new PromqlEngine(src, LIMITS, null, 1, false).range("t", joined, 0, 1_999_000,
                1_000).block()).hasMessage(twice);
        PromqlEngine threeRuns = new PromqlEngine(src, LIMITS, null, 3, true);
        for (int attempt = 0; attempt < 40; attempt++) {
            assertThatThrownBy(() -> threeRuns.range("t", joined, 0, 1_999_000, 1_000).block()).hasMessage(twice);
        }
    }

    /** A query's answer, or its failure's class and message (to compare two evaluations' verdicts). */
    private static Object outcome(java.util.function.Supplier<PromqlResult> query) {
        try {
            return query.get();
        } catch (RuntimeException e) {
            return e.getClass().getName() + ": " + e.getMessage();
        }
    }

    @Test
    void aQueryLoadsAtMostQueryMaxSamplesOverAllItsSelectorsAndItsAnswer() {
        PromqlEngine ten = new PromqlEngine(source, LIMITS.withMaxSamples(10));
        PromqlEngine nine = new PromqlEngine(source, LIMITS.withMaxSamples(9));
        // two selectors of one query share its budget: 5 samples each within the lookback of 240 s
        String both = "reqs_total + on() resets_total";
        assertThat(ten.instant("t", both, 240_000).block()).isNotNull();
        assertThat(ten.instant("t", both, 240_000).block()).as("each query has its own budget").isNotNull();
        assertThatThrownBy(() -> nine.instant("t", both, 240_000).block())
                .isInstanceOfSatisfying(QueryLimitException.class, e -> assertThat(e.code())
                        .isEqualTo("too_many_samples"))
                .hasMessageContaining("query.max-samples");
        // a range query's answer counts too: 5 samples read, and 5 points answered
        assertThat(ten.range("t", "reqs_total", 0, 240_000, 60_000).block()).isNotNull();
        assertThatThrownBy(() -> nine.range("t", "reqs_total", 0, 240_000, 60_000).block())
                .isInstanceOfSatisfying(QueryLimitException.class, e -> assertThat(e.code())
                        .isEqualTo("too_many_samples"));
        // nothing read, 10 points answered
        assertThat(ten.range("t", "vector(1)", 0, 540_000, 60_000).block()).isNotNull();
        assertThatThrownBy(() -> nine.range("t", "vector(1)", 0, 540_000, 60_000).block())
                .isInstanceOfSatisfying(QueryLimitException.class, e -> assertThat(e.code())
                        .isEqualTo("too_many_samples"));
    }

    @Test
    void errorsArriveThroughTheMonoNotAsThrows() {
        Mono<PromqlResult> bad = engine.instant("t", "rate(", 0);
        Mono<PromqlResult> unsupported = engine.instant("t", "histogram_avg(cpu)", 0);
        assertThatThrownBy(bad::block).isInstanceOf(PromqlException.class);
        assertThatThrownBy(unsupported::block).isInstanceOfSatisfying(UnsupportedPromqlException.class,
                e -> assertThat(e.feature()).isEqualTo("function histogram_avg"));
        assertThat(source.selects.get()).isZero();
    }

    @Test
    void evaluationEndsAtTheStatementTimeoutHoweverMuchWorkTheExpressionAsksFor() {
        PromqlEngine hasty = new PromqlEngine(source, new QueryConfig(11_000, 500, Duration.ofDays(1),
                Duration.ofMillis(200), 0));
        String long41 = "a".repeat(40) + "!";
        // nested subqueries: 8,640 steps each, three deep; a user's regex java.util.regex backtracks on for ages
        for (String expr : new String[] {
                "max_over_time(max_over_time(max_over_time(vector(1)[1d:10s])[1d:10s])[1d:10s])",
                "label_replace(label_replace(vector(1), \"src\", \"" + long41 + "\", \"\", \"\"), \"dst\", \"$1\", "
                        + "\"src\", \"(.*a){20}\")"}) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> hasty.instant("t", expr, 86_400_000L).block(Duration.ofSeconds(30)))
                    .as(expr).isInstanceOfSatisfying(io.sluice.storage.query.QueryException.class,
                            e -> assertThat(e.kind()).isEqualTo(io.sluice.storage.query.QueryException.Kind.TIMEOUT));
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as(expr).isLessThan(Duration.ofSeconds(10));
        }
    }

    @Test
    void aRangeQueryEndingNearTheLastRepresentableTimeDoesNotOverflowItsSteps() {
        long end = Long.MAX_VALUE - 1;
        PromqlResult r = engine.range("t", "vector(1)", end - 9_999, end, 3_000).block(Duration.ofSeconds(10));
        assertThat(((PromqlResult.Matrix) r).series()).singleElement()
                .satisfies(s -> assertThat(s.timestamps()).containsExactly(end - 9_999, end - 6_999, end - 3_999,
                        end - 999));
    }

}
