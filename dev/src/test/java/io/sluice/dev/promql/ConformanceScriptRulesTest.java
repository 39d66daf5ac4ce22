package io.sluice.dev.promql;

import io.sluice.config.SluiceConfig;
import io.sluice.dev.promql.Script.Eval;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.promql.Series;
import io.sluice.storage.query.Matcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** The runner's rules that need no infrastructure: result comparison, the histogram rule, the command's arguments. */
class ConformanceScriptRulesTest {

    private static SortedMap<String, String> labels(String... kv) {
        SortedMap<String, String> m = new TreeMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    private static Eval eval(String script) {
        return (Eval) ScriptParser.parse("t", script).commands().get(0);
    }

    @Test
    void comparesWithPrometheusTolerance() {
        assertThat(ResultCheck.almostEqual(Double.NaN, Double.longBitsToDouble(Series.STALE_NAN_BITS))).isTrue();
        assertThat(ResultCheck.almostEqual(1.0, 1.0 + 1e-9)).isTrue();
        assertThat(ResultCheck.almostEqual(1.0, 1.0001)).isFalse();
        assertThat(ResultCheck.almostEqual(0.0, 1e-300)).isFalse();
        assertThat(ResultCheck.almostEqual(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY)).isTrue();
        assertThat(ResultCheck.almostEqual(Double.POSITIVE_INFINITY, Double.NaN)).isFalse();
    }

    @Test
    void vectorsMatchAsSetsUnlessOrdered() {
        Eval unordered = eval("eval instant at 1m x\n  x{a=\"1\"} 1\n  x{a=\"2\"} 2\n");
        PromqlResult.Vector swapped = new PromqlResult.Vector(List.of(
                new PromqlResult.Sample(labels("__name__", "x", "a", "2"), 60_000, 2),
                new PromqlResult.Sample(labels("__name__", "x", "a", "1"), 60_000, 1)));
        assertThat(ResultCheck.mismatch(unordered, swapped)).isNull();
        Eval ordered = eval("eval_ordered instant at 1m x\n  x{a=\"1\"} 1\n  x{a=\"2\"} 2\n");
        assertThat(ResultCheck.mismatch(ordered, swapped)).contains("position");
        PromqlResult.Vector missing = new PromqlResult.Vector(List.of(swapped.samples().get(0)));
        assertThat(ResultCheck.mismatch(unordered, missing)).contains("not in the result");
        assertThat(ResultCheck.mismatch(unordered, new PromqlResult.Scalar(60_000, 1))).contains("got a scalar");
    }

    @Test
    void matricesNeedAPointAtEveryListedStepAndNoneAtOmittedOnes() {
        Eval range = eval("eval range from 0 to 2m step 1m x\n  x _ 1 2\n");
        SortedMap<String, String> x = labels("__name__", "x");
        assertThat(ResultCheck.mismatch(range, new PromqlResult.Matrix(List.of(
                new Series(x, new long[] {60_000, 120_000}, new double[] {1, 2}))))).isNull();
        assertThat(ResultCheck.mismatch(range, new PromqlResult.Matrix(List.of(
                new Series(x, new long[] {0, 60_000, 120_000}, new double[] {0, 1, 2}))))).contains("expected 2 points");
        assertThat(ResultCheck.mismatch(range, new PromqlResult.Matrix(List.of(
                new Series(x, new long[] {0, 120_000}, new double[] {1, 2}))))).contains("at 60000 ms");
    }

    @Test
    void histogramRuleMatchesSelectorsAgainstHistogramSeries() {
        List<SortedMap<String, String>> histograms = List.of(labels("__name__", "data_histogram", "type", "h"));
        assertThat(ConformanceRunner.selectsAny(List.of(List.of(new Matcher("__name__", Matcher.Op.REGEX,
                "data(_histogram|_sparse)?"))), histograms)).isTrue();
        assertThat(ConformanceRunner.selectsAny(List.of(List.of(new Matcher("__name__", Matcher.Op.EQ, "data"))),
                histograms)).isFalse();
        assertThat(ConformanceRunner.selectsAny(List.of(List.of(new Matcher("type", Matcher.Op.NOT_REGEX, "h|x"),
                new Matcher("__name__", Matcher.Op.EQ, "data_histogram"))), histograms)).isFalse();
        assertThat(ConformanceRunner.selectsAny(List.of(List.of(new Matcher("missing", Matcher.Op.EQ, ""))),
                histograms)).isTrue();
    }

    @Test
    void commandRefusesWhatItCannotRun(@TempDir Path empty) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream errs = new PrintStream(err, true, StandardCharsets.UTF_8);
        PrintStream out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        assertThat(ConformanceCommand.run(List.of(empty.resolve("nope").toString()), SluiceConfig.defaults(), out,
                errs)).isEqualTo(2);
        assertThat(ConformanceCommand.run(List.of(empty.toString()), SluiceConfig.defaults(), out, errs)).isEqualTo(2);
        assertThat(ConformanceCommand.run(List.of("--fast"), SluiceConfig.defaults(), out, errs)).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("is not a directory", "no *.test file in",
                "unexpected option --fast");
    }
}
