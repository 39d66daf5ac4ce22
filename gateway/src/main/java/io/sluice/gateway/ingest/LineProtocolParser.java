package io.sluice.gateway.ingest;

import io.netty.buffer.ByteBuf;
import io.sluice.config.IngestConfig;
import io.sluice.protocol.record.Series;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Decodes an InfluxDB line-protocol body into samples, in one pass over its bytes, and hands each point to
 * {@link Admission} (the same rules as the JSON and binary paths).
 *
 * <pre>
 * measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] [timestamp]
 * </pre>
 *
 * <p><b>Syntax</b>, as InfluxDB documents it. Lines end with {@code \n} (a {@code \r} before it is ignored); blank
 * lines and lines starting with {@code #} are skipped, as is whitespace before a line. A backslash escapes, in the
 * measurement, a comma or a space; in tag keys, tag values and field keys, a comma, an equals sign or a space; in a
 * double-quoted string field value, a double quote; and everywhere a backslash ({@code \\} is one backslash). A
 * backslash before any other character is a literal backslash. An unescaped equals sign in a tag value is an error;
 * a string field value may span lines. Field values: a float ({@code -1.5}, {@code 2e3}; {@code NaN} and {@code Inf}
 * are refused, as InfluxDB refuses them, and so is a float beyond the range of a double), an integer {@code 12i}
 * (64-bit signed), an unsigned integer {@code 12u} (64-bit), a boolean ({@code t T true True TRUE f F false False
 * FALSE}), or a string {@code "…"}. The timestamp is an integer in the request's {@link Precision} (default
 * nanoseconds), floored to milliseconds; without one the point is at the gateway's now. Names and values must be
 * valid UTF-8.
 *
 * <p><b>Mapping.</b> Each integer, unsigned, float or boolean field becomes one sample named
 * {@code <measurement>_<field key>} (both sanitised: every character a metric name may not hold becomes {@code _},
 * and a leading digit gets a {@code _} before it); its value is the number as a double (integers beyond 2^53 lose
 * precision, as any double does), a boolean 1 or 0. Tags become labels, their keys sanitised to label-name
 * characters the same way, values as given. String fields are not stored (Sluice's samples are numbers): each is
 * dropped and counted ({@link #STRING_FIELD}). A field key given twice on a line keeps its last value, as in
 * InfluxDB.
 *
 * <p><b>Partial acceptance.</b> A line that does not parse, or whose samples {@link Admission} refuses (any of
 * them: the point is refused whole), is a {@link Rejection} whose index is its 1-based line number; the other lines
 * count. Only more than {@code ingest.max-items-per-request} samples in one body is refused whole
 * ({@code too_many_items}).
 */
public final class LineProtocolParser {

    /** The reason a string field is counted under when it is dropped. */
    public static final String STRING_FIELD = "string_field";

    /** The units a timestamp may be given in ({@code precision=}). */
    public enum Precision {
        NS, US, MS, S, M, H;

        /**
         * The precision named by a request: {@code ns}, {@code us}, {@code ms}, {@code s}, and for the v1 API also
         * InfluxDB 1.x's {@code n}, {@code u}, {@code m} and {@code h}; {@code NS} when absent; null when unknown.
         */
        public static Precision parse(String name, boolean v1) {
            if (name == null || name.isEmpty()) {
                return NS;
            }
            return switch (name) {
                case "ns" -> NS;
                case "us" -> US;
                case "ms" -> MS;
                case "s" -> S;
                case "n" -> v1 ? NS : null;
                case "u" -> v1 ? US : null;
                case "m" -> v1 ? M : null;
                case "h" -> v1 ? H : null;
                default -> null;
            };
        }

        /** {@code t} of this unit in epoch milliseconds; throws {@link ArithmeticException} when out of range. */
        long toMillis(long t) {
            return switch (this) {
                case NS -> Math.floorDiv(t, 1_000_000L);
                case US -> Math.floorDiv(t, 1_000L);
                case MS -> t;
                case S -> Math.multiplyExact(t, 1_000L);
                case M -> Math.multiplyExact(t, 60_000L);
                case H -> Math.multiplyExact(t, 3_600_000L);
            };
        }
    }

    /**
     * What a body held.
     *
     * @param batch        the samples (their index is their line's number) and refused lines (index = line number),
     *                     in line order; {@code total} is the number of samples plus refused lines
     * @param points       the lines that held a point (not blank, not a comment)
     * @param stringFields the string fields dropped
     */
    public record Result(ParsedBatch batch, int points, int stringFields) {
    }

    private final IngestConfig limits;
    private final Admission admission;
    /** Series keys by their bytes ({@link SeriesCache}: a line's key up to the space before its fields). */
    private final SeriesCache<SeriesKey> cache;

    public LineProtocolParser(IngestConfig limits, Admission admission) {
        this.limits = limits;
        this.admission = admission;
        this.cache = new SeriesCache<>(limits.seriesCacheEntries());
    }

    /** Counts this parser's series cache lookups under {@code format="influx"}. */
    public void register(io.micrometer.core.instrument.MeterRegistry registry) {
        cache.register(registry, "influx");
    }

    public Result parse(ByteBuf body, Precision precision) throws MalformedBatchException {
        int length = body.readableBytes();
        if (body.hasArray()) {
            int start = body.arrayOffset() + body.readerIndex();
            return new Cursor(body.array(), start, start + length, precision, admission.now()).run();
        }
        byte[] bytes = SCRATCH.get(length);
        body.getBytes(body.readerIndex(), bytes, 0, length);
        return new Cursor(bytes, 0, length, precision, admission.now()).run();
    }

    /** What a body in a direct buffer is copied into to be read. */
    private static final ScratchBytes SCRATCH = new ScratchBytes(1 << 20);

    /** Thrown inside a line; the line is refused with this reason and the cursor moves to the next line. */
    private static final class LineError extends Exception {
        private static final long serialVersionUID = 1L;
        final String reason;

        LineError(String reason, String message) {
            super(message, null, false, false);
            this.reason = reason;
        }
    }

    /**
     * A decoded series key: the metric name's prefix (the sanitised measurement and {@code _}), the labels (sanitised
     * tag keys and values, alternating), whether the labels passed {@link Admission#checkSeriesLabels}, and, once they
     * did, the series of the field keys seen under it (at most {@link #FIELDS_KEPT}). Kept in {@link #cache} and then
     * used by one event loop only.
     */
    private static final class SeriesKey {
        private final String prefix;
        private final List<String> labels;
        private final boolean checked;
        private String[] fieldKeys = new String[1];
        private Series[] series = new Series[1];
        private int fields;

        SeriesKey(String prefix, List<String> labels, boolean checked) {
            this.prefix = prefix;
            this.labels = labels;
            this.checked = checked;
        }

        String prefix() {
            return prefix;
        }

        List<String> labels() {
            return labels;
        }

        boolean checked() {
            return checked;
        }

        /**
         * The field key kept here whose bytes start {@code b} at {@code pos}, followed by {@code =}, or null. Only a key
         * of ASCII characters that need no escape matches, so its bytes are exactly what decoding them gives.
         */
        String fieldKeyAt(byte[] b, int pos, int end) {
            for (int i = 0; i < fields; i++) {
                String key = fieldKeys[i];
                int n = key.length();
                if (pos + n >= end || b[pos + n] != '=') {
                    continue;
                }
                int j = 0;
                while (j < n) {
                    byte c = b[pos + j];
                    if (c != key.charAt(j) || c < 0 || c == '\\' || c == ',' || c == ' ' || c == '=' || c == '\n'
                            || c == '\r') {
                        break;
                    }
                    j++;
                }
                if (j == n) {
                    return key;
                }
            }
            return null;
        }

        /** The series kept for this field key, or null. */
        Series series(String fieldKey) {
            for (int i = 0; i < fields; i++) {
                if (fieldKeys[i].equals(fieldKey)) {
                    return series[i];
                }
            }
            return null;
        }

        void keep(String fieldKey, Series s) {
            if (fields == FIELDS_KEPT) {
                return;
            }
            if (fields == fieldKeys.length) {
                fieldKeys = java.util.Arrays.copyOf(fieldKeys, Math.min(FIELDS_KEPT, fields * 2));
                series = java.util.Arrays.copyOf(series, fieldKeys.length);
            }
            fieldKeys[fields] = fieldKey;
            series[fields++] = s;
        }
    }

    /** Most field keys whose series a cached series key keeps. */
    private static final int FIELDS_KEPT = 64;
    /** Most digits of a float without an exponent whose value is computed exactly without {@link Double#parseDouble}. */
    private static final int EXACT_DIGITS = 15;
    private static final double[] POWERS_OF_TEN = new double[EXACT_DIGITS + 1];

    static {
        POWERS_OF_TEN[0] = 1;
        for (int i = 1; i <= EXACT_DIGITS; i++) {
            POWERS_OF_TEN[i] = POWERS_OF_TEN[i - 1] * 10; // exact up to 10^22
        }
    }

    private final class Cursor {
        private final byte[] b;
        private final int end;
        private final Precision precision;
        private final long now;
        private byte[] raw = new byte[64];
        private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        private int pos;
        private int line = 1;
        private int points;
        private int stringFields;
        private int samples;
        private final List<ParsedBatch.Sample> valid = new ArrayList<>();
        private final List<Rejection> rejections = new ArrayList<>();
        /** The fields of the line at hand: keys, values (NaN: a string), and the series of those that are numbers. */
        private String[] fieldKeys = new String[4];
        private double[] fieldValues = new double[4];
        private Series[] fieldSeries = new Series[4];

        Cursor(byte[] b, int start, int end, Precision precision, long now) {
            this.b = b;
            this.pos = start;
            this.end = end;
            this.precision = precision;
            this.now = now;
        }

        Result run() throws MalformedBatchException {
            while (pos < end) {
                byte c = b[pos];
                if (c == ' ' || c == '\t' || c == '\r') {
                    pos++;
                    continue;
                }
                if (c == '\n') {
                    pos++;
                    line++;
                    continue;
                }
                if (c == '#') {
                    skipLine();
                    continue;
                }
                int lineNumber = line;
                int lineStart = pos;
                points++;
                try {
                    point(lineNumber);
                } catch (LineError e) {
                    int failedAt = pos;
                    skipLine();
                    rejections.add(new Rejection(lineNumber, e.reason, "line " + lineNumber + ": unable to parse "
                            + Admission.quote(text(lineStart, failedAt)) + ": " + e.getMessage()));
                }
            }
            return new Result(new ParsedBatch(valid, List.of(), rejections, valid.size() + rejections.size()),
                    points, stringFields);
        }

        /** The line from {@code start} to its end (or to {@code atLeast}, for a line that ran past it), for a message. */
        private String text(int start, int atLeast) {
            int stop = start;
            while (stop < end && b[stop] != '\n') {
                stop++;
            }
            stop = Math.max(stop, Math.min(atLeast, end));
            while (stop > start && b[stop - 1] == '\r') {
                stop--;
            }
            return new String(b, start, stop - start, StandardCharsets.UTF_8);
        }

        private void skipLine() {
            while (pos < end && b[pos] != '\n') {
                pos++;
            }
        }

        /**
         * One point, from its first byte to its line's end (the cursor is then on the {@code \n} or at the end). Its
         * series key (measurement and tags, up to the first unescaped space) is looked up by its bytes in
         * {@link #cache}; one found there was decoded and its labels checked before, so the line's fields are read as
         * if it had just been decoded (a key that does not decode, or whose labels are refused, is never kept there:
         * such a line is refused for the same reason, in the same order, as without the cache).
         */
        private void point(int lineNumber) throws LineError, MalformedBatchException {
            int keyStart = pos;
            int keyEnd = cache.enabled() ? seriesKeyEnd() : -1;
            long hash = 0;
            SeriesKey key = null;
            if (keyEnd >= 0 && cache.keeps(keyEnd - keyStart)) {
                hash = SeriesCache.hash(b, keyStart, keyEnd - keyStart);
                key = cache.get(b, keyStart, keyEnd - keyStart, hash);
            }
            if (key != null) {
                pos = keyEnd;
            } else {
                key = seriesKey();
                if (keyEnd >= 0 && pos == keyEnd && key.checked() && cache.keeps(keyEnd - keyStart)) {
                    cache.put(b, keyStart, keyEnd - keyStart, hash, key);
                }
            }
            fields(lineNumber, key);
        }

        /**
         * Where the series key starting at the cursor ends: its first space not escaped (a backslash before a comma,
         * equals sign, space or backslash escapes it in every element of a key), or -1 when a line end or the body's
         * end comes first (the key does not decode: no fields).
         */
        private int seriesKeyEnd() {
            for (int i = pos; i < end; i++) {
                byte c = b[i];
                if (c == '\\' && i + 1 < end) {
                    byte next = b[i + 1];
                    if (next == ',' || next == '=' || next == ' ' || next == '\\') {
                        i++;
                    }
                } else if (c == ' ') {
                    return i;
                } else if (c == '\n') {
                    return -1;
                }
            }
            return -1;
        }

        /** Decodes the series key at the cursor: the measurement and its tags, up to the space before the fields. */
        private SeriesKey seriesKey() throws LineError {
            String measurement = token(Element.MEASUREMENT);
            if (measurement.isEmpty()) {
                throw new LineError(Refusal.INVALID_NAME, "missing measurement");
            }
            List<String> labels = new ArrayList<>(8);
            while (pos < end && b[pos] == ',') {
                pos++;
                String key = token(Element.TAG_KEY);
                if (key.isEmpty()) {
                    throw new LineError(Refusal.INVALID_LABEL, "missing tag key");
                }
                if (pos >= end || b[pos] != '=') {
                    throw new LineError(Refusal.INVALID_LABEL, "missing tag value for tag key " + Admission.quote(key));
                }
                pos++;
                String value = token(Element.TAG_VALUE);
                if (pos < end && b[pos] == '=') {
                    throw new LineError(Refusal.INVALID_LABEL, "unescaped '=' in the value of tag " + Admission.quote(key));
                }
                if (value.isEmpty()) {
                    throw new LineError(Refusal.INVALID_LABEL, "missing tag value for tag key " + Admission.quote(key));
                }
                labels.add(labelName(key));
                labels.add(value);
            }
            if (pos >= end || b[pos] != ' ') {
                throw new LineError(Refusal.MISSING_FIELD, "missing fields");
            }
            return new SeriesKey(metricName(measurement) + "_", labels, admission.checkSeriesLabels(labels) == null);
        }

        /** The fields of a point whose series key is read (the cursor on the space after it), and its timestamp. */
        private void fields(int lineNumber, SeriesKey seriesKey) throws LineError, MalformedBatchException {
            skipSpaces();
            int count = 0;
            while (true) {
                String key = seriesKey.fieldKeyAt(b, pos, end);
                if (key != null) {
                    pos += key.length(); // on its '='
                } else {
                    key = token(Element.FIELD_KEY);
                    if (key.isEmpty()) {
                        throw new LineError(Refusal.MISSING_FIELD, "missing field key");
                    }
                    if (pos >= end || b[pos] != '=') {
                        throw new LineError(Refusal.MISSING_FIELD, "missing field value for field key "
                                + Admission.quote(key));
                    }
                }
                pos++;
                count = putField(count, key, fieldValue(key));
                if (pos < end && b[pos] == ',') {
                    pos++;
                    continue;
                }
                break;
            }
            long timestamp = timestamp();
            int numbers = 0;
            for (int i = 0; i < count; i++) {
                if (!Double.isNaN(fieldValues[i])) {
                    fieldSeries[numbers++] = series(seriesKey, fieldKeys[i], timestamp);
                }
            }
            if (samples + numbers > limits.maxItemsPerRequest()) {
                throw new MalformedBatchException("too_many_items", "more than " + limits.maxItemsPerRequest()
                        + " samples in one request (ingest.max-items-per-request); split the batch");
            }
            samples += numbers;
            stringFields += count - numbers;
            for (int i = 0, n = 0; i < count; i++) {
                if (!Double.isNaN(fieldValues[i])) {
                    valid.add(new ParsedBatch.Sample(lineNumber, fieldSeries[n++], timestamp, fieldValues[i]));
                }
            }
        }

        /**
         * Adds a field to the {@code count} read so far on this line; a key given before loses its earlier value and
         * place (the last one counts, in its place). Returns the new count.
         */
        private int putField(int count, String key, double value) {
            for (int i = 0; i < count; i++) {
                if (fieldKeys[i].equals(key)) {
                    System.arraycopy(fieldKeys, i + 1, fieldKeys, i, count - i - 1);
                    System.arraycopy(fieldValues, i + 1, fieldValues, i, count - i - 1);
                    count--;
                    break;
                }
            }
            if (count == fieldKeys.length) {
                fieldKeys = java.util.Arrays.copyOf(fieldKeys, count * 2);
                fieldValues = java.util.Arrays.copyOf(fieldValues, count * 2);
                fieldSeries = java.util.Arrays.copyOf(fieldSeries, count * 2);
            }
            fieldKeys[count] = key;
            fieldValues[count] = value;
            return count + 1;
        }

        /**
         * The series of field {@code fieldKey} under {@code key}, checked with the timestamp as {@link Admission#checkSample}
         * checks a sample: name, labels, then timestamp. Of a key whose labels passed, the name is all that is left to
         * check, once per field key; the series is then kept with the key.
         */
        private Series series(SeriesKey key, String fieldKey, long timestamp) throws LineError {
            Series series = key.checked() ? key.series(fieldKey) : null;
            if (series == null) {
                String name = key.prefix() + metricName(fieldKey);
                Refusal refusal = key.checked() ? admission.checkMetricName(name)
                        : admission.checkSeries(name, key.labels());
                if (refusal != null) {
                    throw new LineError(refusal.reason(), refusal.message());
                }
                series = Series.of(name, key.labels().toArray(String[]::new));
                if (key.checked()) {
                    key.keep(fieldKey, series);
                }
            }
            Refusal refusal = admission.checkTimestamp(timestamp, now);
            if (refusal != null) {
                throw new LineError(refusal.reason(), refusal.message());
            }
            return series;
        }

        private void skipSpaces() {
            while (pos < end && b[pos] == ' ') {
                pos++;
            }
        }

        /**
         * The timestamp after the fields (converted to milliseconds), or now when there is none; ends on the line's
         * {@code \n} or at the end.
         */
        private long timestamp() throws LineError {
            if (pos < end && b[pos] != ' ' && b[pos] != '\n' && b[pos] != '\r') {
                throw new LineError(Refusal.INVALID_ITEM, "unexpected character " + Admission.quote(
                        String.valueOf((char) (b[pos] & 0xff))) + " after a field value");
            }
            skipSpaces();
            int start = pos;
            while (pos < end && b[pos] != '\n' && b[pos] != ' ' && b[pos] != '\r') {
                pos++;
            }
            int stop = pos;
            while (pos < end && (b[pos] == ' ' || b[pos] == '\r')) {
                pos++;
            }
            if (pos < end && b[pos] != '\n') {
                throw new LineError(Refusal.INVALID_TIMESTAMP, "unexpected text after the timestamp");
            }
            if (stop == start) {
                return now;
            }
            Long t = integer(start, stop);
            if (t == null) {
                throw new LineError(Refusal.INVALID_TIMESTAMP, "timestamp " + Admission.quote(
                        new String(b, start, stop - start, StandardCharsets.ISO_8859_1)) + " is not an integer within 64 bits");
            }
            try {
                return precision.toMillis(t);
            } catch (ArithmeticException e) {
                throw new LineError(Refusal.INVALID_TIMESTAMP, "timestamp "
                        + new String(b, start, stop - start, StandardCharsets.ISO_8859_1) + " in "
                        + precision.name().toLowerCase(Locale.ROOT) + " is beyond the range of epoch milliseconds");
            }
        }

        /** A decimal integer with an optional '-', within 64 bits; null otherwise. */
        private Long integer(int start, int stop) {
            boolean negative = b[start] == '-';
            int i = negative ? start + 1 : start;
            if (i == stop) {
                return null;
            }
            long v = 0;
            for (; i < stop; i++) {
                int d = b[i] - '0';
                if (d < 0 || d > 9) {
                    return null;
                }
                // accumulate negatively so that Long.MIN_VALUE fits
                if (v < (Long.MIN_VALUE + d) / 10) {
                    return null;
                }
                v = v * 10 - d;
            }
            if (!negative) {
                if (v == Long.MIN_VALUE) {
                    return null;
                }
                v = -v;
            }
            return v;
        }

        /** A field value; the cursor ends after it. NaN for a string (dropped): a number is never NaN. */
        private double fieldValue(String key) throws LineError {
            if (pos < end && b[pos] == '"') {
                pos++;
                boolean closed = false;
                while (pos < end) {
                    byte c = b[pos];
                    if (c == '\\' && pos + 1 < end && (b[pos + 1] == '"' || b[pos + 1] == '\\')) {
                        pos += 2;
                        continue;
                    }
                    if (c == '\n') {
                        line++;
                    } else if (c == '"') {
                        pos++;
                        closed = true;
                        break;
                    }
                    pos++;
                }
                if (!closed) {
                    throw new LineError(Refusal.INVALID_ITEM, "unterminated string in field " + Admission.quote(key));
                }
                return Double.NaN;
            }
            int start = pos;
            while (pos < end && b[pos] != ',' && b[pos] != ' ' && b[pos] != '\n' && b[pos] != '\r') {
                pos++;
            }
            int stop = pos;
            if (stop == start) {
                throw new LineError(Refusal.MISSING_FIELD, "missing field value for field key " + Admission.quote(key));
            }
            double v = number(start, stop);
            if (Double.isNaN(v)) {
                throw new LineError(Refusal.INVALID_VALUE, "invalid value "
                        + Admission.quote(new String(b, start, stop - start, StandardCharsets.UTF_8)) + " of field "
                        + Admission.quote(key) + ": expected a float (NaN and Inf are not allowed), an integer (12i), "
                        + "an unsigned integer (12u), a boolean or a double-quoted string");
            }
            return v;
        }

        /**
         * A float, integer, unsigned or boolean literal as a double; NaN when it is none (or out of range: the literals
         * taken never mean NaN).
         */
        private double number(int start, int stop) {
            int n = stop - start;
            byte last = b[stop - 1];
            if (n <= 5) {
                if (is(start, n, "t") || is(start, n, "T") || is(start, n, "true") || is(start, n, "True")
                        || is(start, n, "TRUE")) {
                    return 1.0;
                }
                if (is(start, n, "f") || is(start, n, "F") || is(start, n, "false") || is(start, n, "False")
                        || is(start, n, "FALSE")) {
                    return 0.0;
                }
            }
            if (last == 'i') {
                Long v = n > 1 ? integer(start, stop - 1) : null;
                return v == null ? Double.NaN : (double) v;
            }
            if (last == 'u') {
                if (n < 2) {
                    return Double.NaN;
                }
                long v = 0;
                for (int i = start; i < stop - 1; i++) {
                    int d = b[i] - '0';
                    if (d < 0 || d > 9 || Long.compareUnsigned(v, Long.divideUnsigned(-1L - d, 10)) > 0) {
                        return Double.NaN;
                    }
                    v = v * 10 + d;
                }
                return v >= 0 ? (double) v : ((v >>> 1) | (v & 1)) * 2.0;
            }
            // -?digits[.digits][(e|E)[+-]digits], at least one digit before the exponent
            int i = start;
            boolean negative = b[i] == '-';
            if (negative) {
                i++;
            }
            int digits = 0;
            int fraction = 0;
            long mantissa = 0;
            while (i < stop && b[i] >= '0' && b[i] <= '9') {
                mantissa = mantissa * 10 + (b[i++] - '0'); // overflows past 18 digits: then not used
                digits++;
            }
            if (i < stop && b[i] == '.') {
                i++;
                while (i < stop && b[i] >= '0' && b[i] <= '9') {
                    mantissa = mantissa * 10 + (b[i++] - '0');
                    digits++;
                    fraction++;
                }
            }
            if (digits == 0) {
                return Double.NaN;
            }
            boolean exponent = i < stop && (b[i] == 'e' || b[i] == 'E');
            if (exponent) {
                i++;
                if (i < stop && (b[i] == '+' || b[i] == '-')) {
                    i++;
                }
                int exponentDigits = 0;
                while (i < stop && b[i] >= '0' && b[i] <= '9') {
                    i++;
                    exponentDigits++;
                }
                if (exponentDigits == 0) {
                    return Double.NaN;
                }
            }
            if (i != stop) {
                return Double.NaN;
            }
            if (!exponent && digits <= EXACT_DIGITS) {
                // the mantissa (< 10^15 < 2^53) and 10^fraction (fraction <= 15 <= 22) are both exact doubles, so their
                // quotient is the correctly rounded value, as Double.parseDouble gives it (Clinger's fast path)
                double v = fraction == 0 ? (double) mantissa : (double) mantissa / POWERS_OF_TEN[fraction];
                return negative ? -v : v;
            }
            double v = Double.parseDouble(new String(b, start, n, StandardCharsets.ISO_8859_1));
            return Double.isInfinite(v) ? Double.NaN : v;
        }

        /** Whether the {@code n} bytes at {@code start} are the ASCII {@code literal}. */
        private boolean is(int start, int n, String literal) {
            if (n != literal.length()) {
                return false;
            }
            for (int j = 0; j < n; j++) {
                if (b[start + j] != literal.charAt(j)) {
                    return false;
                }
            }
            return true;
        }

        /**
         * Reads a measurement, tag key, tag value or field key up to its first unescaped delimiter (which the cursor
         * is then on), undoing the element's escapes.
         */
        private String token(Element element) throws LineError {
            int n = 0;
            boolean ascii = true;
            while (pos < end) {
                byte c = b[pos];
                if (c == '\\' && pos + 1 < end && element.escapable(b[pos + 1])) {
                    c = b[pos + 1];
                    pos += 2;
                } else if (c == ',' || c == ' ' || c == '\n' || (c == '=' && element != Element.MEASUREMENT)) {
                    break;
                } else {
                    pos++;
                }
                if (n == raw.length) {
                    raw = java.util.Arrays.copyOf(raw, n * 2);
                }
                raw[n++] = c;
                ascii &= c >= 0;
            }
            if (n > 0 && raw[n - 1] == '\r' && (pos >= end || b[pos] == '\n')) {
                n--; // the line's CR, not part of the element
            }
            if (ascii) {
                return new String(raw, 0, n, StandardCharsets.ISO_8859_1);
            }
            try {
                return utf8.decode(ByteBuffer.wrap(raw, 0, n)).toString();
            } catch (CharacterCodingException e) {
                throw new LineError(Refusal.INVALID_ITEM, element.description + " is not valid UTF-8");
            }
        }
    }

    /** The parts of a line whose escapes differ. */
    private enum Element {
        MEASUREMENT("the measurement", false),
        TAG_KEY("a tag key", true),
        TAG_VALUE("a tag value", true),
        FIELD_KEY("a field key", true);

        final String description;
        private final boolean equalsSign;

        Element(String description, boolean equalsSign) {
            this.description = description;
            this.equalsSign = equalsSign;
        }

        boolean escapable(byte c) {
            return c == ',' || c == ' ' || c == '\\' || (equalsSign && c == '=');
        }
    }

    /** {@code s} with every character a metric name may not hold replaced by {@code _}, and a leading digit prefixed. */
    static String metricName(String s) {
        return sanitise(s, true);
    }

    /** {@code s} with every character a label name may not hold replaced by {@code _}, and a leading digit prefixed. */
    static String labelName(String s) {
        return sanitise(s, false);
    }

    private static String sanitise(String s, boolean metric) {
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9')
                    || (metric && (c == ':' || (c == '.' && i > 0)));
            if (ok && i == 0 && c >= '0' && c <= '9') {
                out = new StringBuilder(s.length() + 1).append('_');
            }
            if (!ok && out == null) {
                out = new StringBuilder(s.length()).append(s, 0, i);
            }
            if (out != null) {
                out.append(ok ? c : '_');
            }
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++; // one code point, one '_'
            }
        }
        return out == null ? s : out.toString();
    }
}
