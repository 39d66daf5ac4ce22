package io.sluice.loadtest.bench;

import io.sluice.storage.chunks.SampleChunks;
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

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Decoding packed sample chunks ({@link SampleChunks#decodeInto}), what every PromQL selector over raw samples does
 * with each chunk it reads: 100 compacted hours of one sample every 15 s (240 samples a chunk), as counters that
 * grow steadily (the suite's P4-promql data) or as gauges of random doubles.
 *
 * <p>Scores are samples per second on one thread. Run:
 * {@code java -jar loadtest/target/benchmarks.jar ChunkDecodeBenchmark -f 1 -wi 3 -i 5}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(ChunkDecodeBenchmark.CHUNKS * ChunkDecodeBenchmark.SAMPLES)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ChunkDecodeBenchmark {

    static final int CHUNKS = 100;
    static final int SAMPLES = 240;

    @Param({"counter", "gauge"})
    public String values;

    private byte[][] chunks;
    private final long[] timestamps = new long[SAMPLES];
    private final double[] decoded = new double[SAMPLES];

    @Setup
    public void setUp() {
        SplittableRandom random = new SplittableRandom(20261201);
        chunks = new byte[CHUNKS][];
        for (int c = 0; c < CHUNKS; c++) {
            long[] ts = new long[SAMPLES];
            double[] vs = new double[SAMPLES];
            double rate = 1 + c % 10;
            for (int i = 0; i < SAMPLES; i++) {
                ts[i] = 1_764_547_207_000L + c * 3_600_000L + i * 15_000L;
                vs[i] = values.equals("counter") ? (c * SAMPLES + i + 1) * rate * 15 : random.nextDouble() * 100;
            }
            chunks[c] = SampleChunks.pack(ts, vs, 0, SAMPLES);
        }
    }

    @Benchmark
    public double decode() {
        double sum = 0;
        for (byte[] chunk : chunks) {
            SampleChunks.decodeInto(chunk, timestamps, decoded, 0);
            sum += decoded[SAMPLES - 1] + timestamps[SAMPLES - 1];
        }
        return sum;
    }
}
