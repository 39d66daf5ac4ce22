package io.sluice.storage.time;

import com.github.benmanes.caffeine.cache.Ticker;

import java.time.Clock;
import java.time.Instant;

/** A Caffeine {@link Ticker} reading the injected clock, so cache expiry follows the time tests drive. */
public final class ClockTicker {

    private ClockTicker() {
    }

    /** The class of {@link Clock#systemUTC()} and {@link Clock#systemDefaultZone()}. */
    private static final Class<?> SYSTEM_CLOCK = Clock.systemUTC().getClass();

    /**
     * The system clock's ticker is Caffeine's own ({@link System#nanoTime()}): monotonic, and without an
     * {@link Instant} made at every cache read (the redirect path reads its cache at every request). Any other clock
     * (a test's) is read as it is.
     */
    public static Ticker of(Clock clock) {
        if (clock.getClass() == SYSTEM_CLOCK) {
            return Ticker.systemTicker();
        }
        return () -> {
            Instant now = clock.instant();
            return now.getEpochSecond() * 1_000_000_000L + now.getNano();
        };
    }
}
