package io.sluice.storage.promql;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.sluice.config.QueryConfig;
import io.sluice.storage.query.QueryLimitException;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the PromQL parser and engine with any expression text (what {@code /prometheus/api/v1/query} takes from a
 * request): it parses, or is refused with a {@link PromqlException} ({@link UnsupportedPromqlException} included);
 * what parses has a cache footprint and evaluates, as an instant and as a range query over a little fixed data, to a
 * result or to a {@link PromqlException} or {@link QueryLimitException}; nothing else may escape (no other exception,
 * no stack overflow: the tree's depth is bounded). In a plain build this replays the seeds under
 * {@code PromqlFuzzTestInputs/}; {@code JAZZER_FUZZ=1} fuzzes.
 */
class PromqlFuzzTest {

    private static final QueryConfig LIMITS = new QueryConfig(1_000, 100, Duration.ofDays(1), Duration.ofSeconds(10),
            0);
    private static final PromqlEngine ENGINE = new PromqlEngine(data(), LIMITS);

    private static InMemorySampleSource data() {
        InMemorySampleSource source = new InMemorySampleSource();
        for (String job : new String[] {"a", "b"}) {
            TreeMap<String, String> labels = new TreeMap<>();
            labels.put("__name__", "up");
            labels.put("job", job);
            source.add(new Series(Series.sorted(labels), new long[] {0, 60_000, 120_000}, new double[] {1, 0, 1}));
            labels.put("__name__", "req_bucket");
            labels.put("le", job.equals("a") ? "0.5" : "+Inf");
            source.add(new Series(Series.sorted(labels), new long[] {0, 60_000}, new double[] {3, 9}));
        }
        return source;
    }

    @FuzzTest(maxDuration = "5m")
    void parseAndEvaluate(byte[] input) {
        String expr = new String(input, StandardCharsets.UTF_8);
        try {
            PromqlEngine.footprint(PromqlQuery.instant("t", expr, 60_000));
        } catch (PromqlException refused) {
            assertThat(refused.getMessage()).isNotBlank();
            return;
        }
        evaluate(PromqlQuery.instant("t", expr, 60_000));
        evaluate(PromqlQuery.range("t", expr, 0, 180_000, 30_000));
    }

    private static void evaluate(PromqlQuery query) {
        try {
            PromqlResult result = ENGINE.evaluate(query).block(Duration.ofSeconds(10));
            assertThat(result).isNotNull();
            if (!query.isInstant()) {
                assertThat(result).isInstanceOf(PromqlResult.Matrix.class);
            }
        } catch (PromqlException | QueryLimitException refused) {
            assertThat(refused.getMessage()).isNotBlank();
        }
    }
}
