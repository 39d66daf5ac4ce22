package io.sluice.dev.promql;

import io.sluice.dev.promql.Script.Clear;
import io.sluice.dev.promql.Script.Eval;
import io.sluice.dev.promql.Script.ExpectedSeries;
import io.sluice.dev.promql.Script.Load;
import io.sluice.dev.promql.Script.LoadedSeries;
import io.sluice.dev.promql.Script.ScalarValue;
import io.sluice.dev.promql.Script.SeriesList;
import io.sluice.dev.promql.Script.StringValue;
import io.sluice.storage.promql.Series;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The script format, directive by directive, and every line of the bundled Prometheus scripts. */
class ScriptParserTest {

    private static List<Double> values(String text) {
        return ScriptParser.values(text, 1);
    }

    @Test
    void expandsValueSequences() {
        assertThat(values("0+10x3")).containsExactly(0.0, 10.0, 20.0, 30.0);
        assertThat(values("5-1x3")).containsExactly(5.0, 4.0, 3.0, 2.0);
        assertThat(values("-2+1x2")).containsExactly(-2.0, -1.0, 0.0);
        assertThat(values("7x2")).containsExactly(7.0, 7.0, 7.0);
        assertThat(values("1 _ 2 _x3 3")).containsExactly(1.0, null, 2.0, null, null, null, 3.0);
        // added step by step, as Prometheus does: 0.1 + 0.1 + 0.1 is not 0.3 in doubles
        assertThat(values("0.1+0.1x2").get(2)).isEqualTo(0.1 + 0.1 + 0.1);
        assertThat(values("")).isEmpty();
    }

    @Test
    void readsNumbersAsGoDoes() {
        assertThat(values("Inf +Inf -Inf inf -inF NaN nan 010 1e3 1E+3 -2.5e-1 .5 2. 12"))
                .containsExactly(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
                        Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN, Double.NaN, 8.0, 1000.0,
                        1000.0, -0.25, 0.5, 2.0, 12.0);
        // a scalar result line is a number as Go reads one, hex included
        assertThat(ScriptParser.number("0x1F", 1)).isEqualTo(31.0);
        assertThat(ScriptParser.number("-0x10", 1)).isEqualTo(-16.0);
    }

    /** In a series' values x always means "times": functions.test's {@code 0x59} is sixty zeros, not 89. */
    @Test
    void xAfterZeroRepeatsInValues() {
        assertThat(values("0x3 60")).containsExactly(0.0, 0.0, 0.0, 0.0, 60.0);
        assertThat(values("0x59")).hasSize(60).containsOnly(0.0);
    }

    @Test
    void staleIsPrometheusStalenessMarker() {
        List<Double> v = values("1 stale 2");
        assertThat(Double.doubleToRawLongBits(v.get(1))).isEqualTo(Series.STALE_NAN_BITS);
        assertThat(Series.isStale(v.get(0))).isFalse();
        assertThat(Series.isStale(Double.NaN)).isFalse();
    }

    @Test
    void refusesValuesItCannotRead() {
        assertThatThrownBy(() -> values("1 two")).hasMessageContaining("invalid value 'two'");
        assertThatThrownBy(() -> values("1+x3")).hasMessageContaining("invalid value");
        assertThatThrownBy(() -> values("_+1x3")).hasMessageContaining("invalid value");
    }

    @Test
    void readsDurations() {
        assertThat(ScriptParser.duration("0", 1)).isZero();
        assertThat(ScriptParser.duration("50m", 1)).isEqualTo(3_000_000);
        assertThat(ScriptParser.duration("15m1s", 1)).isEqualTo(901_000);
        assertThat(ScriptParser.duration("10s53ms", 1)).isEqualTo(10_053);
        assertThat(ScriptParser.duration("1d2h", 1)).isEqualTo(93_600_000);
        assertThatThrownBy(() -> ScriptParser.duration("1s1m", 1)).hasMessageContaining("invalid duration");
        assertThatThrownBy(() -> ScriptParser.duration("5", 1)).hasMessageContaining("invalid duration");
    }

