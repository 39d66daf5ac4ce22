package io.sluice.protocol.record;

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
