package io.sluice.gateway.http;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.OffsetDateTime;

/**
 * The instants the API accepts in parameters and bodies (query ranges, link expiry): those RFC 3339 can
 * write, years 0000 to 9999. Java parses far more ({@code +999999999-12-31T23:59:59Z}), which PostgreSQL
 * cannot store and epoch milliseconds cannot hold, so each such value is a 400, not a server error.
 */
public final class Timestamps {

    public static final Instant MIN = Instant.parse("0000-01-01T00:00:00Z");
    public static final Instant MAX = Instant.parse("9999-12-31T23:59:59.999999999Z");
    /** How the accepted range reads in an error message. */
    public static final String RANGE = "0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z";

    private Timestamps() {
    }

    /**
     * Parses an RFC 3339 date-time with offset ({@code 2026-11-23T10:00:00Z}).
     *
     * @throws DateTimeException when it is not one, or lies outside {@link #MIN}..{@link #MAX}
     */
    public static Instant parse(String text) {
        return check(OffsetDateTime.parse(text).toInstant());
    }

    /** @throws DateTimeException when the instant lies outside {@link #MIN}..{@link #MAX} */
    public static Instant check(Instant instant) {
        if (instant.isBefore(MIN) || instant.isAfter(MAX)) {
            throw new DateTimeException(instant + " is outside " + RANGE);
        }
        return instant;
    }
}
