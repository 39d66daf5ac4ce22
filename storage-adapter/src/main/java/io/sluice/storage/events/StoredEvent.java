package io.sluice.storage.events;

/**
 * One stored event as read back: its id, type, time (epoch ms), key, and attributes as PostgreSQL renders the
 * stored JSON object of strings.
 */
public record StoredEvent(String id, String type, long timestampMs, String key, String attributesJson) {
}
