package io.sluice.dev.promql;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.dev.promql.ConformanceRunner.FileReport;
import io.sluice.storage.promql.Series;
import io.sluice.storage.query.Matcher;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.StoredSamples;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Prometheus' own PromQL engine scripts (bundled) against Sluice: data through Kafka and the storage writer into
 * PostgreSQL, evals through the PromQL engine over the stored samples. Every eval inside Sluice's subset must pass.
 */
@RealInfrastructure
class PromqlConformanceTest {

    private static PromqlConformance conformance;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        conformance = PromqlConformance.start(infra.config(), new SimpleMeterRegistry());
    }

    @AfterAll
    static void stop() {
        if (conformance != null) {
            conformance.close();
        }
    }

    @Test
    void everyInSubsetEvalOfTheBundledScriptsPasses() {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        List<FileReport> reports;
        try (PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8)) {
            reports = conformance.run(ConformanceFiles.bundled(), out);
        }
        String report = printed.toString(StandardCharsets.UTF_8);
        System.out.print(report);
        assertThat(reports).hasSize(ConformanceFiles.BUNDLED.size());
        int evals = 0;
        for (FileReport r : reports) {
            assertThat(r.errors()).as(report).isEmpty();
            assertThat(r.failures()).as(report).isEmpty();
            evals += r.passed() + r.failures().size() + r.unsupportedCount();
        }
        assertThat(evals).isEqualTo(878);
        assertThat(report).contains("literals.test: passed ", "total: passed ");
    }

    /**
     * The runner is not vacuous: a wrong expectation fails, an expected failure passes, a wrong answer over series
     * loaded with native histograms is unsupported (Sluice stored none of their points).
     */
    @Test
    void reportsWrongAnswersAndSetsHistogramsAside() {
        FileReport r = conformance.run(ScriptParser.parse("own.test", """
                load 1m
                  probe{a="1"} 1 2 3
                  hist{a="1"} {{schema:0 sum:1 count:1}}

                eval instant at 2m probe
                  probe{a="1"} 3

                eval instant at 2m probe
                  probe{a="1"} 4

                eval range from 0 to 2m step 1m probe
                  probe{a="1"} 1 2 3

                eval instant at 2m probe{
                  expect fail

                eval instant at 2m hist

                eval instant at 2m hist
                  hist{a="1"} 1

                eval instant at 2m count({a="1"})
                  {} 2
                """));
        assertThat(r.errors()).isEmpty();
        // the empty answer for hist is right on the data Sluice holds; the one that needs the histogram is not
        assertThat(r.passed()).isEqualTo(4);
        assertThat(r.passedOverHistograms()).isEqualTo(1);
        assertThat(r.failures()).hasSize(1);
        assertThat(r.failures().get(0).line()).isEqualTo(8);
        assertThat(r.failures().get(0).got()).contains("3.0");
        assertThat(r.unsupported()).isEqualTo(Map.of(ConformanceRunner.NATIVE_HISTOGRAMS, 2));
        assertThat(r.render()).startsWith("own.test: passed 4 / failed 1 / unsupported 2 (1 passed read series "
                        + "loaded with native histograms)\n")
                .contains("FAILED line 8: probe", "expected: {__name__=\"probe\", a=\"1\"} 4.0");
    }

    /** Data Sluice cannot store (a series without a metric name) fails the evals over it, until the next clear. */
    @Test
    void dataThatCannotBeStoredFailsItsEvals() {
        FileReport r = conformance.run(ScriptParser.parse("nameless.test", """
                load 1m
                  {a="1"} 1

                eval instant at 0 {a="1"}
                  {a="1"} 1

                clear
                load 1m
                  named 1

                eval instant at 0 named
                  named 1
                """));
        assertThat(r.passed()).isEqualTo(1);
        assertThat(r.failures()).hasSize(1);
        assertThat(r.failures().get(0).line()).isEqualTo(4);
        assertThat(r.failures().get(0).got()).contains("could not be stored", "without a metric name");
    }

    /**
     * Staleness markers keep their bits through the whole path: protocol encoding, Kafka, the writer's chunks, and
     * the stored sample source the engine reads.
     */
    @Test
    void staleMarkersAreStoredBitExact(TestInfrastructure infra) {
        Script script = ScriptParser.parse("stale.test", """
                load 10s
                  marker{k="v"} 0 1 stale 2 NaN
                """);
        Script.Load load = (Script.Load) script.commands().get(0);
        String tenant = "stale-bits-" + System.nanoTime();
        conformance.storage().load(tenant, load.series());

        List<StoredSamples.Sample> stored = StoredSamples.of(infra.connectionFactory(), tenant);
        assertThat(stored).extracting(StoredSamples.Sample::timestampMs).containsExactly(0L, 10_000L, 20_000L,
                30_000L, 40_000L);
        assertThat(Double.doubleToRawLongBits(stored.get(2).value())).isEqualTo(Series.STALE_NAN_BITS);
        assertThat(Series.isStale(stored.get(4).value())).as("a plain NaN stays a plain NaN").isFalse();
        assertThat(stored.get(4).value()).isNaN();

        List<Series> read = conformance.source().select(tenant, List.of(new Matcher("__name__", Matcher.Op.EQ,
                "marker")), 0, 40_000).block(Duration.ofSeconds(30));
        assertThat(read).hasSize(1);
        double[] values = read.get(0).values();
        assertThat(Double.doubleToRawLongBits(values[2])).isEqualTo(Series.STALE_NAN_BITS);
        assertThat(Series.isStale(values[4])).isFalse();
        assertThat(values[4]).isNaN();
    }
}
