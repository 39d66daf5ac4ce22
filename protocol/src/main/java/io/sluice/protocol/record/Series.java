package io.sluice.protocol.record;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.codec.Utf8Strings;
import io.sluice.protocol.codec.Varints;
import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A time series: a metric name and a set of labels, in canonical form (labels ordered by key).
 *
 * <p>Immutable and shared: a dictionary creates one {@code Series} per definition, and every sample that
 * refers to it points at the same object, so iterating samples allocates nothing per sample. The canonical
 * encoding of the definition (name, label count, labels) is computed once and kept, which makes
 * {@link #equals} a byte comparison and lets writers copy a definition without re-encoding its strings.
 *
 * <p>Label keys are ordered by Unicode code point, which is the same order as comparing their UTF-8 bytes;
 * keys must be non-empty and distinct, the name must be non-empty.
 */
public final class Series {

    private static final XXHash64 XXH64 = XXHashFactory.fastestJavaInstance().hash64();
    private static final String[] NO_STRINGS = new String[0];
    private static final java.lang.invoke.VarHandle LONG_LITTLE_ENDIAN =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

    private final String name;
    private final String[] keys;
    private final String[] values;
    private final byte[] encoded;
    private final int hash;
    private final long fingerprint;

    Series(String name, String[] keys, String[] values, byte[] encoded) {
        this.name = name;
        this.keys = keys;
        this.values = values;
        this.encoded = encoded;
        this.fingerprint = XXH64.hash(encoded, 0, encoded.length, 0L);
        this.hash = Long.hashCode(fingerprint); // the definition is hashed once
    }

    /** A series from a name and labels given as alternating keys and values. */
    public static Series of(String name, String... keyValues) {
        if (keyValues.length % 2 != 0) {
            throw new IllegalArgumentException("keyValues: " + keyValues.length + " strings (expected: key/value pairs)");
        }
        String[] k = new String[keyValues.length / 2];
        String[] v = new String[k.length];
        for (int i = 0; i < k.length; i++) {
            k[i] = keyValues[2 * i];
            v[i] = keyValues[2 * i + 1];
        }
        return canonical(name, k, v);
    }

    /** A series from a name and a label map (any iteration order). */
    public static Series of(String name, Map<String, String> labels) {
        String[] k = new String[labels.size()];
        String[] v = new String[k.length];
        int i = 0;
        for (Map.Entry<String, String> e : labels.entrySet()) {
            k[i] = e.getKey();
            v[i++] = e.getValue();
        }
        return canonical(name, k, v);
    }

    /** The series of {@code name} and the labels {@code k[i]=v[i]}; sorts the two arrays, which become its own. */
    private static Series canonical(String name, String[] k, String[] v) {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("name: \"\" (expected: non-empty)");
        }
        for (int i = 0; i < k.length; i++) {
            Objects.requireNonNull(k[i], "label key");
            Objects.requireNonNull(v[i], "label value");
            if (k[i].isEmpty()) {
                throw new IllegalArgumentException("label key: \"\" (expected: non-empty)");
            }
        }
        String[] keys = k.length == 0 ? NO_STRINGS : k;
        String[] values = k.length == 0 ? NO_STRINGS : v;
        sortByKey(keys, values);
        for (int i = 1; i < keys.length; i++) {
            if (keys[i].equals(keys[i - 1])) {
                throw new IllegalArgumentException("label key: \"" + keys[i] + "\" (expected: distinct keys)");
            }
        }
        byte[] ascii = asciiDefinition(name, keys, values);
        return new Series(name, keys, values, ascii != null ? ascii : definition(name, keys, values));
    }

    /**
     * Sorts the labels in place (both arrays are the caller's own) in code-point order of their keys: an insertion
     * sort for the usual few labels (which senders such as Prometheus already send sorted, so it makes one comparison
     * a label), a merge sort of indexes beyond.
     */
    private static void sortByKey(String[] k, String[] v) {
        if (k.length > 32) {
            Integer[] order = new Integer[k.length];
            for (int i = 0; i < k.length; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> compareCodePoints(k[a], k[b]));
            String[] keys = k.clone();
            String[] values = v.clone();
            for (int i = 0; i < k.length; i++) {
                k[i] = keys[order[i]];
                v[i] = values[order[i]];
            }
            return;
        }
        for (int i = 1; i < k.length; i++) {
            String key = k[i];
            String value = v[i];
            int j = i - 1;
            for (; j >= 0 && compareCodePoints(k[j], key) > 0; j--) {
                k[j + 1] = k[j];
                v[j + 1] = v[j];
            }
            k[j + 1] = key;
            v[j + 1] = value;
        }
    }

    /** The canonical definition bytes (SPEC.md, "Series definition"), written through a buffer. */
    private static byte[] definition(String name, String[] keys, String[] values) {
        ByteBuf buf = Unpooled.buffer(64);
        try {
            Utf8Strings.write(buf, name);
            Varints.writeUnsigned(buf, keys.length);
            for (int i = 0; i < keys.length; i++) {
                Utf8Strings.write(buf, keys[i]);
                Utf8Strings.write(buf, values[i]);
            }
            byte[] bytes = new byte[buf.readableBytes()];
            buf.readBytes(bytes);
            return bytes;
        } finally {
            buf.release();
        }
    }

    /**
     * The same bytes as {@link #definition} when every string is ASCII (names and labels nearly always are), sized
     * first and written straight into the array, a char a byte; null when one string is not.
     */
    private static byte[] asciiDefinition(String name, String[] keys, String[] values) {
        int size = asciiEncodedSize(name);
        for (int i = 0; i < keys.length && size >= 0; i++) {
            int key = asciiEncodedSize(keys[i]);
            int value = asciiEncodedSize(values[i]);
            size = key < 0 || value < 0 ? -1 : size + key + value;
        }
        if (size < 0) {
            return null;
        }
        byte[] out = new byte[size + Varints.unsignedSize(keys.length)];
        int p = putAscii(out, 0, name);
        p = putVarint(out, p, keys.length);
        for (int i = 0; i < keys.length; i++) {
            p = putAscii(out, p, keys[i]);
            p = putAscii(out, p, values[i]);
        }
        return out;
    }

    /** Bytes of {@code s} as a length-prefixed string, or -1 when it holds a char past ASCII. */
    private static int asciiEncodedSize(String s) {
        int n = s.length();
        for (int i = 0; i < n; i++) {
            if (s.charAt(i) >= 0x80) {
                return -1;
            }
        }
        return Varints.unsignedSize(n) + n;
    }

    private static int putAscii(byte[] out, int p, String s) {
        int n = s.length();
        p = putVarint(out, p, n);
        for (int i = 0; i < n; i++) {
            out[p++] = (byte) s.charAt(i);
        }
        return p;
    }

    private static int putVarint(byte[] out, int p, int value) {
        while ((value & ~0x7F) != 0) {
            out[p++] = (byte) ((value & 0x7F) | 0x80);
            value >>>= 7;
        }
        out[p++] = (byte) value;
        return p;
    }

    /** Compares two strings by Unicode code point, i.e. in the order of their UTF-8 bytes. */
    public static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    /** The metric name. */
    public String name() {
        return name;
    }

    /** How many labels the series has. */
    public int labelCount() {
        return keys.length;
    }

    /** The key of label {@code i}, in canonical order. */
    public String labelKey(int i) {
        return keys[i];
    }

    /** The value of label {@code i}, in canonical order. */
    public String labelValue(int i) {
        return values[i];
    }

    /** The labels in canonical order, as a new unmodifiable map. */
    public Map<String, String> labels() {
        Map<String, String> m = new LinkedHashMap<>(keys.length * 2);
        for (int i = 0; i < keys.length; i++) {
            m.put(keys[i], values[i]);
        }
        return Collections.unmodifiableMap(m);
    }

    /**
     * A stable 64-bit fingerprint: XXH64 (seed 0) of the canonical definition bytes (SPEC.md, "Series
     * fingerprint"). The same on every node and in every version, so it can key Kafka records.
     */
    public long fingerprint() {
        return fingerprint;
    }

    /** The canonical definition bytes (name, label count, labels); used by writers to copy a definition. */
    void writeDefinitionTo(ByteBuf out) {
        out.writeBytes(encoded);
    }

    /** Length of the canonical definition bytes. */
    int definitionBytes() {
        return encoded.length;
    }

    /**
     * Whether the bytes of {@code view} (little-endian) from {@code index} start with this series' definition, read
     * no further than {@code end}.
     */
    boolean definitionIsAt(java.nio.ByteBuffer view, int index, int end) {
        int length = encoded.length;
        if (length > end - index) {
            return false;
        }
        int i = 0;
        for (; i + Long.BYTES <= length; i += Long.BYTES) { // eight bytes a read, with absolute gets
            if (view.getLong(index + i) != (long) LONG_LITTLE_ENDIAN.get(encoded, i)) {
                return false;
            }
        }
        for (; i < length; i++) {
            if (view.get(index + i) != encoded[i]) {
                return false;
            }
        }
        return true;
    }

    /** {@link #fingerprint()} of the definition bytes {@code [index, index + length)} of a little-endian view. */
    static long fingerprint(java.nio.ByteBuffer view, int index, int length) {
        return XXH64.hash(view, index, length, 0L);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        return o instanceof Series s && s.hash == hash && Arrays.equals(s.encoded, encoded);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(name).append('{');
        for (int i = 0; i < keys.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(keys[i]).append("=\"").append(values[i]).append('"');
        }
        return sb.append('}').toString();
    }
}
