package io.sluice.storage.alerting.notify;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Small JSON documents as plain Java values ({@code Map} in field order, {@code List}, {@code String}, {@code Long}
 * or {@code Double}, {@code Boolean}, {@code null}), read and written with jackson-core's streaming API: the jsonb
 * columns of the notification tables and the bodies of the notification APIs.
 */
public final class JsonTree {

    private static final JsonFactory FACTORY = JsonFactory.builder().build();

    /** Thrown for a document that is not what was expected; the message says what. */
    public static final class InvalidJsonException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        public InvalidJsonException(String message) {
            super(message);
        }
    }

    /** What writes one document. */
    @FunctionalInterface
    public interface Writer {
        void write(JsonGenerator json) throws IOException;
    }

    private JsonTree() {
    }

    /** The document {@code text} (trusted: from PostgreSQL). */
    public static Object parse(String text) {
        try (JsonParser p = FACTORY.createParser(text)) {
            return read(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads one whole document from {@code p} and checks nothing follows it. */
    public static Object read(JsonParser p) throws IOException {
        JsonToken first = p.nextToken();
        if (first == null) {
            throw new InvalidJsonException("empty body");
        }
        Object value = value(p, first);
        if (p.nextToken() != null) {
            throw new InvalidJsonException("unexpected content after the JSON document");
        }
        return value;
    }

    private static Object value(JsonParser p, JsonToken t) throws IOException {
        switch (t) {
            case START_OBJECT -> {
                Map<String, Object> map = new LinkedHashMap<>();
                for (JsonToken n = p.nextToken(); n == JsonToken.FIELD_NAME; n = p.nextToken()) {
                    String name = p.currentName();
                    if (map.containsKey(name)) {
                        throw new InvalidJsonException("field " + name + " appears twice");
                    }
                    map.put(name, value(p, p.nextToken()));
                }
                return map;
            }
            case START_ARRAY -> {
                List<Object> list = new ArrayList<>();
                for (JsonToken n = p.nextToken(); n != JsonToken.END_ARRAY; n = p.nextToken()) {
                    list.add(value(p, n));
                }
                return list;
            }
            case VALUE_STRING -> {
                return p.getText();
            }
            case VALUE_NUMBER_INT -> {
                return p.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? (Object) p.getDoubleValue()
                        : (Object) p.getLongValue();
            }
            case VALUE_NUMBER_FLOAT -> {
                return p.getDoubleValue();
            }
            case VALUE_TRUE -> {
                return Boolean.TRUE;
            }
            case VALUE_FALSE -> {
                return Boolean.FALSE;
            }
            case VALUE_NULL -> {
                return null;
            }
            default -> throw new InvalidJsonException("unexpected " + t);
        }
    }

    /** A JSON object of strings (labels, annotations, headers), sorted by name. */
    public static SortedMap<String, String> stringMap(Object value, String field) {
        if (!(value instanceof Map<?, ?> map)) {
            throw new InvalidJsonException(field + ": expected an object of strings");
        }
        SortedMap<String, String> out = new TreeMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new InvalidJsonException(field + "." + e.getKey() + ": expected a string");
            }
            out.put((String) e.getKey(), s);
        }
        return out;
    }

    /** The document {@code writer} writes, as text. */
    public static String write(Writer writer) {
        StringWriter out = new StringWriter();
        try (JsonGenerator json = FACTORY.createGenerator(out)) {
            writer.write(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /** {@code value} (of the kinds {@link #read} returns) as JSON. */
    public static void writeValue(JsonGenerator json, Object value) throws IOException {
        if (value == null) {
            json.writeNull();
        } else if (value instanceof Map<?, ?> map) {
            json.writeStartObject();
            for (Map.Entry<?, ?> e : map.entrySet()) {
                json.writeFieldName((String) e.getKey());
                writeValue(json, e.getValue());
            }
            json.writeEndObject();
        } else if (value instanceof List<?> list) {
            json.writeStartArray();
            for (Object o : list) {
                writeValue(json, o);
            }
            json.writeEndArray();
        } else if (value instanceof String s) {
            json.writeString(s);
        } else if (value instanceof Long l) {
            json.writeNumber(l);
        } else if (value instanceof Integer i) {
            json.writeNumber(i);
        } else if (value instanceof Double d) {
            json.writeNumber(d);
        } else if (value instanceof Boolean b) {
            json.writeBoolean(b);
        } else {
            throw new IllegalArgumentException("not a JSON value: " + value.getClass());
        }
    }

    /** A map of strings as a JSON object. */
    public static void writeStrings(JsonGenerator json, Map<String, String> map) throws IOException {
        json.writeStartObject();
        for (Map.Entry<String, String> e : map.entrySet()) {
            json.writeStringField(e.getKey(), e.getValue());
        }
        json.writeEndObject();
    }

    /** Matchers as {@code [{"name":…,"op":…,"value":…}]}. */
    public static void writeMatchers(JsonGenerator json, List<LabelMatcher> matchers) throws IOException {
        json.writeStartArray();
        for (LabelMatcher m : matchers) {
            json.writeStartObject();
            json.writeStringField("name", m.name());
            json.writeStringField("op", m.op());
            json.writeStringField("value", m.value());
            json.writeEndObject();
        }
        json.writeEndArray();
    }

    /** Matchers from {@code [{"name":…,"op":…,"value":…}]}; {@code field} names them in errors. */
    public static List<LabelMatcher> matchers(Object value, String field) {
        if (!(value instanceof List<?> list)) {
            throw new InvalidJsonException(field + ": expected an array of {name, op, value}");
        }
        List<LabelMatcher> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String at = field + "[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> m)) {
                throw new InvalidJsonException(at + ": expected an object {name, op, value}");
            }
            for (Object k : m.keySet()) {
                if (!List.of("name", "op", "value").contains(k)) {
                    throw new InvalidJsonException(at + ": unknown field " + k + " (expected: name, op, value)");
                }
            }
            Object name = m.get("name");
            Object op = m.containsKey("op") ? m.get("op") : "=";
            Object v = m.get("value");
            if (!(name instanceof String) || !(op instanceof String) || !(v instanceof String)) {
                throw new InvalidJsonException(at + ": name, op and value must be strings (name and value required)");
            }
            try {
                out.add(LabelMatcher.of((String) name, (String) op, (String) v));
            } catch (LabelMatcher.InvalidMatcherException e) {
                throw new InvalidJsonException(at + "." + e.getMessage());
            }
        }
        return List.copyOf(out);
    }
}
