package io.sluice.gateway.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
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
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * Reads and validates HTTP ingest bodies.
 *
 * <pre>
 * metrics: {"samples": [{"name": "cpu.usage", "labels": {"host": "a"}, "timestamp": 1700000000000, "value": 0.5}]}
 * events:  {"events":  [{"id": "e-1", "type": "deploy", "timestamp": "2026-11-23T10:00:00Z", "key": "api",
 *                        "attributes": {"version": "1.2"}}]}
 * </pre>
 *
 * <p>{@code timestamp} is epoch milliseconds or an RFC 3339 string; when absent it is the server's now.
 * Each item is checked on its own against {@link IngestConfig}: a bad item is refused with a
 * {@link Rejection} and the rest still count. Only a body that is not JSON or not of this shape, or has
 * more than {@code ingest.max-items-per-request} items, is refused whole.
 */
public final class IngestParser {

    private static final Pattern METRIC_NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:.]*");
    private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
    private static final Pattern EVENT_TYPE = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_.:-]*");
    private static final JsonFactory JSON = Json.REQUESTS;

    private final IngestConfig limits;
    private final LongSupplier nowMillis;

    public IngestParser(IngestConfig limits, LongSupplier nowMillis) {
        this.limits = limits;
        this.nowMillis = nowMillis;
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
        long now = nowMillis.getAsLong();
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
                        rejections.add(new Rejection(index, Rejection.INVALID_ITEM, field + "[" + index + "] is not an object"));
                    } else if (samples) {
                        readSample(p, index, now, valid, rejections);
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

    /** Reads one sample object; the parser ends on its END_OBJECT. */
    private void readSample(JsonParser p, int index, long now, List<ParsedBatch.Sample> out, List<Rejection> rejections)
            throws IOException {
        String name = null;
        Map<String, String> labels = Map.of();
        Long timestamp = null;
        Double value = null;
        Rejection problem = null;
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
                        problem = new Rejection(index, Rejection.INVALID_NAME, "name must be a string");
                    } else {
                        name = p.getText();
                    }
                }
                case "labels" -> {
                    LabelsOrProblem read = readLabels(p, index, "labels");
                    labels = read.labels;
                    problem = read.problem;
                }
                case "timestamp" -> {
                    TimestampOrProblem ts = readTimestamp(p, index, now);
                    timestamp = ts.millis;
                    problem = ts.problem;
                }
                case "value" -> {
                    if (token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT) {
                        value = p.getDoubleValue();
                        if (!Double.isFinite(value)) {
                            problem = new Rejection(index, Rejection.INVALID_VALUE, "value must be a finite number");
                        }
                    } else {
                        p.skipChildren();
                        problem = new Rejection(index, Rejection.INVALID_VALUE, "value must be a number");
                    }
                }
                default -> p.skipChildren();
            }
        }
        if (problem == null && name == null) {
            problem = new Rejection(index, Rejection.MISSING_FIELD, "name is required");
        }
        if (problem == null && value == null) {
            problem = new Rejection(index, Rejection.MISSING_FIELD, "value is required");
        }
        if (problem == null) {
            problem = checkName(index, name, METRIC_NAME, Rejection.INVALID_NAME, "name");
        }
        if (problem != null) {
            rejections.add(problem);
            return;
        }
        out.add(new ParsedBatch.Sample(index, Series.of(name, labels), timestamp == null ? now : timestamp, value));
    }

    private void readEvent(JsonParser p, int index, long now, List<Event> out, List<Rejection> rejections)
            throws IOException {
        String id = null;
        String type = null;
        String key = "";
        Long timestamp = null;
        Map<String, String> attributes = Map.of();
        Rejection problem = null;
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
                        problem = new Rejection(index, Rejection.INVALID_ITEM, field + " must be a string");
                    } else if (field.equals("id")) {
                        id = p.getText();
                    } else if (field.equals("type")) {
                        type = p.getText();
                    } else {
                        key = p.getText();
                    }
                }
                case "attributes" -> {
                    LabelsOrProblem read = readLabels(p, index, "attributes");
                    attributes = read.labels;
                    problem = read.problem;
                }
                case "timestamp" -> {
                    TimestampOrProblem ts = readTimestamp(p, index, now);
                    timestamp = ts.millis;
                    problem = ts.problem;
                }
                default -> p.skipChildren();
            }
        }
        if (problem == null && (id == null || id.isEmpty())) {
            problem = new Rejection(index, Rejection.MISSING_FIELD, "id is required");
        }
        if (problem == null && type == null) {
            problem = new Rejection(index, Rejection.MISSING_FIELD, "type is required");
        }
        if (problem == null && id.length() > limits.maxLabelValueLength()) {
            problem = new Rejection(index, Rejection.INVALID_ITEM, "id is longer than " + limits.maxLabelValueLength()
                    + " characters (ingest.max-label-value-length)");
        }
        if (problem == null && (id.indexOf('\0') >= 0 || key.indexOf('\0') >= 0)) {
            problem = new Rejection(index, Rejection.INVALID_ITEM, "id and key may not contain a NUL character");
        }
        if (problem == null && key.length() > limits.maxLabelValueLength()) {
            problem = new Rejection(index, Rejection.INVALID_ITEM, "key is longer than " + limits.maxLabelValueLength()
                    + " characters (ingest.max-label-value-length)");
        }
        if (problem == null) {
            problem = checkName(index, type, EVENT_TYPE, Rejection.INVALID_NAME, "type");
        }
        if (problem != null) {
            rejections.add(problem);
            return;
        }
        out.add(new Event(id, type, timestamp == null ? now : timestamp, key, attributes));
    }

    private Rejection checkName(int index, String name, Pattern pattern, String reason, String field) {
        if (name.isEmpty() || name.length() > limits.maxNameLength()) {
            return new Rejection(index, reason, field + " must have 1 to " + limits.maxNameLength()
                    + " characters (ingest.max-name-length)");
        }
        if (!pattern.matcher(name).matches()) {
            return new Rejection(index, reason, field + " '" + name + "' does not match " + pattern.pattern());
        }
        return null;
    }

    private record LabelsOrProblem(Map<String, String> labels, Rejection problem) {
    }

    private LabelsOrProblem readLabels(JsonParser p, int index, String field) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            p.skipChildren();
            return new LabelsOrProblem(Map.of(), new Rejection(index, Rejection.INVALID_LABEL,
                    field + " must be an object of strings"));
        }
        Map<String, String> labels = new TreeMap<>();
        Rejection problem = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken token = p.nextToken();
            if (problem != null) {
                p.skipChildren();
                continue;
            }
            if (token != JsonToken.VALUE_STRING) {
                p.skipChildren();
                problem = new Rejection(index, Rejection.INVALID_LABEL, field + "." + name + " must be a string");
            } else if (name.isEmpty() || name.length() > limits.maxLabelNameLength()
                    || !LABEL_NAME.matcher(name).matches() || name.startsWith("__")) {
                problem = new Rejection(index, Rejection.INVALID_LABEL, field + " name '" + name + "' must match "
                        + LABEL_NAME.pattern() + ", not start with __, and have at most "
                        + limits.maxLabelNameLength() + " characters (ingest.max-label-name-length)");
            } else if (p.getTextLength() == 0 || p.getTextLength() > limits.maxLabelValueLength()) {
                problem = new Rejection(index, Rejection.INVALID_LABEL, field + "." + name + " must have 1 to "
                        + limits.maxLabelValueLength() + " characters (ingest.max-label-value-length)");
            } else if (p.getText().indexOf('\0') >= 0) {
                problem = new Rejection(index, Rejection.INVALID_LABEL, field + "." + name
                        + " contains a NUL character");
            } else if (labels.put(name, p.getText()) != null) {
                problem = new Rejection(index, Rejection.INVALID_LABEL, field + "." + name + " appears twice");
            } else if (labels.size() > limits.maxLabels()) {
                problem = new Rejection(index, Rejection.TOO_MANY_LABELS, "more than " + limits.maxLabels() + " "
                        + field + " (ingest.max-labels)");
            }
        }
        return new LabelsOrProblem(labels, problem);
    }

    private record TimestampOrProblem(Long millis, Rejection problem) {
    }

    private TimestampOrProblem readTimestamp(JsonParser p, int index, long now) throws IOException {
        long millis;
        JsonToken token = p.currentToken();
        if (token == JsonToken.VALUE_NUMBER_INT) {
            millis = p.getLongValue();
        } else if (token == JsonToken.VALUE_STRING) {
            try {
                millis = OffsetDateTime.parse(p.getText()).toInstant().toEpochMilli();
            } catch (DateTimeParseException | ArithmeticException e) { // ArithmeticException: beyond epoch ms
                return new TimestampOrProblem(null, new Rejection(index, Rejection.INVALID_TIMESTAMP,
                        "timestamp '" + p.getText() + "' is neither epoch milliseconds nor RFC 3339"));
            }
        } else {
            p.skipChildren();
            return new TimestampOrProblem(null, new Rejection(index, Rejection.INVALID_TIMESTAMP,
                    "timestamp must be epoch milliseconds (integer) or an RFC 3339 string"));
        }
        if (millis < now - limits.lateWindow().toMillis()) {
            return new TimestampOrProblem(null, new Rejection(index, Rejection.TOO_OLD, "timestamp " + millis
                    + " is older than the late-data window of " + limits.lateWindow() + " (ingest.late-window)"));
        }
        if (millis > now + limits.clockSkew().toMillis()) {
            return new TimestampOrProblem(null, new Rejection(index, Rejection.TOO_NEW, "timestamp " + millis
                    + " is further ahead than the clock-skew allowance of " + limits.clockSkew() + " (ingest.clock-skew)"));
        }
        return new TimestampOrProblem(millis, null);
    }
}
