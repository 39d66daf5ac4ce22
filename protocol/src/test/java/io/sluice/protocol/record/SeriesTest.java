package io.sluice.protocol.record;

import io.sluice.protocol.codec.Utf8Strings;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SeriesTest {

    @Test
    void labelsAreCanonicalSoOrderDoesNotMatter() {
        Series a = Series.of("m", "b", "2", "a", "1");
        Series b = Series.of("m", Map.of("a", "1", "b", "2"));
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a.fingerprint()).isEqualTo(b.fingerprint());
        assertThat(a.labelKey(0)).isEqualTo("a");
        assertThat(a.toString()).isEqualTo("m{a=\"1\", b=\"2\"}");
        assertThat(Series.of("m", "a", "1")).isNotEqualTo(Series.of("n", "a", "1"));
    }

    @Test
    void fingerprintIsStable() {
        // Part of the format (SPEC.md): XXH64 seed 0 of the canonical definition. Must never change.
        assertThat(Long.toHexString(Series.of("cpu.usage", "host", "web-1", "dc", "eu-1").fingerprint()))
                .isEqualTo(Long.toHexString(Series.of("cpu.usage", "dc", "eu-1", "host", "web-1").fingerprint()));
        assertThat(Series.of("cpu.usage", "host", "web-1", "dc", "eu-1").fingerprint())
                .isEqualTo(GOLDEN_FINGERPRINT);
    }

    static final long GOLDEN_FINGERPRINT = 8278995227682765L;

    /**
     * The definition bytes as SPEC.md defines them, built independently: labels in code-point order of their keys
     * (an unpaired surrogate counts as its own value),
     * every string as a varint length and its UTF-8 bytes (as {@link Utf8Strings} writes them, an unpaired
     * surrogate as '?').
     */
    private static byte[] specDefinition(String name, Map<String, String> labels) {
        java.util.TreeMap<String, String> sorted = new java.util.TreeMap<>(
                (a, b) -> java.util.Arrays.compare(a.codePoints().toArray(), b.codePoints().toArray()));
        sorted.putAll(labels);
        io.netty.buffer.ByteBuf buf = io.netty.buffer.Unpooled.buffer();
        Utf8Strings.write(buf, name);
        io.sluice.protocol.codec.Varints.writeUnsigned(buf, sorted.size());
        sorted.forEach((k, v) -> {
            Utf8Strings.write(buf, k);
            Utf8Strings.write(buf, v);
        });
        byte[] bytes = io.netty.buffer.ByteBufUtil.getBytes(buf);
        buf.release();
        return bytes;
    }

    private static byte[] definition(Series series) {
        io.netty.buffer.ByteBuf buf = io.netty.buffer.Unpooled.buffer();
        series.writeDefinitionTo(buf);
        byte[] bytes = io.netty.buffer.ByteBufUtil.getBytes(buf);
        buf.release();
        return bytes;
    }

    @Test
    void definitionsAreTheSpecsBytesAsciiOrNotFewLabelsOrMany() {
        java.util.Random random = new java.util.Random(20261201);
        String[] alphabets = {
            "abcdefghijklmnopqrstuvwxyz_0123456789", // ASCII
            "abc\u00e9\u00fc\uFF5E\uD83D\uDE00z", // two, three and four UTF-8 bytes
            "ab\uD800c", // an unpaired surrogate
        };
        for (int round = 0; round < 2_000; round++) {
            String alphabet = alphabets[round % 3 == 0 ? random.nextInt(3) : 0];
            int labels = round % 50 == 0 ? 33 + random.nextInt(20) : random.nextInt(8);
            Map<String, String> map = new java.util.HashMap<>();
            while (map.size() < labels) {
                map.put(randomString(random, alphabet, 1 + random.nextInt(12)),
                        randomString(random, alphabet, random.nextInt(round % 7 == 0 ? 300 : 20)));
            }
            String name = randomString(random, alphabet, 1 + random.nextInt(round % 11 == 0 ? 200 : 30));
            java.util.List<String> keyValues = new java.util.ArrayList<>();
            map.forEach((k, v) -> {
                keyValues.add(k);
                keyValues.add(v);
            });
            Series series = Series.of(name, keyValues.toArray(String[]::new));
            assertThat(definition(series)).as("%s", series).isEqualTo(specDefinition(name, map));
            assertThat(series).isEqualTo(Series.of(name, map));
        }
    }

    private static String randomString(java.util.Random random, String alphabet, int length) {
        StringBuilder out = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            out.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return out.toString();
    }

    @Test
    void codePointOrderMatchesUtf8ByteOrder() {
        // U+FF5E (3 UTF-8 bytes) sorts before U+1F600 (4 bytes, a surrogate pair in UTF-16).
        assertThat(Series.compareCodePoints("\uFF5E", "\uD83D\uDE00")).isNegative();
        assertThat("\uFF5E".compareTo("\uD83D\uDE00")).as("UTF-16 order differs").isPositive();
        assertThat(Series.compareCodePoints("a", "ab")).isNegative();
    }

    @Test
    void invalidSeriesAreRejected() {
        assertThatThrownBy(() -> Series.of("", "a", "1")).hasMessage("name: \"\" (expected: non-empty)");
        assertThatThrownBy(() -> Series.of("m", "a", "1", "a", "2")).hasMessageContaining("distinct");
        assertThatThrownBy(() -> Series.of("m", "", "1")).hasMessageContaining("non-empty");
        assertThatThrownBy(() -> Series.of("m", "a")).hasMessageContaining("pairs");
    }
}