    @Test
    void loadBlocksGivePointsEveryIntervalFromZero() {
        Script script = ScriptParser.parse("t", """
                load 5m
                  http_requests{job="api", instance="0"} 0+10x2
                  other 1 _ 3
                  {__name__="quoted", a='x'} 4
                  hist{a="b"} {{schema:0 sum:1 count:1}} 2

                load_with_nhcb 1m
                  h_bucket{le="+Inf"} 1
                """);
        assertThat(script.errors()).isEmpty();
        Load load = (Load) script.commands().get(0);
        assertThat(load.line()).isEqualTo(1);
        assertThat(load.intervalMs()).isEqualTo(300_000);
        assertThat(load.nativeHistograms()).isFalse();
        LoadedSeries requests = load.series().get(0);
        assertThat(requests.labels()).isEqualTo(new TreeMap<>(Map.of("__name__", "http_requests", "job", "api",
                "instance", "0")));
        assertThat(requests.timestamps()).containsExactly(0, 300_000, 600_000);
        assertThat(requests.values()).containsExactly(0, 10, 20);
        LoadedSeries other = load.series().get(1);
        assertThat(other.timestamps()).containsExactly(0, 600_000);
        assertThat(other.values()).containsExactly(1, 3);
        assertThat(load.series().get(2).labels()).isEqualTo(Map.of("__name__", "quoted", "a", "x"));
        LoadedSeries hist = load.series().get(3);
        assertThat(hist.histogram()).isTrue();
        assertThat(hist.timestamps()).isEmpty();
        assertThat(((Load) script.commands().get(1)).nativeHistograms()).isTrue();
    }

    /** aggregators.test gives data{test="inf3",point="d"} twice; Prometheus keeps the last line (avg is then NaN). */
    @Test
    void aSeriesGivenTwiceInOneBlockKeepsItsLastLine() {
        Script script = ScriptParser.parse("t", """
                load 10s
                  data{point="d"} Inf
                  data{point="c"} 1
                  data{point="d"} -Inf 2
                """);
        List<LoadedSeries> series = ((Load) script.commands().get(0)).series();
        assertThat(series).hasSize(2);
        assertThat(series.get(0).labels()).containsEntry("point", "c");
        assertThat(series.get(1).line()).isEqualTo(4);
        assertThat(series.get(1).values()).containsExactly(Double.NEGATIVE_INFINITY, 2.0);
    }

    @Test
    void evalInstantWithSeriesScalarStringAndEmptyResults() {
        Script script = ScriptParser.parse("t", """
                # a comment
                eval instant at 50m sum by (job) (x)
                  {job="a"} 3
                  x{job="b"} NaN

                eval instant at 1m 1 + 1
                  2

                eval instant at 0 "Foo"
                  expect string `Foo`

                eval instant at 10s absent(x)

                clear
                load 1m
                  x 1
                """);
        assertThat(script.errors()).isEmpty();
        Eval sum = (Eval) script.commands().get(0);
        assertThat(sum.line()).isEqualTo(2);
        assertThat(sum.range()).isFalse();
        assertThat(sum.startMs()).isEqualTo(3_000_000);
        assertThat(sum.expr()).isEqualTo("sum by (job) (x)");
        List<ExpectedSeries> series = ((SeriesList) sum.expectation().result()).series();
        assertThat(series).hasSize(2);
        assertThat(series.get(0).labels()).isEqualTo(Map.of("job", "a"));
        assertThat(series.get(0).values()).containsExactly(3.0);
        assertThat(series.get(1).labels()).isEqualTo(Map.of("__name__", "x", "job", "b"));
        assertThat(series.get(1).position()).isEqualTo(2);
        assertThat(((ScalarValue) ((Eval) script.commands().get(1)).expectation().result()).value()).isEqualTo(2.0);
        assertThat(((StringValue) ((Eval) script.commands().get(2)).expectation().result()).value()).isEqualTo("Foo");
        assertThat(((SeriesList) ((Eval) script.commands().get(3)).expectation().result()).series()).isEmpty();
        assertThat(script.commands().get(4)).isInstanceOf(Clear.class);
    }

    @Test
    void evalRangeWithMissingSteps() {
        Script script = ScriptParser.parse("t", """
                eval range from 0 to 20m step 5m rate(x[5m])
                  {} _ 1 1+1x2
                """);
        assertThat(script.errors()).isEmpty();
        Eval eval = (Eval) script.commands().get(0);
        assertThat(eval.range()).isTrue();
        assertThat(new long[] {eval.startMs(), eval.endMs(), eval.stepMs()}).containsExactly(0, 1_200_000, 300_000);
        assertThat(((SeriesList) eval.expectation().result()).series().get(0).values())
                .containsExactly(null, 1.0, 1.0, 2.0, 3.0);
    }

