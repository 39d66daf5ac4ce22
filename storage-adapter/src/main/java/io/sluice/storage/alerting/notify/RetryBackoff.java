package io.sluice.storage.alerting.notify;

import java.time.Duration;
import java.util.Random;

/**
 * Exponential backoff with full jitter for notification retries: after the n-th failed attempt, a uniformly random
 * delay between 0 and {@code min(alerting.retry-max-backoff, alerting.retry-initial-backoff · 2^(n − 1))}, so that
 * receivers that failed together are not all retried together.
 */
public final class RetryBackoff {

    private RetryBackoff() {
    }

    /** The cap of the delay after {@code attempts} failed attempts (at least 1), in milliseconds. */
    public static long capMillis(int attempts, Duration initial, Duration max) {
        int doublings = Math.min(Math.max(attempts - 1, 0), 62);
        long init = initial.toMillis();
        long most = max.toMillis();
        return init > (most >> doublings) ? most : Math.min(most, init << doublings);
    }

    /** A delay in {@code [0, capMillis]}, whole milliseconds. */
    public static Duration delay(int attempts, Duration initial, Duration max, Random random) {
        long cap = capMillis(attempts, initial, max);
        return Duration.ofMillis(cap <= 0 ? 0 : Math.min(cap, (long) (random.nextDouble() * (cap + 1))));
    }
}
