package io.sluice.gateway.prometheus;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.io.NumberOutput;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.promql.Series;

import java.io.IOException;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;

/**
 * Prometheus' response envelope, written as Prometheus writes it: {@code {"status":"success","data":…}} or
 * {@code {"status":"error","errorType":…,"error":…}}; a point is {@code [seconds, "value"]} with the time in
 * seconds (up to three decimals, as Prometheus prints milliseconds) and the value as a string in Go's shortest
 * form ({@code "1.5"}, {@code "1e+21"} never: {@code "1000000000000000000000"}), {@code "NaN"}, {@code "+Inf"},
 * {@code "-Inf"}.
 */
final class PrometheusJson {

    private PrometheusJson() {
    }

    /** {@code {"status":"success","data":<data>}}. */
    static void success(JsonGenerator json, io.sluice.gateway.http.Json.Writer data) throws IOException {
        json.writeStartObject();
        json.writeStringField("status", "success");
        json.writeFieldName("data");
        data.write(json);
        json.writeEndObject();
    }

    /** {@code {"status":"error","errorType":…,"error":…}}. */
    static void error(JsonGenerator json, String errorType, String message) throws IOException {
        json.writeStartObject();
        json.writeStringField("status", "error");
        json.writeStringField("errorType", errorType);
        json.writeStringField("error", message);
        json.writeEndObject();
    }

    /** A query's answer: {@code {"resultType":…,"result":…}}. */
    static void result(JsonGenerator json, PromqlResult result) throws IOException {
        json.writeStartObject();
        json.writeStringField("resultType", result.resultType());
        json.writeFieldName("result");
        if (result instanceof PromqlResult.Scalar s) {
            point(json, s.timeMs(), value(s.value()));
        } else if (result instanceof PromqlResult.Text t) {
            point(json, t.timeMs(), t.value());
        } else if (result instanceof PromqlResult.Vector v) {
            json.writeStartArray();
            for (PromqlResult.Sample s : v.samples()) {
                json.writeStartObject();
                labels(json, "metric", s.labels());
                json.writeFieldName("value");
                point(json, s.timeMs(), value(s.value()));
                json.writeEndObject();
            }
            json.writeEndArray();
        } else {
            json.writeStartArray();
            MatrixPoints points = null;
            for (Series s : ((PromqlResult.Matrix) result).series()) {
                json.writeStartObject();
                labels(json, "metric", s.labels());
                json.writeArrayFieldStart("values");
                if (points == null) {
                    points = new MatrixPoints(json);
                }
                points.write(json, s.timestamps(), s.values()); // straight to the stream: see MatrixPoints
                json.writeEndArray();
                json.writeEndObject();
            }
            json.writeEndArray();
        }
        json.writeEndObject();
    }

    /**
     * About how long {@link #result}'s document is for a matrix (a point as a recent time to the second and a value of
     * 6 to 8 digits takes about 26 bytes), the least buffer otherwise; at most 64 MiB.
     */
    static int expectedBytes(PromqlResult result) {
        if (!(result instanceof PromqlResult.Matrix m)) {
            return 0;
        }
        long bytes = 64;
        for (Series s : m.series()) {
            bytes += 128 + 26L * s.timestamps().length;
        }
        return (int) Math.min(bytes, 64 << 20);
    }

    /** A label set as an object, sorted by name. */
    static void labels(JsonGenerator json, String field, Map<String, String> labels) throws IOException {
        json.writeObjectFieldStart(field);
        for (Map.Entry<String, String> e : new java.util.TreeMap<>(labels).entrySet()) {
            json.writeStringField(e.getKey(), e.getValue());
        }
        json.writeEndObject();
    }

    /** A list of strings. */
    static void strings(JsonGenerator json, List<String> values) throws IOException {
        json.writeStartArray();
        for (String v : values) {
            json.writeString(v);
        }
        json.writeEndArray();
    }

    private static void point(JsonGenerator json, long timeMs, String value) throws IOException {
        json.writeStartArray();
        json.writeNumber(seconds(timeMs));
        json.writeString(value);
        json.writeEndArray();
    }

    /** Milliseconds as Prometheus prints them in seconds: {@code 1700000000}, {@code 1700000000.5} as {@code .500}. */
    static String seconds(long timeMs) {
        byte[] out = new byte[SECONDS_CHARS];
        return new String(out, 0, seconds(timeMs, out, 0), java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    /** The longest {@link #seconds(long)}: a sign, 16 digits, a point and 3 digits, with room to spare. */
    static final int SECONDS_CHARS = 24;

    /**
     * {@link #seconds(long)} written as ASCII into {@code out} from {@code at} (room for {@link #SECONDS_CHARS}
     * there), where it ends returned: a matrix's times are written with no text object made for each.
     */
    static int seconds(long timeMs, byte[] out, int at) {
        int n = at;
        if (timeMs < 0) {
            out[n++] = '-';
        }
        n = digits(Math.abs(timeMs / 1000), out, n); // at most Long.MAX_VALUE / 1000: the negation cannot overflow
        int fraction = (int) Math.abs(timeMs % 1000);
        if (fraction != 0) {
            out[n++] = '.';
            out[n++] = (byte) ('0' + fraction / 100);
            out[n++] = (byte) ('0' + fraction / 10 % 10);
            out[n++] = (byte) ('0' + fraction % 10);
        }
        return n;
    }

    /** The decimal digits of {@code whole} (not negative) written from {@code at}, where they end returned. */
    static int digits(long whole, byte[] out, int at) {
        int n = at;
        if (whole <= Integer.MAX_VALUE) { // a time in seconds until 2038, most whole values: int division is a multiply,
            int small = (int) whole; // a long one here was a division instruction per digit, a quarter of a render
            do {
                out[n++] = (byte) ('0' + small % 10);
                small /= 10;
            } while (small > 0);
        } else {
            do {
                out[n++] = (byte) ('0' + whole % 10);
                whole /= 10;
            } while (whole > 0);
        }
        for (int i = at, j = n - 1; i < j; i++, j--) {
            byte c = out[i];
            out[i] = out[j];
            out[j] = c;
        }
        return n;
    }

    /** A value as Prometheus prints it: Go's shortest decimal without exponent, or NaN, +Inf, -Inf. */
    static String value(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (v == Double.POSITIVE_INFINITY) {
            return "+Inf";
        }
        if (v == Double.NEGATIVE_INFINITY) {
            return "-Inf";
        }
        if (v == 0) {
            return Double.doubleToRawLongBits(v) < 0 ? "-0" : "0";
        }
        // the shortest digits that read back as v (Schubfach, as Go's strconv; Java 17's Double.toString is not always)
        String shortest = NumberOutput.toString(v, true);
        if (shortest.indexOf('E') < 0) {
            // 1e-3 <= |v| < 1e7 is already plain ("12.5", "0.001", "42.0"): only an integer's ".0" goes; no BigDecimal
            // (it took a sixth of a large answer's rendering)
            return shortest.endsWith(".0") ? shortest.substring(0, shortest.length() - 2) : shortest;
        }
        return plain(shortest);
    }

    /** Schubfach's digits of a double in computerized scientific notation ({@code 1.0E7}) as a plain decimal. */
    static String plain(String shortest) {
        return new BigDecimal(shortest).stripTrailingZeros().toPlainString();
    }
}
