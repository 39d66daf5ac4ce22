package io.sluice.loadtest.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.frame.FrameDecoder;
import io.sluice.protocol.frame.FrameEncoder;
import io.sluice.protocol.frame.FrameLimits;
import io.sluice.protocol.frame.Hello;
import io.sluice.protocol.preface.Preface;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.RecordLimits;
import io.sluice.protocol.record.RecordsWriter;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.record.SeriesDictionary;
import io.sluice.protocol.segment.Segment;
import io.sluice.protocol.segment.SegmentWriter;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Encode and decode of a realistic batch: 1,000 samples over 20 series with 5 labels each, steady state
 * (the connection's dictionary already knows the series, as it does after the first batch).
 *
 * <p>Scores are samples per second on one thread ({@code @OperationsPerInvocation(1000)}). Bytes per
 * sample are printed once per fork. Run: {@code java -jar loadtest/target/benchmarks.jar ProtocolCodec -f 1 -wi 2 -i 3}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(ProtocolCodecBenchmark.SAMPLES)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ProtocolCodecBenchmark {

    static final int SAMPLES = 1000;
    static final int SERIES = 20;

    @Param({"false", "true"})
    public boolean lz4;

    /** Compress and decompress with the native LZ4, as the gateway does ({@code Lz4Blocks.useNative()}), or the Java one. */
    @Param({"false", "true"})
    public boolean nativeLz4;

    private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
    private Series[] series;
    private SeriesDictionary clientSeries;
    private ByteBuf frame;
    private ByteBuf segment;
    private EmbeddedChannel server;

    @Setup(Level.Trial)
    public void setUp() {
        if (nativeLz4 && !io.sluice.protocol.codec.Lz4Blocks.useNative()) {
            throw new IllegalStateException("no native LZ4 on this platform");
        }
        series = new Series[SERIES];
        for (int i = 0; i < SERIES; i++) {
            series[i] = Series.of("http.server.requests", "host", "web-" + (i % 5), "dc", "eu-west-1",
                    "method", i % 2 == 0 ? "GET" : "POST", "status", "2" + (i % 3) + "0", "route", "/api/v1/items/" + i);
        }
        clientSeries = new SeriesDictionary();
        server = new EmbeddedChannel(FrameDecoder.forServer(FrameLimits.DEFAULTS));
        ByteBuf hello = alloc.buffer();
        Preface.write(hello, Preface.CURRENT_VERSION);
        FrameEncoder.encode(new Hello(1, "bench", "key", Map.of()), hello);
        // The first batch defines the series on both sides; later ones refer to them by id.
        FrameEncoder.encode(Batch.outbound(0, records(), lz4), hello);
        server.writeInbound(hello);
        Object helloMsg = server.readInbound();
        if (!(helloMsg instanceof Hello)) {
            throw new IllegalStateException("expected HELLO, got " + helloMsg);
        }
        ((Batch) server.readInbound()).release();

        ByteBuf block = records();
        frame = alloc.buffer();
        FrameEncoder.encode(Batch.outbound(1, block, lz4), frame);
        block.release();
        try (SegmentWriter w = SegmentWriter.create(alloc, "acme", lz4)) {
            Batch b = decode();
            w.addBatch(b);
            b.release();
            segment = w.finish();
        }
        ByteBuf plain = records();
        System.out.printf("%n[sizes] lz4=%s: records block %.2f B/sample, BATCH frame %.2f B/sample, segment %.2f B/sample%n",
                lz4, plain.readableBytes() / (double) SAMPLES, frame.readableBytes() / (double) SAMPLES,
                segment.readableBytes() / (double) SAMPLES);
        plain.release();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        frame.release();
        segment.release();
        server.finishAndReleaseAll();
    }

    private ByteBuf records() {
        ByteBuf buf = alloc.buffer(16 * 1024);
        RecordsWriter w = new RecordsWriter(buf, clientSeries);
        long t = 1_700_000_000_000L;
        for (int i = 0; i < SAMPLES; i++) {
            w.addSample(series[i % SERIES], t + (i / SERIES) * 10_000L, 100.0 + (i * 37 % 1000) * 0.25);
        }
        w.finish();
        return buf;
    }

    private Batch decode() {
        server.writeInbound(frame.retainedDuplicate());
        return server.readInbound();
    }

    /** Agent side: encode 1,000 samples into a records block and a BATCH frame (LZ4 if the param says so). */
    @Benchmark
    public int encodeBatch() {
        ByteBuf block = records();
        ByteBuf out = alloc.directBuffer(block.readableBytes() + 64);
        FrameEncoder.encode(Batch.outbound(2, block, lz4), out);
        int n = out.readableBytes();
        block.release();
        out.release();
        return n;
    }

    /** Gateway side: frame decoder (decompress, validate every record) and a walk over the samples. */
    @Benchmark
    public double decodeBatch() {
        Batch b = decode();
        try {
            RecordCursor c = b.cursor();
            double sum = 0;
            while (c.next()) {
                sum += c.value() + c.timestampMs() + c.series().labelCount();
            }
            return sum;
        } finally {
            b.release();
        }
    }

    /** Gateway side: decoded wire batch to a Kafka segment value (re-mapped ids, own dictionary). */
    @Benchmark
    public int batchToSegment() {
        Batch b = decode();
        try (SegmentWriter w = SegmentWriter.create(alloc, "acme", false, 16 * 1024)) {
            w.addBatch(b);
            ByteBuf out = w.finish();
            int n = out.readableBytes();
            out.release();
            return n;
        } finally {
            b.release();
        }
    }

    /** Storage writer side: decode a segment and walk its samples. */
    @Benchmark
    public double decodeSegment() {
        try (Segment s = Segment.decode(segment, RecordLimits.DEFAULTS, alloc)) {
            RecordCursor c = s.cursor();
            double sum = 0;
            while (c.next()) {
                sum += c.value() + c.timestampMs() + c.series().labelCount();
            }
            return sum;
        }
    }
}
