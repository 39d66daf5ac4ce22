package io.sluice.loadtest.suite;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import org.xerial.snappy.Snappy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The bodies of the suite's HTTP ingest rows: the same samples in each format Sluice takes over HTTP, so that
 * the rows differ only in the format. One body holds one sample of each of {@link #SERIES} series (the series of
 * {@code AgentLoad}: {@link #LABELS} labels, {@code label0} unique, the others {@code v<s % (l + 3)>}) at one
 * timestamp, all of metric {@link #METRIC}; the value of series {@code s} is {@code s * 1000 + (timestamp % 1000)},
 * a whole number every format writes exactly.
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

        /** The body of the samples at {@code timestampMs}. */
        public byte[] body(long timestampMs) {
            return switch (this) {
                case JSON -> json(timestampMs);
                case REMOTE_WRITE -> remoteWrite(timestampMs);
                case INFLUX -> lineProtocol(timestampMs);
            };
        }
    }

    private static final String[][] LABEL_VALUES = labelValues();

    private IngestBodies() {
    }

    private static String[][] labelValues() {
        String[][] values = new String[SERIES][LABELS];
        for (int s = 0; s < SERIES; s++) {
            for (int l = 0; l < LABELS; l++) {
                values[s][l] = l == 0 ? "s" + s : "v" + (s % (l + 3));
            }
        }
        return values;
    }

    /** The value of series {@code s} in the body at {@code timestampMs}. */
    static long value(int s, long timestampMs) {
        return s * 1000L + Math.floorMod(timestampMs, 1000L);
    }

    /** The value of label {@code l} (named {@code label<l>}) of series {@code s}. */
    static String labelValue(int s, int l) {
        return LABEL_VALUES[s][l];
    }

    static byte[] json(long timestampMs) {
        StringBuilder b = new StringBuilder(SERIES * 140).append("{\"samples\":[");
        for (int s = 0; s < SERIES; s++) {
            b.append(s == 0 ? "" : ",").append("{\"name\":\"").append(METRIC).append("\",\"labels\":{");
            for (int l = 0; l < LABELS; l++) {
                b.append(l == 0 ? "" : ",").append("\"label").append(l).append("\":\"").append(LABEL_VALUES[s][l]).append('"');
            }
            b.append("},\"timestamp\":").append(timestampMs).append(",\"value\":").append(value(s, timestampMs)).append('}');
        }
        return b.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    }

    static byte[] lineProtocol(long timestampMs) {
        StringBuilder b = new StringBuilder(SERIES * 100);
        for (int s = 0; s < SERIES; s++) {
            b.append("bench_ingest");
            for (int l = 0; l < LABELS; l++) {
                b.append(",label").append(l).append('=').append(LABEL_VALUES[s][l]);
            }
            b.append(" value=").append(value(s, timestampMs)).append(' ').append(timestampMs).append('\n');
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
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

    /** The uncompressed {@code WriteRequest}. */
    static byte[] writeRequest(long timestampMs) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(SERIES * 120);
            CodedOutputStream out = CodedOutputStream.newInstance(bytes);
            for (int s = 0; s < SERIES; s++) {
                // Prometheus sends labels sorted by name, __name__ first
                String[] names = new String[LABELS + 1];
                String[] values = new String[LABELS + 1];
                names[0] = "__name__";
                values[0] = METRIC;
                for (int l = 0; l < LABELS; l++) {
                    names[l + 1] = "label" + l;
                    values[l + 1] = LABEL_VALUES[s][l];
                }
                double value = value(s, timestampMs);
                int sampleSize = CodedOutputStream.computeDoubleSize(SAMPLE_VALUE, value)
                        + CodedOutputStream.computeInt64Size(SAMPLE_TIMESTAMP, timestampMs);
                int seriesSize = CodedOutputStream.computeTagSize(SERIES_SAMPLES)
                        + CodedOutputStream.computeUInt32SizeNoTag(sampleSize) + sampleSize;
                for (int i = 0; i < names.length; i++) {
                    int labelSize = labelSize(names[i], values[i]);
                    seriesSize += CodedOutputStream.computeTagSize(SERIES_LABELS)
                            + CodedOutputStream.computeUInt32SizeNoTag(labelSize) + labelSize;
                }
                out.writeTag(TIMESERIES, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                out.writeUInt32NoTag(seriesSize);
                for (int i = 0; i < names.length; i++) {
                    out.writeTag(SERIES_LABELS, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                    out.writeUInt32NoTag(labelSize(names[i], values[i]));
                    out.writeString(LABEL_NAME, names[i]);
                    out.writeString(LABEL_VALUE, values[i]);
                }
                out.writeTag(SERIES_SAMPLES, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                out.writeUInt32NoTag(sampleSize);
                out.writeDouble(SAMPLE_VALUE, value);
                out.writeInt64(SAMPLE_TIMESTAMP, timestampMs);
            }
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int labelSize(String name, String value) {
        return CodedOutputStream.computeStringSize(LABEL_NAME, name) + CodedOutputStream.computeStringSize(LABEL_VALUE, value);
    }

    static byte[] remoteWrite(long timestampMs) {
        try {
            return Snappy.compress(writeRequest(timestampMs));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
