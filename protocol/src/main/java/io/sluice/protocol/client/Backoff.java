package io.sluice.protocol.client;

import java.util.Random;

/**
 * Exponential backoff with full jitter: attempt {@code n} waits a uniformly random time in
 * {@code [0, min(max, initial * 2^n)]}, so that agents disconnected together do not reconnect together.
 */
final class Backoff {

    private final long initialMs;
    private final long maxMs;
    private final Random random;

    Backoff(long initialMs, long maxMs, Random random) {
        this.initialMs = initialMs;
        this.maxMs = maxMs;
        this.random = random;
    }

    /** The cap for attempt {@code attempt} (0-based), before jitter. */
    long ceilingMs(int attempt) {
        int shift = Math.min(attempt, 30);
        long ceiling = initialMs << shift;
        return ceiling < 0 || ceiling > maxMs ? maxMs : ceiling;
    }

    /** A delay for attempt {@code attempt} (0-based). */
    long delayMs(int attempt) {
        long ceiling = ceilingMs(attempt);
        return Math.min(ceiling, (long) (random.nextDouble() * (ceiling + 1)));
    }
}
