package io.sluice.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.frame.FrameDecoder;
import io.sluice.protocol.frame.FrameEncoder;
import io.sluice.protocol.frame.FrameLimits;
import io.sluice.protocol.frame.Hello;
import io.sluice.protocol.frame.ProtocolMessage;
import io.sluice.protocol.preface.Preface;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.RecordsWriter;
import io.sluice.protocol.record.Series;
import io.sluice.protocol.record.SeriesDictionary;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Test helpers: encode messages to bytes and decode bytes with the real decoder in an EmbeddedChannel. */
public final class TestFrames {

    public static final Hello HELLO = new Hello(1, "agent-1", "key-123", Map.of("agent.version", "1.0"));

    private TestFrames() {
    }

    /** The frame bytes of {@code msg}, as a byte array (releases a Batch). */
    public static byte[] encode(ProtocolMessage msg) {
        ByteBuf out = Unpooled.buffer();
        try {
            FrameEncoder.encode(msg, out);
            return ByteBufUtil.getBytes(out);
        } finally {
            out.release();
            if (msg instanceof Batch b) {
                b.release();
            }
        }
    }

    public static byte[] preface() {
        ByteBuf b = Preface.encode(Preface.CURRENT_VERSION);
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    /** Concatenates byte arrays. */
    public static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int i = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, i, p.length);
            i += p.length;
        }
        return out;
    }

    /** Feeds {@code bytes} to a server-side decoder and returns what it emitted (the caller releases Batches). */
    public static List<Object> decodeAsServer(byte[] bytes) {
        return decode(FrameDecoder.forServer(FrameLimits.DEFAULTS), bytes);
    }

    /** Feeds {@code bytes} to a client-side decoder. */
    public static List<Object> decodeAsClient(byte[] bytes) {
        return decode(FrameDecoder.forClient(FrameLimits.DEFAULTS), bytes);
    }

    private static List<Object> decode(FrameDecoder decoder, byte[] bytes) {
        EmbeddedChannel ch = new EmbeddedChannel(decoder);
        ch.writeInbound(Unpooled.wrappedBuffer(bytes));
        List<Object> out = new ArrayList<>();
        Object m;
        while ((m = ch.readInbound()) != null) {
            out.add(m);
        }
        ch.finishAndReleaseAll();
        return out;
    }

    /** A records block with the fixed test content, defining series in {@code dictionary}. */
    public static ByteBuf records(SeriesDictionary dictionary) {
        ByteBuf buf = Unpooled.buffer();
        RecordsWriter w = new RecordsWriter(buf, dictionary);
        Series cpu = Series.of("cpu.usage", "host", "web-1", "dc", "eu-1");
        Series mem = Series.of("mem.free", "host", "web-1");
        w.addSample(cpu, 1_700_000_000_000L, 0.25);
        w.addSample(mem, 1_700_000_000_000L, 1024.0);
        w.addSample(cpu, 1_700_000_001_000L, 0.5);
        w.addSample(cpu, 1_699_999_999_000L, -1.5);
        w.addEvent(new Event("evt-1", "deploy", 1_700_000_002_000L, "web-1", Map.of("version", "2.3")));
        w.finish();
        return buf;
    }

    /** Writes the same fixed content as {@link #records} into a segment. */
    public static void fill(io.sluice.protocol.segment.SegmentWriter w) {
        Series cpu = Series.of("cpu.usage", "host", "web-1", "dc", "eu-1");
        Series mem = Series.of("mem.free", "host", "web-1");
        w.addSample(cpu, 1_700_000_000_000L, 0.25);
        w.addSample(mem, 1_700_000_000_000L, 1024.0);
        w.addSample(cpu, 1_700_000_001_000L, 0.5);
        w.addSample(cpu, 1_699_999_999_000L, -1.5);
        w.addEvent(new Event("evt-1", "deploy", 1_700_000_002_000L, "web-1", Map.of("version", "2.3")));
    }

    /** A realistic block: {@code samples} samples over {@code seriesCount} series with 5 labels each. */
    public static ByteBuf realisticRecords(SeriesDictionary dictionary, int samples, int seriesCount) {
        Series[] series = realisticSeries(seriesCount);
        ByteBuf buf = Unpooled.buffer();
        RecordsWriter w = new RecordsWriter(buf, dictionary);
        long t = 1_700_000_000_000L;
        for (int i = 0; i < samples; i++) {
            w.addSample(series[i % seriesCount], t + (i / seriesCount) * 1000L, i * 0.5);
        }
        w.finish();
        return buf;
    }

    public static Series[] realisticSeries(int n) {
        Series[] s = new Series[n];
        for (int i = 0; i < n; i++) {
            s[i] = Series.of("http.server.requests", "host", "web-" + (i % 5), "dc", "eu-west-1",
                    "method", i % 2 == 0 ? "GET" : "POST", "status", "2" + (i % 3) + "0", "route", "/api/v1/items/" + i);
        }
        return s;
    }
}
