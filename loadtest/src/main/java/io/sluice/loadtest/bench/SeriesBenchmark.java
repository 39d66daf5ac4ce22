package io.sluice.loadtest.bench;

import io.sluice.protocol.record.Series;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.TimeUnit;

/**
 * {@code Series.of}, which every text and protobuf ingest format (JSON, remote_write, line protocol, OTLP) calls
 * once per series it decodes: 1,000 series of 5 labels as the suite's HTTP ingest bodies hold them, labels given
 * sorted (as Prometheus sends them) or reversed.
 *
 * <p>Scores are series per second on one thread. Run:
 * {@code java -jar loadtest/target/benchmarks.jar SeriesBenchmark -f 1 -wi 3 -i 5}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(SeriesBenchmark.SERIES)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class SeriesBenchmark {

    static final int SERIES = 1000;

    @Param({"true", "false"})
    public boolean sorted;

    private String[][] labels;

    @Setup
    public void setUp() {
        labels = new String[SERIES][];
        for (int s = 0; s < SERIES; s++) {
            String[] kv = {"dc", "eu-" + s % 3, "env", "prod", "host", "web-" + s, "job", "api", "service", "checkout"};
            if (!sorted) {
                for (int i = 0, j = kv.length - 2; i < j; i += 2, j -= 2) {
                    String k = kv[i];
                    String v = kv[i + 1];
                    kv[i] = kv[j];
                    kv[i + 1] = kv[j + 1];
                    kv[j] = k;
                    kv[j + 1] = v;
                }
            }
            labels[s] = kv;
        }
    }

    @Benchmark
    public void seriesOf(Blackhole out) {
        for (String[] kv : labels) {
            out.consume(Series.of("bench_requests_total", kv));
        }
    }
}
