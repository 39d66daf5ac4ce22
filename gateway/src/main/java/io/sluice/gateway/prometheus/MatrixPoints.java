package io.sluice.gateway.prometheus;

import com.fasterxml.jackson.core.JsonGenerator;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes a matrix's points, {@code [seconds,"value"]} each, as bytes straight into the generator's stream. A 24-hour
 * answer at a 1-minute step over 100 series has 144,100 points: four generator calls and two text objects for each
 * took about half of an uncached query's time.
 *
 * <p>The text is {@link PrometheusJson}'s: times by {@link PrometheusJson#seconds(long, byte[], int)}, values by
 * {@link PrometheusJson#value(double)}, except that a whole number below 2<sup>53</sup> is printed from its digits
 * (the same text: its shortest decimal is itself), and that the values printed last are remembered by their bits,
 * a slot each: a counter that did not move, a steady rate or a gauge at its limit repeats one value for many steps.
 * Series with a value at every step share one array of times (the engine's answer): once a second series comes
 * with the array the one before had, its times are printed once and copied for it and every later one sharing it.
 * One instance per answer.
 */
final class MatrixPoints {

    /** Values remembered: a power of two. */
    private static final int SLOTS = 512;
    /** Below this a whole number's digits are its shortest decimal (2<sup>53</sup> is about 9.007e15). */
    private static final double WHOLE_BELOW = 1e15;
    /** Room for a point but its remembered value's text: time, a whole number's digits and sign, punctuation. */
    private static final int POINT_ROOM = PrometheusJson.SECONDS_CHARS + 24 + 8;

    private final OutputStream out;
    private final byte[] buf = new byte[16 * 1024];
    private final long[] keys = new long[SLOTS];
    private final byte[][] printed = new byte[SLOTS][];
    private int n;
    /** The times of the series written last, by identity. */
    private long[] lastTimes;
    /** Those times printed one after another, once a second series shares them; null until then. */
    private byte[] timesText;
    /** Where each time's text ends in {@link #timesText}. */
    private int[] timesEnd;

    /** For a generator writing bytes to a stream, as {@link io.sluice.gateway.http.Json#write} makes them. */
    MatrixPoints(JsonGenerator json) {
        if (!(json.getOutputTarget() instanceof OutputStream stream)) {
            throw new IllegalArgumentException("a matrix is written to a byte stream, not to "
                    + json.getOutputTarget());
        }
        this.out = stream;
    }

    /**
     * One series' points, comma-separated, where the generator stands: inside the series' {@code values} array,
     * which the caller then ends with the generator (no comma comes before a closing bracket).
     */
    void write(JsonGenerator json, long[] ts, double[] vs) throws IOException {
        json.flush(); // the generator's buffered bytes come first
        if (ts != lastTimes) {
            lastTimes = ts;
            timesText = null;
        } else if (timesText == null && ts.length > 0) {
            printTimes(ts);
        }
        byte[] times = timesText;
        for (int i = 0; i < ts.length; i++) {
            double v = vs[i];
            boolean whole = v != 0 && Math.abs(v) < WHOLE_BELOW && v == Math.rint(v);
            byte[] text = whole ? null : printed(v);
            if (n + POINT_ROOM + (whole ? 0 : text.length) > buf.length) {
                drain();
            }
            if (i > 0) {
                buf[n++] = ',';
            }
            buf[n++] = '[';
            if (times != null) {
                int from = i == 0 ? 0 : timesEnd[i - 1];
                System.arraycopy(times, from, buf, n, timesEnd[i] - from);
                n += timesEnd[i] - from;
            } else {
                n = PrometheusJson.seconds(ts[i], buf, n);
            }
            buf[n++] = ',';
            buf[n++] = '"';
            if (whole) {
                if (v < 0) {
                    buf[n++] = '-';
                }
                n = PrometheusJson.digits((long) Math.abs(v), buf, n);
            } else {
                System.arraycopy(text, 0, buf, n, text.length);
                n += text.length;
            }
            buf[n++] = '"';
            buf[n++] = ']';
        }
        drain();
    }

    /** Prints {@code ts} into {@link #timesText}, each time as {@link PrometheusJson#seconds(long, byte[], int)} does. */
    private void printTimes(long[] ts) {
        byte[] text = new byte[ts.length * PrometheusJson.SECONDS_CHARS];
        int[] ends = new int[ts.length];
        int at = 0;
        for (int i = 0; i < ts.length; i++) {
            at = PrometheusJson.seconds(ts[i], text, at);
            ends[i] = at;
        }
        timesText = text;
        timesEnd = ends;
    }

    /** {@link PrometheusJson#value(double)} as ASCII, from its slot when it was the last value there. */
    private byte[] printed(double v) {
        long bits = Double.doubleToRawLongBits(v);
        int slot = (int) ((bits * 0x9E3779B97F4A7C15L) >>> (64 - Integer.numberOfTrailingZeros(SLOTS)));
        byte[] text = printed[slot];
        if (text == null || keys[slot] != bits) {
            text = PrometheusJson.value(v).getBytes(StandardCharsets.ISO_8859_1);
            keys[slot] = bits;
            printed[slot] = text;
        }
        return text;
    }

    private void drain() throws IOException {
        out.write(buf, 0, n);
        n = 0;
    }
}
