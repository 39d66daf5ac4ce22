package io.sluice.loadtest.suite;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.xerial.snappy.Snappy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The bodies of the suite's HTTP ingest rows: the same samples in each format Sluice takes over HTTP, so that
 * the rows differ only in the format. One body holds one sample of each of {@link #SERIES} series at one timestamp,
 * all of metric {@link #METRIC}: the series of one connection (see {@link #series}), each with {@link #LABELS} labels,
 * {@code label0} unique ({@code s<series>}), the others {@code v<series % (l + 3)>}, as {@code AgentLoad}'s; the
 * value of series {@code s} is {@code (s + 1) * 1000 + (timestamp % 1000)}, a whole number every format writes
 * exactly. A connection's requests come from its {@link Stream}.
 *
 * <ul>
 *   <li>{@link Format#JSON}: {@code POST /api/v1/ingest/metrics}, {@code {"samples": [...]}}, 202;</li>
 *   <li>{@link Format#REMOTE_WRITE}: {@code POST /api/v1/write}, a Prometheus remote_write 1.0
 *       {@code WriteRequest} (written with protobuf-java's {@link CodedOutputStream} by the field numbers of
 *       Prometheus' {@code prompb/remote.proto} and {@code types.proto}), snappy block compressed with
 *       snappy-java (the reference snappy, as Prometheus' Go {@code snappy.Encode} writes it), 204;</li>
 *   <li>{@link Format#INFLUX}: {@code POST /api/v2/write?org=o&bucket=b&precision=ms}, InfluxDB line protocol,
 *       measurement {@code bench_ingest}, field {@code value} (so {@code bench_ingest_value} once stored), 204.</li>
 * </ul>
 */
public final class IngestBodies {

    /** The metric every body's samples belong to (line protocol: measurement {@code bench_ingest}, field {@code value}). */
    public static final String METRIC = "bench_ingest_value";
    public static final int SERIES = 1_000;
    public static final int LABELS = 5;

    /** One HTTP ingest format: where it posts, with which headers besides Host and Content-Length, and its success status. */
    public enum Format {
        JSON("json", "http", "/api/v1/ingest/metrics", 202, "Content-Type: application/json\r\n"),
        REMOTE_WRITE("remote_write", "remote_write", "/api/v1/write", 204, "Content-Type: application/x-protobuf\r\n"
                + "Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n"),
        INFLUX("influx", "influx", "/api/v2/write?org=o&bucket=b&precision=ms", 204, "Content-Type: text/plain; charset=utf-8\r\n");

        private final String label;
        private final String transport;
        private final String path;
        private final int success;
        private final String headers;

        Format(String label, String transport, String path, int success, String headers) {
            this.label = label;
            this.transport = transport;
            this.path = path;
            this.success = success;
            this.headers = headers;
        }

        /** A short name for logs and the table: {@code json}, {@code remote_write}, {@code influx}. */
        public String label() {
            return label;
        }

        /** The {@code transport} label of the gateway's ingest counters for this format. */
        public String transport() {
            return transport;
        }

        /** The request target: path and query string. */
        public String path() {
            return path;
        }

        /** The status of a body taken whole. */
        public int success() {
            return success;
        }

        /** The header lines this format needs besides authorization, each ending in CRLF. */
        public String headers() {
            return headers;
        }

        /** The authorization header line (CRLF-terminated) as this format's clients send it. */
        public String authorization(String key) {
            return (this == INFLUX ? "Authorization: Token " : "Authorization: Bearer ") + key + "\r\n";
        }

        /** The body of connection {@code connection}'s series (see {@link #series}) at {@code timestampMs}. */
        public byte[] body(int connection, long timestampMs) {
            return switch (this) {
                case JSON -> json(connection, timestampMs);
                case REMOTE_WRITE -> remoteWrite(connection, timestampMs);
                case INFLUX -> lineProtocol(connection, timestampMs);
            };
        }
    }

    private IngestBodies() {
    }

    /**
     * The index of series {@code s} (0 to {@link #SERIES} - 1) of connection {@code connection}'s share: connection 0
     * sends series 0 to 999, connection 1 series 1,000 to 1,999, and so on.
     */
    static int series(int connection, int s) {
        return connection * SERIES + s;
    }

    /**
     * The value of series {@code series} at {@code timestampMs}: {@code (series + 1) * 1000 + timestampMs % 1000}, a whole
     * number every format writes exactly, of the same width at every timestamp.
     */
    static long value(int series, long timestampMs) {
        return (series + 1L) * 1000L + Math.floorMod(timestampMs, 1000L);
    }

    /** The value of label {@code l} (named {@code label<l>}) of series {@code series}. */
    static String labelValue(int series, int l) {
        return l == 0 ? "s" + series : "v" + (series % (l + 3));
    }

    /**
     * The body of one connection's series at one timestamp, with where each sample's timestamp and value sit in it,
     * so that the next body is this one with those bytes written over.
     */
    private record Template(Format format, int connection, byte[] bytes, int[] timestamps, int[] values) {

        /** Timestamps are written as 13 digits (2001 to 2286) in text and as 6-byte varints (up to 2109) in protobuf. */
        static final long MIN_TIMESTAMP = 1_000_000_000_000L;
        static final long MAX_TIMESTAMP = 1L << 42;

        static Template of(Format format, int connection, long timestampMs) {
            checkRange(timestampMs);
            return format == Format.REMOTE_WRITE ? writeRequest(connection, timestampMs)
                    : text(format, connection, timestampMs);
        }

        /**
         * JSON or line protocol. {@link #values} point at each value's last three digits, the only ones that change
         * with the timestamp.
         */
        private static Template text(Format format, int connection, long timestampMs) {
            StringBuilder b = new StringBuilder(SERIES * 140);
            int[] timestamps = new int[SERIES];
            int[] values = new int[SERIES];
            if (format == Format.JSON) {
                b.append("{\"samples\":[");
            }
            for (int s = 0; s < SERIES; s++) {
                int series = series(connection, s);
                if (format == Format.JSON) {
                    b.append(s == 0 ? "" : ",").append("{\"name\":\"").append(METRIC).append("\",\"labels\":{");
                    for (int l = 0; l < LABELS; l++) {
                        b.append(l == 0 ? "" : ",").append("\"label").append(l).append("\":\"")
                                .append(labelValue(series, l)).append('"');
                    }
                    b.append("},\"timestamp\":");
                    timestamps[s] = b.length();
                    b.append(timestampMs).append(",\"value\":").append(value(series, timestampMs));
                    values[s] = b.length() - 3;
                    b.append('}');
                } else {
                    b.append("bench_ingest");
                    for (int l = 0; l < LABELS; l++) {
                        b.append(",label").append(l).append('=').append(labelValue(series, l));
                    }
                    b.append(" value=").append(value(series, timestampMs));
                    values[s] = b.length() - 3;
                    b.append(' ');
                    timestamps[s] = b.length();
                    b.append(timestampMs).append('\n');
                }
            }
            if (format == Format.JSON) {
                b.append("]}");
            }
            return new Template(format, connection, b.toString().getBytes(StandardCharsets.US_ASCII), timestamps, values);
        }

        // prompb: WriteRequest { repeated TimeSeries timeseries = 1; } TimeSeries { repeated Label labels = 1;
        // repeated Sample samples = 2; } Label { string name = 1; string value = 2; }
        // Sample { double value = 1; int64 timestamp = 2; }
        private static final int TIMESERIES = 1;
        private static final int SERIES_LABELS = 1;
        private static final int SERIES_SAMPLES = 2;
        private static final int LABEL_NAME = 1;
        private static final int LABEL_VALUE = 2;
        private static final int SAMPLE_VALUE = 1;
        private static final int SAMPLE_TIMESTAMP = 2;
        private static final int TIMESTAMP_VARINT_BYTES = 6;

        /**
         * The uncompressed {@code WriteRequest}. {@link #values} point at each sample's 8-byte double, {@link #timestamps}
         * at its 6-byte varint timestamp.
         */
        private static Template writeRequest(int connection, long timestampMs) {
            byte[] buffer = new byte[SERIES * 160];
            CodedOutputStream out = CodedOutputStream.newInstance(buffer);
            int[] timestamps = new int[SERIES];
            int[] values = new int[SERIES];
            try {
                for (int s = 0; s < SERIES; s++) {
                    int series = series(connection, s);
                    // Prometheus sends labels sorted by name, __name__ first
                    String[] names = new String[LABELS + 1];
                    String[] labelValues = new String[LABELS + 1];
                    names[0] = "__name__";
                    labelValues[0] = METRIC;
                    for (int l = 0; l < LABELS; l++) {
                        names[l + 1] = "label" + l;
                        labelValues[l + 1] = labelValue(series, l);
                    }
                    double value = value(series, timestampMs);
                    int sampleSize = CodedOutputStream.computeDoubleSize(SAMPLE_VALUE, value)
                            + CodedOutputStream.computeInt64Size(SAMPLE_TIMESTAMP, timestampMs);
                    int seriesSize = CodedOutputStream.computeTagSize(SERIES_SAMPLES)
                            + CodedOutputStream.computeUInt32SizeNoTag(sampleSize) + sampleSize;
                    for (int i = 0; i < names.length; i++) {
                        int labelSize = labelSize(names[i], labelValues[i]);
                        seriesSize += CodedOutputStream.computeTagSize(SERIES_LABELS)
                                + CodedOutputStream.computeUInt32SizeNoTag(labelSize) + labelSize;
                    }
                    out.writeTag(TIMESERIES, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                    out.writeUInt32NoTag(seriesSize);
                    for (int i = 0; i < names.length; i++) {
                        out.writeTag(SERIES_LABELS, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                        out.writeUInt32NoTag(labelSize(names[i], labelValues[i]));
                        out.writeString(LABEL_NAME, names[i]);
                        out.writeString(LABEL_VALUE, labelValues[i]);
                    }
                    out.writeTag(SERIES_SAMPLES, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                    out.writeUInt32NoTag(sampleSize);
                    out.writeTag(SAMPLE_VALUE, WireFormat.WIRETYPE_FIXED64);
                    values[s] = out.getTotalBytesWritten();
                    out.writeDoubleNoTag(value);
                    out.writeTag(SAMPLE_TIMESTAMP, WireFormat.WIRETYPE_VARINT);
                    timestamps[s] = out.getTotalBytesWritten();
                    out.writeInt64NoTag(timestampMs);
                    if (out.getTotalBytesWritten() - timestamps[s] != TIMESTAMP_VARINT_BYTES) {
                        throw new IllegalStateException("a timestamp took " + (out.getTotalBytesWritten() - timestamps[s])
                                + " bytes, not " + TIMESTAMP_VARINT_BYTES);
                    }
                }
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new Template(Format.REMOTE_WRITE, connection, Arrays.copyOf(buffer, out.getTotalBytesWritten()),
                    timestamps, values);
        }

        private static int labelSize(String name, String value) {
            return CodedOutputStream.computeStringSize(LABEL_NAME, name) + CodedOutputStream.computeStringSize(LABEL_VALUE, value);
        }

        private static void checkRange(long timestampMs) {
            if (timestampMs < MIN_TIMESTAMP || timestampMs >= MAX_TIMESTAMP) {
                throw new IllegalArgumentException("timestamp out of the bodies' range: " + timestampMs);
            }
        }

        /** Makes {@code at}'s bytes from {@code base} (a copy of {@link #bytes}) the body at {@code timestampMs}. */
        void writeTimestamp(long timestampMs, Patch at, int base) {
            checkRange(timestampMs);
            if (format == Format.REMOTE_WRITE) {
                for (int s = 0; s < SERIES; s++) {
                    at.longLe(base + values[s], Double.doubleToRawLongBits(value(series(connection, s), timestampMs)));
                    long v = timestampMs;
                    for (int i = 0; i < TIMESTAMP_VARINT_BYTES; i++, v >>>= 7) {
                        at.set(base + timestamps[s] + i, (int) (v & 0x7F) | (i < TIMESTAMP_VARINT_BYTES - 1 ? 0x80 : 0));
                    }
                }
                return;
            }
            byte[] digits = Long.toString(timestampMs).getBytes(StandardCharsets.US_ASCII);
            long millis = Math.floorMod(timestampMs, 1000L);
            for (int s = 0; s < SERIES; s++) {
                for (int i = 0; i < digits.length; i++) {
                    at.set(base + timestamps[s] + i, digits[i]);
                }
                at.set(base + values[s], (int) ('0' + millis / 100));
                at.set(base + values[s] + 1, (int) ('0' + millis / 10 % 10));
                at.set(base + values[s] + 2, (int) ('0' + millis % 10));
            }
        }
    }

    /** Where {@link Template#writeTimestamp} writes: a byte array or a buffer. */
    private interface Patch {
        void set(int index, int value);

        default void longLe(int index, long value) {
            for (int i = 0; i < Long.BYTES; i++) {
                set(index + i, (int) (value >>> (8 * i)));
            }
        }
    }

    static byte[] json(int connection, long timestampMs) {
        return Template.of(Format.JSON, connection, timestampMs).bytes();
    }

    static byte[] lineProtocol(int connection, long timestampMs) {
        return Template.of(Format.INFLUX, connection, timestampMs).bytes();
    }

    /** The uncompressed {@code WriteRequest}. */
    static byte[] writeRequest(int connection, long timestampMs) {
        return Template.of(Format.REMOTE_WRITE, connection, timestampMs).bytes();
    }

    static byte[] remoteWrite(int connection, long timestampMs) {
        try {
            return Snappy.compress(writeRequest(connection, timestampMs));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The requests of one connection of an HTTP ingest row: every request carries the connection's own
     * {@link #SERIES} series (no other connection sends them) at a timestamp later than the one before, so no sample
     * repeats a (series, timestamp) another request already sent, and storage does the work of new samples. The
     * timestamp is the wall clock's millisecond, or one past the last if that is not later. Each request is the last
     * one with its timestamps and values written over in place (remote_write: over the uncompressed
     * {@code WriteRequest}, compressed again for each request, as Prometheus does), so the client's work per request
     * stays small next to the gateway's.
     */
    public static final class Stream implements HttpLoad.Requests, AutoCloseable {

        private final Template template;
        /** remote_write: the request line and headers up to the Content-Length value, and the rest. */
        private final byte[] headBefore;
        private final byte[] headAfter;
        private final byte[] compressed;
        private final int headLength;
        private ByteBuf request;
        private int bodyLength;
        private long last;
        private long requests;
        private long bodyBytes;

        /**
         * @param after the stream's first timestamp is later than this (the last timestamp of an earlier stream of the
         *              same connection's series)
         */
        public Stream(Format format, int connection, long after, String host, int port, String key) {
            this.last = after;
            long first = Math.max(after + 1, System.currentTimeMillis());
            this.template = Template.of(format, connection, first);
            String headers = format.authorization(key) + format.headers();
            if (format == Format.REMOTE_WRITE) {
                headBefore = ("POST " + format.path() + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\nContent-Length: ")
                        .getBytes(StandardCharsets.US_ASCII);
                headAfter = ("\r\n" + headers + "\r\n").getBytes(StandardCharsets.US_ASCII);
                compressed = new byte[Snappy.maxCompressedLength(template.bytes().length)];
                headLength = -1;
                request = Unpooled.directBuffer(headBefore.length + 10 + headAfter.length + compressed.length);
            } else {
                headBefore = null;
                headAfter = null;
                compressed = null;
                byte[] whole = HttpLoad.post(host, port, format.path(), headers, template.bytes());
                headLength = whole.length - template.bytes().length;
                request = Unpooled.directBuffer(whole.length).writeBytes(whole);
            }
        }

        /** The connection whose series this stream sends. */
        public int connection() {
            return template.connection();
        }

        /** The last timestamp sent, or the one this stream began after. */
        public long last() {
            return last;
        }

        /** How many requests this stream has made. */
        public long requests() {
            return requests;
        }

        /** The bodies' bytes over all requests made. */
        public long bodyBytes() {
            return bodyBytes;
        }

        @Override
        public ByteBuf next() {
            long timestamp = Math.max(last + 1, System.currentTimeMillis());
            if (request.refCnt() > 1) {
                // the last request is still being written (the server answered before reading it all): leave it be
                ByteBuf fresh = request.copy();
                request.release();
                request = fresh;
            }
            if (template.format() == Format.REMOTE_WRITE) {
                byte[] raw = template.bytes();
                template.writeTimestamp(timestamp, (i, v) -> raw[i] = (byte) v, 0);
                try {
                    bodyLength = Snappy.compress(raw, 0, raw.length, compressed, 0);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                request.clear().writeBytes(headBefore).writeCharSequence(Integer.toString(bodyLength),
                        StandardCharsets.US_ASCII);
                request.writeBytes(headAfter).writeBytes(compressed, 0, bodyLength);
            } else {
                ByteBuf r = request;
                template.writeTimestamp(timestamp, r::setByte, headLength);
                bodyLength = template.bytes().length;
            }
            last = timestamp;
            requests++;
            bodyBytes += bodyLength;
            return request;
        }

        /** The body of the request {@link #next} made last. */
        public byte[] body() {
            byte[] body = new byte[bodyLength];
            request.getBytes(request.writerIndex() - bodyLength, body);
            return body;
        }

        @Override
        public void close() {
            request.release();
        }
    }
}
