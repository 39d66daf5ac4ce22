package io.sluice.storage.time;

import com.github.benmanes.caffeine.cache.Ticker;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;

import static org.assertj.core.api.Assertions.assertThat;

class ClockTickerTest {

    @Test
    void theSystemClockTicksAsCaffeinesOwnTicker() {
        assertThat(ClockTicker.of(Clock.systemUTC())).isSameAs(Ticker.systemTicker());
        assertThat(ClockTicker.of(Clock.systemDefaultZone())).isSameAs(Ticker.systemTicker());
    }

    @Test
    void anyOtherClockIsReadAsItIs() {
        Clock fixed = Clock.fixed(Instant.ofEpochSecond(5, 7), ZoneOffset.UTC);
        assertThat(ClockTicker.of(fixed).read()).isEqualTo(5_000_000_007L);
        Clock later = Clock.offset(fixed, Duration.ofMillis(3));
        assertThat(ClockTicker.of(later).read()).isEqualTo(5_003_000_007L);
    }
}
