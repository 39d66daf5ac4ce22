package io.sluice.gateway.ratelimit;

import io.netty.handler.codec.http.HttpHeaders;

import java.util.concurrent.TimeUnit;

/**
 * The outcome of taking tokens from a bucket, with what a client needs to back off properly.
 *
 * @param allowed           whether the tokens were taken
 * @param limit             the bucket's capacity (per minute)
 * @param remaining         tokens left after this decision
 * @param nanosUntilAllowed when refused: how long until enough tokens have refilled
 * @param nanosUntilFull    how long until the bucket is full again
 * @param neverFits         the request asks for more tokens than the bucket can ever hold
 */
public record RateLimitDecision(boolean allowed, long limit, long remaining, long nanosUntilAllowed,
                                long nanosUntilFull, boolean neverFits) {

    /** Seconds to wait before retrying (at least 1), for {@code Retry-After}. */
    public long retryAfterSeconds() {
        return Math.max(1, ceilSeconds(nanosUntilAllowed));
    }

    /** Milliseconds to wait before retrying (at least 1), for a binary NACK. */
    public long retryAfterMillis() {
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(nanosUntilAllowed + 999_999));
    }

    /** Adds {@code RateLimit-Limit}, {@code RateLimit-Remaining}, {@code RateLimit-Reset} (and {@code Retry-After} when refused). */
    public void addHeaders(HttpHeaders headers) {
        headers.set("RateLimit-Limit", limit);
        headers.set("RateLimit-Remaining", remaining);
        headers.set("RateLimit-Reset", ceilSeconds(nanosUntilFull));
        if (!allowed) {
            headers.set("Retry-After", retryAfterSeconds());
        }
    }

    private static long ceilSeconds(long nanos) {
        return (nanos + 999_999_999L) / 1_000_000_000L;
    }
}
