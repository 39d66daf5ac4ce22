package io.sluice.storage.alerting;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.sluice.storage.alerting.AlertRule.RuleQuery;
import io.sluice.storage.query.Aggregation;
import io.sluice.storage.query.Matcher;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The JSON that {@code alert_rules} (and {@code alert_instances}) hold in their jsonb columns: label and annotation
 * maps ({@code {"severity": "page"}}) and the query form
 * ({@code {"metric": "cpu", "matchers": [{"label": "host", "op": "=~", "value": "web-.*"}], "aggregation": "avg",
 * "group_by": ["host"], "window_ms": 300000}}).
 */
public final class RuleJson {

    private static final JsonFactory JSON = new JsonFactory();

    private RuleJson() {
    }

    /** A string map as a JSON object, keys in order. */
    public static String map(Map<String, String> map) {
        return write(g -> {
            g.writeStartObject();
            for (Map.Entry<String, String> e : new TreeMap<>(map).entrySet()) {
                g.writeStringField(e.getKey(), e.getValue());
            }
            g.writeEndObject();
        });
    }

    /** A JSON object of strings (as {@link #map} writes it). */
    public static SortedMap<String, String> parseMap(String json) {
        try (JsonParser p = JSON.createParser(json)) {
            TreeMap<String, String> out = new TreeMap<>();
            expect(p.nextToken(), JsonToken.START_OBJECT);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                out.put(name, p.getText());
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The query form as stored. */
    public static String query(RuleQuery q) {
        return write(g -> {
            g.writeStartObject();
            g.writeStringField("metric", q.metric());
            g.writeArrayFieldStart("matchers");
            for (Matcher m : q.matchers()) {
                g.writeStartObject();
                g.writeStringField("label", m.label());
                g.writeStringField("op", m.op().symbol());
                g.writeStringField("value", m.value());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeStringField("aggregation", q.aggregation().wireName());
            g.writeArrayFieldStart("group_by");
            for (String label : q.groupBy()) {
                g.writeString(label);
            }
            g.writeEndArray();
            g.writeNumberField("window_ms", q.window().toMillis());
            g.writeEndObject();
        });
    }

    /** The query form from its stored JSON. */
    public static RuleQuery parseQuery(String json) {
        try (JsonParser p = JSON.createParser(json)) {
            String metric = null;
            List<Matcher> matchers = new ArrayList<>();
            Aggregation aggregation = null;
            List<String> groupBy = new ArrayList<>();
            Duration window = null;
            expect(p.nextToken(), JsonToken.START_OBJECT);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                switch (name) {
                    case "metric" -> metric = p.getText();
                    case "aggregation" -> aggregation = Aggregation.valueOf(p.getText().toUpperCase(Locale.ROOT));
                    case "window_ms" -> window = Duration.ofMillis(p.getLongValue());
                    case "group_by" -> {
                        while (p.nextToken() != JsonToken.END_ARRAY) {
                            groupBy.add(p.getText());
                        }
                    }
                    case "matchers" -> {
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            String label = null;
                            String op = null;
                            String value = null;
                            while (p.nextToken() == JsonToken.FIELD_NAME) {
                                String f = p.currentName();
                                p.nextToken();
                                switch (f) {
                                    case "label" -> label = p.getText();
                                    case "op" -> op = p.getText();
                                    case "value" -> value = p.getText();
                                    default -> p.skipChildren();
                                }
                            }
                            matchers.add(new Matcher(label, op(op), value));
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            return new RuleQuery(metric, matchers, aggregation, groupBy, window);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Matcher.Op op(String symbol) {
        for (Matcher.Op op : Matcher.Op.values()) {
            if (op.symbol().equals(symbol)) {
                return op;
            }
        }
        throw new IllegalArgumentException("matcher op " + symbol);
    }

    private interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    private static String write(Body body) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            body.write(g);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    private static void expect(JsonToken got, JsonToken expected) throws IOException {
        if (got != expected) {
            throw new IOException("expected " + expected + ", got " + got);
        }
    }
}
