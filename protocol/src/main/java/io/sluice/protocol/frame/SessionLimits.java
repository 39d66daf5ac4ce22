package io.sluice.protocol.frame;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The limits list a server appends to HELLO_OK for a client that asked for it with the HELLO option
 * {@value Hello#OPTION_LIMITS}{@code =1} (SPEC.md §2.2): pairs of a permanent limit id and a value. A client
 * ignores ids it does not know, so a server may announce new limits without a new protocol version.
 *
 * <p>Encoding: {@code count uvarint} (at most {@value #MAX_ENTRIES}), then {@code count × (id uvarint,
 * value uvarint)} in strictly ascending id order. Lengths are UTF-8 bytes, durations milliseconds.
 */
public final class SessionLimits {

    /** Most entries one list may carry. */
    public static final int MAX_ENTRIES = 64;

    /** The limits v1 defines, with their permanent ids (never reused, SPEC.md §7). */
    public enum Limit {
        /** Longest string in a frame or record, in UTF-8 bytes (codec; ERROR LIMIT_EXCEEDED). */
        MAX_STRING_BYTES(1),
        /** Largest uncompressed records block (codec; ERROR FRAME_TOO_LARGE). */
        MAX_BLOCK_BYTES(2),
        /** Most samples plus events in one BATCH (codec; ERROR LIMIT_EXCEEDED). */
        MAX_RECORDS_PER_BLOCK(3),
        /** Most labels on one series (NACK above the admission limit, ERROR above the codec's). */
        MAX_LABELS_PER_SERIES(4),
        /** Most attributes on one event. */
        MAX_ATTRIBUTES_PER_EVENT(5),
        /** Most series one connection's dictionary may define (codec; ERROR LIMIT_EXCEEDED). */
        MAX_SERIES_PER_CONNECTION(6),
        /** Longest metric name or event type, in UTF-8 bytes. */
        MAX_NAME_BYTES(7),
        /** Longest label or attribute key, in UTF-8 bytes. */
        MAX_LABEL_NAME_BYTES(8),
        /** Longest label or attribute value, event id or event key, in UTF-8 bytes. */
        MAX_LABEL_VALUE_BYTES(9),
        /** How far in the past a record's timestamp may be, in ms (older: NACK INVALID_RECORD). */
        LATE_WINDOW_MS(10),
        /** How far ahead of the server's clock a timestamp may be, in ms (NACK INVALID_RECORD). */
        CLOCK_SKEW_MS(11),
        /** Silence after which the server closes the connection, in ms (any frame resets it). */
        IDLE_TIMEOUT_MS(12);

        private final int id;

        Limit(int id) {
            this.id = id;
        }

        /** The permanent wire id. */
        public int id() {
            return id;
        }
    }

    private final SortedMap<Integer, Long> values;

    private SessionLimits(SortedMap<Integer, Long> values) {
        this.values = Collections.unmodifiableSortedMap(values);
    }

    /** A list of the given limits (ids known to this version). */
    public static SessionLimits of(Map<Limit, Long> limits) {
        SortedMap<Integer, Long> byId = new TreeMap<>();
        limits.forEach((limit, value) -> byId.put(limit.id(), checkValue(value, limit.name())));
        return fromIds(byId);
    }

    /** A list by raw ids, as decoded: ids this version does not know are kept (and ignored by readers). */
    public static SessionLimits fromIds(SortedMap<Integer, Long> byId) {
        if (byId.size() > MAX_ENTRIES) {
            throw new IllegalArgumentException("limits: " + byId.size() + " (expected: <= " + MAX_ENTRIES + ")");
        }
        byId.forEach((id, value) -> {
            if (id < 0) {
                throw new IllegalArgumentException("limit id: " + id + " (expected: >= 0)");
            }
            checkValue(value, "limit " + id);
        });
        return new SessionLimits(new TreeMap<>(byId));
    }

    private static long checkValue(Long value, String what) {
        if (Objects.requireNonNull(value, what) < 0) {
            throw new IllegalArgumentException(what + ": " + value + " (expected: >= 0)");
        }
        return value;
    }

    /** The announced value of {@code limit}, or empty when the server did not announce it. */
    public OptionalLong get(Limit limit) {
        Long v = values.get(limit.id());
        return v == null ? OptionalLong.empty() : OptionalLong.of(v);
    }

    /** The announced value of {@code limit}, or {@code ifAbsent}; values above {@code int} range read as max int. */
    public int getInt(Limit limit, int ifAbsent) {
        Long v = values.get(limit.id());
        return v == null ? ifAbsent : (int) Math.min(Integer.MAX_VALUE, v);
    }

    /** Every entry by id, ascending (including ids this version does not know). */
    public SortedMap<Integer, Long> byId() {
        return values;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SessionLimits other && values.equals(other.values);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("SessionLimits{");
        values.forEach((id, v) -> {
            String name = Integer.toString(id);
            for (Limit l : Limit.values()) {
                if (l.id() == id) {
                    name = l.name();
                }
            }
            sb.append(sb.length() > 14 ? ", " : "").append(name).append('=').append(v);
        });
        return sb.append('}').toString();
    }
}
