package io.sluice.gateway.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.util.concurrent.FastThreadLocal;
import io.sluice.gateway.http.JsonDoubles;
import io.sluice.config.IngestConfig;
import io.sluice.gateway.http.Json;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.Series;

import java.io.IOException;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Decodes HTTP ingest bodies (JSON) into samples and events, and hands each item to {@link Admission}.
 *
 * <pre>
 * metrics: {"samples": [{"name": "cpu.usage", "labels": {"host": "a"}, "timestamp": 1700000000000, "value": 0.5}]}
 * events:  {"events":  [{"id": "e-1", "type": "deploy", "timestamp": "2026-11-23T10:00:00Z", "key": "api",
 *                        "attributes": {"version": "1.2"}}]}
 * </pre>
 *
 * <p>{@code timestamp} is epoch milliseconds or an RFC 3339 string; when absent it is the server's now.
 * {@code value} is a JSON number, or one of the strings {@code "NaN"}, {@code "+Inf"}, {@code "-Inf"}
 * ({@link JsonDoubles}). This class only decodes: a field of the wrong type or missing is refused here
 * ({@code invalid_*}, {@code missing_field}); every rule about what a well-formed item may hold is
 * {@link Admission}'s. A bad item is refused with a {@link Rejection} and the rest still count. Only a body
 * that is not JSON or not of this shape, or has more than {@code ingest.max-items-per-request} items, is
 * refused whole.
 */
public final class IngestParser {

    private static final JsonFactory JSON = Json.REQUESTS;

    private final IngestConfig limits;
    private final Admission admission;
    /**
     * Series by their bytes ({@link SeriesCache}): a sample's {@code name} token (quotes included), then its
     * {@code labels} object as sent, if it has one. A name token starts and ends with a quote and an object with a brace,
     * so the two together decode to one name and one set of labels.
     */
    private final SeriesCache<Series> cache;

    public IngestParser(IngestConfig limits, Admission admission) {
        this.limits = limits;
        this.admission = admission;
        this.cache = new SeriesCache<>(limits.seriesCacheEntries());
    }

    /** Counts this parser's series cache lookups under {@code format="json"}. */
    public void register(io.micrometer.core.instrument.MeterRegistry registry) {
        cache.register(registry, "json");
    }

    public ParsedBatch parseSamples(ByteBuf body) throws MalformedBatchException {
        return parse(body, "samples", true);
    }

    public ParsedBatch parseEvents(ByteBuf body) throws MalformedBatchException {
        return parse(body, "events", false);
    }

