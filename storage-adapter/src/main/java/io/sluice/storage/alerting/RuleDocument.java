package io.sluice.storage.alerting;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A rule document (a JSON body or a YAML rule file) read into a plain tree that {@link RuleValidator} checks field by
 * field: {@link Map} (in document order), {@link List}, {@link String}, {@link Double}, {@link Boolean} and null. In
 * YAML every scalar is its text (YAML has no separate number type for us to trust: {@code 5m} and {@code 30} are both
 * strings here). A key given twice is refused.
 */
public final class RuleDocument {

    /** How deep a document may nest; a rule file needs 5 levels. */
    public static final int MAX_DEPTH = 16;

    private static final YAMLFactory YAML = YAMLFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
            .build();

    private RuleDocument() {
    }

    /** Reads a YAML document (a Prometheus rule file); an unreadable one is an {@code invalid_yaml} refusal. */
    public static Object readYaml(InputStream in) {
        try (JsonParser p = YAML.createParser(in)) {
            if (p.nextToken() == null) {
                throw new InvalidRuleException("invalid_yaml", List.of("the document is empty"));
            }
            Object tree = value(p, true);
            if (p.nextToken() != null) {
                throw new InvalidRuleException("invalid_yaml", List.of("more than one YAML document"));
            }
            return tree;
        } catch (StreamConstraintsException e) {
            throw new InvalidRuleException("invalid_yaml", List.of("the document exceeds a limit: "
                    + e.getOriginalMessage()));
        } catch (JsonProcessingException e) {
            throw new InvalidRuleException("invalid_yaml", List.of("not valid YAML: " + oneLine(e.getOriginalMessage())
                    + location(e)));
        } catch (IOException e) {
            throw new InvalidRuleException("invalid_yaml", List.of("the document could not be read"));
        } catch (DuplicateKey e) {
            throw new InvalidRuleException("invalid_yaml", List.of(e.getMessage()));
        }
    }

    /** Reads a JSON document with {@code factory} (the caller's limits); unreadable is {@code invalid_json}. */
    public static Object readJson(JsonFactory factory, InputStream in) {
        try (JsonParser p = factory.createParser(in)) {
            if (p.nextToken() == null) {
                throw new InvalidRuleException("invalid_json", List.of("the body is empty"));
            }
            Object tree = value(p, false);
            if (p.nextToken() != null) {
                throw new InvalidRuleException("invalid_json", List.of("unexpected content after the JSON value"));
            }
            return tree;
        } catch (StreamConstraintsException e) {
            throw new InvalidRuleException("invalid_json", List.of("the body exceeds a JSON limit: "
                    + e.getOriginalMessage()));
        } catch (JsonProcessingException e) {
            throw new InvalidRuleException("invalid_json", List.of("the body is not valid JSON: "
                    + oneLine(e.getOriginalMessage())));
        } catch (IOException e) {
            throw new InvalidRuleException("invalid_json", List.of("the body could not be read"));
        } catch (DuplicateKey e) {
            throw new InvalidRuleException("invalid_json", List.of(e.getMessage()));
        }
    }

    private static final class DuplicateKey extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DuplicateKey(String message) {
            super(message, null, false, false);
        }
    }

    private static Object value(JsonParser p, boolean yaml) throws IOException {
        JsonToken t = p.currentToken();
        switch (t) {
            case START_OBJECT: {
                Map<String, Object> map = new LinkedHashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    p.nextToken();
                    Object v = value(p, yaml);
                    if (map.containsKey(name)) {
                        throw new DuplicateKey("the key \"" + name + "\" is given twice"
                                + location(p));
                    }
                    map.put(name, v);
                }
                return map;
            }
            case START_ARRAY: {
                List<Object> list = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    list.add(value(p, yaml));
                }
                return list;
            }
            case VALUE_NULL:
                return null;
            case VALUE_TRUE:
            case VALUE_FALSE:
                return yaml ? p.getText() : (Object) (t == JsonToken.VALUE_TRUE);
            case VALUE_NUMBER_INT:
            case VALUE_NUMBER_FLOAT:
                return yaml ? p.getText() : (Object) p.getDoubleValue();
            default:
                return p.getText();
        }
    }

    private static String location(JsonProcessingException e) {
        return e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column "
                + e.getLocation().getColumnNr() + ")";
    }

    private static String location(JsonParser p) {
        return p.currentLocation() == null || p.currentLocation().getLineNr() < 1 ? ""
                : " (line " + p.currentLocation().getLineNr() + ")";
    }

    private static String oneLine(String message) {
        String m = message == null ? "" : message.strip();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