    @Test
    void expectations() {
        Script script = ScriptParser.parse("t", """
                eval instant at 1m foo(x)
                  expect fail msg: bad thing

                eval instant at 1m bar(x)
                  expect fail regex: bad .*

                eval_fail instant at 1m baz(x)

                eval instant at 1m sort(x)
                  expect ordered
                  expect no_warn
                  expect no_info
                  x{a="1"} 1
                  x{a="2"} 2

                eval_ordered instant at 1m sort(x)
                  x{a="1"} 1

                eval instant at 1m quantile(2, x)
                  expect warn msg: PromQL warning: quantile value should be between 0 and 1
                  expect info
                  {} +Inf

                eval_warn range from 0 to 1m step 1m x

                eval_info instant at 1m x
                """);
        assertThat(script.errors()).isEmpty();
        List<Eval> evals = script.commands().stream().map(Eval.class::cast).toList();
        assertThat(evals.get(0).expectation().fail()).isTrue();
        assertThat(evals.get(0).expectation().failMessage()).isEqualTo("msg: bad thing");
        assertThat(evals.get(0).expectation().result()).isNull();
        assertThat(evals.get(1).expectation().failMessage()).isEqualTo("regex: bad .*");
        assertThat(evals.get(2).expectation().fail()).isTrue();
        assertThat(evals.get(3).expectation().ordered()).isTrue();
        assertThat(evals.get(3).expectation().annotations()).containsExactly("no_warn", "no_info");
        assertThat(evals.get(4).expectation().ordered()).isTrue();
        assertThat(evals.get(5).expectation().annotations()).hasSize(2);
        assertThat(evals.get(5).expectation().fail()).isFalse();
        assertThat(evals.get(6).range()).isTrue();
        assertThat(evals.get(6).expectation().annotations()).containsExactly("warn");
        assertThat(evals.get(7).expectation().annotations()).containsExactly("info");
    }

    @Test
    void aHistogramInTheExpectedResultMarksTheEval() {
        Script script = ScriptParser.parse("t", """
                eval instant at 1m h
                  {} {{schema:0 sum:1 count:1}}
                """);
        assertThat(((Eval) script.commands().get(0)).expectation().histogram()).isTrue();
    }

    @Test
    void reportsEveryLineItCannotRead() {
        Script script = ScriptParser.parse("t", """
                lod 5m
                  x 1

                load 5m
                  x 1 two

                eval instant at 1m x
                  expect sorted

                eval instant at 1m x
                  {} 1 2

                eval instant at 1m x
                  expect fail
                  {} 1

                eval range from 0 to 1m step 0 x

                eval instant at 1m x
                  x{a="1" 1

                eval instant at 1m x
                  {} 1
                """);
        assertThat(script.errors()).extracting(Script.ScriptError::line).containsExactly(1, 5, 8, 11, 13, 17, 20);
        assertThat(script.errors().get(0).message()).contains("invalid command");
        assertThat(script.errors().get(2).message()).contains("unknown expectation");
        assertThat(script.commands()).hasSize(1); // only the last eval is whole
        assertThat(script.commands().get(0).line()).isEqualTo(22);
    }

    /** Every line of the six bundled scripts is understood, and they hold the 878 evals. */
    @Test
    void readsEveryBundledScript() throws IOException {
        int evals = 0;
        for (String file : ConformanceFiles.BUNDLED) {
            Script script = ConformanceFiles.bundled(file);
            assertThat(script.errors()).as(file).isEmpty();
            evals += (int) script.commands().stream().filter(c -> c instanceof Eval).count();
            for (Script.Command c : script.commands()) {
                if (c instanceof Load load) {
                    for (LoadedSeries s : load.series()) {
                        assertThat(s.labels()).as(file + " line " + s.line()).containsKey("__name__");
                    }
                }
            }
        }
        assertThat(evals).isEqualTo(878);
    }

    @Test
    void bundledStalenessScriptHasItsMarker() throws IOException {
        Load load = (Load) ConformanceFiles.bundled("staleness.test").commands().get(0);
        double[] values = load.series().get(0).values();
        assertThat(Arrays.stream(values).filter(Series::isStale).count()).isEqualTo(1);
    }
}