    private ParsedBatch parse(ByteBuf body, String field, boolean samples) throws MalformedBatchException {
        List<ParsedBatch.Sample> valid = new ArrayList<>();
        List<Event> events = new ArrayList<>();
        List<Rejection> rejections = new ArrayList<>();
        int index = 0;
        long now = admission.now();
        Scratch scratch = SCRATCH.get();
        try (JsonParser p = JSON.createParser((java.io.InputStream) new ByteBufInputStream(body.duplicate()))) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw shape(field);
            }
            boolean found = false;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if (!name.equals(field)) {
                    p.skipChildren();
                    continue;
                }
                if (value != JsonToken.START_ARRAY) {
                    throw shape(field);
                }
                found = true;
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    if (index >= limits.maxItemsPerRequest()) {
                        throw new MalformedBatchException("too_many_items", "more than " + limits.maxItemsPerRequest()
                                + " " + field + " in one request (ingest.max-items-per-request); split the batch");
                    }
                    if (p.currentToken() != JsonToken.START_OBJECT) {
                        p.skipChildren();
                        rejections.add(new Rejection(index, Refusal.INVALID_ITEM, field + "[" + index + "] is not an object"));
                    } else if (samples) {
                        readSample(p, body, scratch, index, now, valid, rejections);
                    } else {
                        readEvent(p, index, now, events, rejections);
                    }
                    index++;
                }
            }
            if (!found) {
                throw shape(field);
            }
            if (p.nextToken() != null) {
                throw new MalformedBatchException("invalid_json", "unexpected content after the JSON object");
            }
        } catch (StreamConstraintsException e) {
            throw new MalformedBatchException("invalid_json", "body exceeds a JSON limit: "
                    + Json.describe(e));
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new MalformedBatchException("invalid_json", "body is not valid JSON: " + e.getOriginalMessage()
                    + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr()));
        } catch (IOException e) {
            throw new MalformedBatchException("invalid_json", "body could not be read: " + e.getMessage());
        }
        return new ParsedBatch(valid, events, rejections, index);
    }

    private static MalformedBatchException shape(String field) {
        return new MalformedBatchException("invalid_batch", "expected a JSON object with a \"" + field + "\" array");
    }

    /**
     * Reads one sample object (the parser ends on its END_OBJECT) and hands it to admission. Its {@code labels} object
     * is first only skipped over: the series of its name and labels is looked up by their bytes in {@link #cache}, and
     * the labels are read only when it is not there (or when a field after them is refused, as their own refusal
     * comes first). A series found there was read and checked before, so only the timestamp is left to check.
     */
    private void readSample(JsonParser p, ByteBuf body, Scratch scratch, int index, long now,
                            List<ParsedBatch.Sample> out, List<Rejection> rejections) throws IOException {
        String name = null;
        boolean named = false;
        long nameStart = -1;
        long nameEnd = -1;
        Span labels = null;
        long timestamp = now;
        double value = 0;
        boolean valued = false;
        Refusal problem = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken token = p.nextToken();
            if (problem != null) {
                p.skipChildren();
                continue;
            }
            switch (field) {
                case "name" -> {
                    if (token != JsonToken.VALUE_STRING) {
                        p.skipChildren();
                        problem = new Refusal(Refusal.INVALID_NAME, "name must be a string");
                    } else {
                        named = true;
                        nameStart = p.currentTokenLocation().getByteOffset();
                        if (nameStart < 0 || !cache.enabled()) { // no byte offsets (a UTF-16 or UTF-32 body), no cache
                            name = p.getText();
                        } else { // its String made only if its series is not in the cache
                            p.finishToken();
                        }
                        nameEnd = p.currentLocation().getByteOffset();
                    }
                }
                case "labels" -> {
                    problem = labels == null ? null : labels.read(body).problem; // given twice: the first one's refusal
                    if (problem != null) {
                        p.skipChildren();
                    } else if (token != JsonToken.START_OBJECT) {
                        p.skipChildren();
                        problem = new Refusal(Refusal.INVALID_LABEL, "labels must be an object of strings");
                    } else {
                        long start = p.currentTokenLocation().getByteOffset();
                        if (start < 0) { // no byte offsets (Jackson decodes a UTF-16 or UTF-32 body as chars): read here
                            labels = new Span(-1, -1);
                            labels.read = true;
                            labels.keyValues = new ArrayList<>();
                            problem = labels.problem = readLabels(p, "labels", labels.keyValues);
                        } else {
                            p.skipChildren();
                            labels = scratch.span(start, p.currentLocation().getByteOffset());
                        }
                    }
                }
                case "timestamp" -> {
                    Long ts = readTimestamp(p);
                    if (ts == null) {
                        problem = invalidTimestamp(p);
                    } else {
                        timestamp = ts;
                    }
                }
                case "value" -> {
                    valued = false; // given twice: the last one counts
                    if (token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT) {
                        value = p.getDoubleValue();
                        valued = !Double.isInfinite(value); // a number too large for a double is not infinity
                    } else if (token == JsonToken.VALUE_STRING) {
                        Double special = JsonDoubles.parseSpecial(p.getText());
                        valued = special != null;
                        value = valued ? special : 0;
                    }
                    if (!valued) {
                        problem = new Refusal(Refusal.INVALID_VALUE, "value must be a number, or one of the strings "
                                + "\"NaN\", \"+Inf\", \"-Inf\"" + (token.isNumeric() ? "; this number is beyond the range of a "
                                + "64-bit float" : ""));
                        p.skipChildren();
                    }
                }
                default -> p.skipChildren();
            }
            if (problem != null && labels != null && labels.read(body).problem != null) {
                problem = labels.problem; // refused before the field after them
            }
        }
        Series series = null;
        long hash = 0;
        int keyLength = -1;
        byte[] key = null;
        long keyBytes = nameEnd - nameStart + (labels == null ? 0 : labels.end - labels.start);
        if (problem == null && named && nameStart >= 0 && nameEnd > nameStart
                && (labels == null || labels.start >= 0) && cache.keeps(keyBytes)) {
            key = scratch.key(body, nameStart, nameEnd, labels);
            keyLength = (int) keyBytes;
            hash = SeriesCache.hash(key, 0, keyLength);
            series = cache.get(key, 0, keyLength, hash);
        }
        List<String> labelList = List.of();
        if (series == null && problem == null && labels != null) {
            problem = labels.read(body).problem;
            labelList = labels.keyValues;
        }
        if (problem == null && !named) {
            problem = new Refusal(Refusal.MISSING_FIELD, "name is required");
        }
        if (problem == null && !valued) {
            problem = new Refusal(Refusal.MISSING_FIELD, "value is required");
        }
        if (problem == null && series == null && name == null) {
            name = readString(body, nameStart, nameEnd);
        }
        if (problem == null) {
            problem = series != null ? admission.checkTimestamp(timestamp, now)
                    : admission.checkSample(name, labelList, timestamp, now);
        }
        if (problem != null) {
            rejections.add(Rejection.of(index, problem));
            return;
        }
        if (series == null) {
            series = Series.of(name, labelList.toArray(String[]::new));
            if (key != null) {
                cache.put(key, 0, keyLength, hash, series);
            }
        }
        out.add(new ParsedBatch.Sample(index, series, timestamp, value));
    }

    /** The JSON string token at {@code [start, end)} of {@code body} (offsets from its reader index), decoded. */
    private static String readString(ByteBuf body, long start, long end) throws IOException {
        int length = (int) (end - start);
        byte[] bytes = new byte[length];
        body.getBytes(body.readerIndex() + (int) start, bytes);
        try (JsonParser string = JSON.createParser(bytes, 0, length)) {
            string.nextToken();
            return string.getText();
        }
    }

    /**
     * The bytes of a {@code labels} object, from its brace to its closing brace, and what reading them gave. A body's
     * samples share one ({@link Scratch#span}), as a sample's labels are read while that sample is, or not at all.
     */
    private static final class Span {
        long start;
        long end;
        boolean read;
        Refusal problem;
        List<String> keyValues;

        Span(long start, long end) {
            this.start = start;
            this.end = end;
        }

        /** Reads the labels (once): {@link #keyValues} as {@link #readLabels} gives them, or its {@link #problem}. */
        Span read(ByteBuf body) throws IOException {
            if (!read) {
                read = true;
                int length = (int) (end - start);
                byte[] bytes = new byte[length];
                body.getBytes(body.readerIndex() + (int) start, bytes);
                keyValues = new ArrayList<>();
                try (JsonParser labels = JSON.createParser(bytes, 0, length)) {
                    labels.nextToken();
                    problem = readLabels(labels, "labels", keyValues);
                }
            }
            return this;
        }
    }

    /** Per thread: where a sample's cache key is put together, and its labels' span. */
    private static final FastThreadLocal<Scratch> SCRATCH = new FastThreadLocal<>() {
        @Override
        protected Scratch initialValue() {
            return new Scratch();
        }
    };

    /** A buffer for one cache key at a time, at most {@link SeriesCache#MAX_KEY_BYTES}, and one {@link Span}. */
    private static final class Scratch {
        private byte[] bytes = new byte[256];
        private final Span span = new Span(-1, -1);

        /** The span of the labels of the sample being read (valid until the next call on this thread). */
        Span span(long start, long end) {
            span.start = start;
            span.end = end;
            span.read = false;
            span.problem = null;
            span.keyValues = null;
            return span;
        }

        /**
         * A sample's cache key: the name token's bytes (offsets into the body from its reader index), then the labels
         * object's, if any, from the start of the returned array (valid until the next call on this thread).
         */
        byte[] key(ByteBuf body, long nameStart, long nameEnd, Span labels) {
            int nameLength = (int) (nameEnd - nameStart);
            int labelsLength = labels == null ? 0 : (int) (labels.end - labels.start);
            if (bytes.length < nameLength + labelsLength) {
                bytes = new byte[Math.max(2 * bytes.length, nameLength + labelsLength)];
            }
            int base = body.readerIndex();
            body.getBytes(base + (int) nameStart, bytes, 0, nameLength);
            if (labels != null) {
                body.getBytes(base + (int) labels.start, bytes, nameLength, labelsLength);
            }
            return bytes;
        }
    }

    /** Reads one event object (the parser ends on its END_OBJECT) and hands it to admission. */
    private void readEvent(JsonParser p, int index, long now, List<Event> out, List<Rejection> rejections)
            throws IOException {
        String id = null;
        String type = null;
        String key = "";
        long timestamp = now;
        List<String> attributes = List.of();
        Refusal problem = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken token = p.nextToken();
            if (problem != null) {
                p.skipChildren();
                continue;
            }
            switch (field) {
                case "id", "type", "key" -> {
                    if (token != JsonToken.VALUE_STRING) {
                        p.skipChildren();
                        String reason = field.equals("id") ? Refusal.INVALID_ID
                                : field.equals("type") ? Refusal.INVALID_NAME : Refusal.INVALID_KEY;
                        problem = new Refusal(reason, field + " must be a string");
                    } else if (field.equals("id")) {
                        id = p.getText();
                    } else if (field.equals("type")) {
                        type = p.getText();
                    } else {
                        key = p.getText();
                    }
                }
                case "attributes" -> {
                    attributes = new ArrayList<>();
                    problem = readLabels(p, "attributes", attributes);
                }
                case "timestamp" -> {
                    Long ts = readTimestamp(p);
                    if (ts == null) {
                        problem = invalidTimestamp(p);
                    } else {
                        timestamp = ts;
                    }
                }
                default -> p.skipChildren();
            }
        }
        if (problem == null && id == null) {
            problem = new Refusal(Refusal.MISSING_FIELD, "id is required");
        }
        if (problem == null && type == null) {
            problem = new Refusal(Refusal.MISSING_FIELD, "type is required");
        }
        if (problem == null) {
            problem = admission.checkEvent(id, type, key, attributes, timestamp, now);
        }
        if (problem != null) {
            rejections.add(Rejection.of(index, problem));
            return;
        }
        Map<String, String> attributeMap = new TreeMap<>();
        for (int i = 0; i < attributes.size(); i += 2) {
            attributeMap.put(attributes.get(i), attributes.get(i + 1));
        }
        out.add(new Event(id, type, timestamp, key, attributeMap));
    }

    /**
     * Reads an object of strings into {@code keyValues} (alternating names and values, as given, a name
     * given twice included: admission refuses it). Null when it is one, otherwise the decoding problem.
     */
    private static Refusal readLabels(JsonParser p, String field, List<String> keyValues) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            p.skipChildren();
            return new Refusal(Refusal.INVALID_LABEL, field + " must be an object of strings");
        }
        Refusal problem = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken token = p.nextToken();
            if (problem != null) {
                p.skipChildren();
            } else if (token != JsonToken.VALUE_STRING) {
                p.skipChildren();
                problem = new Refusal(Refusal.INVALID_LABEL, field + " " + Admission.quote(name) + " must be a string");
            } else {
                keyValues.add(name);
                keyValues.add(p.getText());
            }
        }
        return problem;
    }

    /** Epoch milliseconds (an integer) or an RFC 3339 string; null when it is neither. */
    private static Long readTimestamp(JsonParser p) throws IOException {
        JsonToken token = p.currentToken();
        if (token == JsonToken.VALUE_NUMBER_INT) {
            JsonParser.NumberType type = p.getNumberType();
            return type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG ? p.getLongValue() : null;
        }
        if (token == JsonToken.VALUE_STRING) {
            try {
                return OffsetDateTime.parse(p.getText()).toInstant().toEpochMilli();
            } catch (DateTimeParseException | ArithmeticException e) {
                return null;
            }
        }
        return null;
    }

    private static Refusal invalidTimestamp(JsonParser p) throws IOException {
        String got = p.currentToken() == JsonToken.VALUE_STRING ? Admission.quote(p.getText()) + " is"
                : p.currentToken().isNumeric() ? p.getText() + " is" : "it is";
        p.skipChildren();
        return new Refusal(Refusal.INVALID_TIMESTAMP, "timestamp must be epoch milliseconds (an integer) or an "
                + "RFC 3339 string; " + got + " neither");
    }
}
