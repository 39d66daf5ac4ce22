package io.sluice.protocol.record;

import java.util.Map;
import java.util.Objects;

/**
 * One event: a unique id (storage deduplicates by it), a type, a timestamp, a key and string attributes.
 *
 * <p>Events are rarer than samples, so they are plain objects; samples never are.
 *
 * @param id          unique event id, non-empty (resends and replays are deduplicated by it)
 * @param type        event type, non-empty (e.g. {@code "deploy"}, {@code "click"})
 * @param timestampMs milliseconds since the Unix epoch
 * @param key         what the event is about (a host, a link code); may be empty
 * @param attributes  further attributes, in the order given
 */
public record Event(String id, String type, long timestampMs, String key, Map<String, String> attributes) {

    public Event {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(attributes, "attributes");
        if (id.isEmpty()) {
            throw new IllegalArgumentException("id: \"\" (expected: non-empty)");
        }
        if (type.isEmpty()) {
            throw new IllegalArgumentException("type: \"\" (expected: non-empty)");
        }
    }
}
