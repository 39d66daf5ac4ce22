package io.sluice.loadtest.gatling;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class SluiceLoadTest {

    @Test
    void parsesDurationsLikeSluiceSettings() {
        assertThat(SluiceLoad.parseDuration("d", "250ms", false)).isEqualTo(Duration.ofMillis(250));
        assertThat(SluiceLoad.parseDuration("d", "30s", false)).isEqualTo(Duration.ofSeconds(30));
        assertThat(SluiceLoad.parseDuration("d", " 5M ", false)).isEqualTo(Duration.ofMinutes(5));
        assertThat(SluiceLoad.parseDuration("d", "1h", false)).isEqualTo(Duration.ofHours(1));
        assertThat(SluiceLoad.parseDuration("sluice.warmUp", "0s", true)).isZero();
        assertThatThrownBy(() -> SluiceLoad.parseDuration("sluice.duration", "30", false))
                .hasMessage("sluice.duration: 30 (expected: a positive duration like 250ms, 30s, 5m, 1h)");
        assertThatThrownBy(() -> SluiceLoad.parseDuration("sluice.duration", "0s", false))
                .hasMessageStartingWith("sluice.duration: 0s");
    }
}
