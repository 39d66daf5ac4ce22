package io.sluice.storage.query;

import io.r2dbc.spi.R2dbcException;
import io.r2dbc.spi.R2dbcTimeoutException;

/**
 * PostgreSQL refused a query for a reason the caller can name: the query's own fault or its cost, not PostgreSQL's
 * health. {@link QueryRepository} translates PostgreSQL's errors into this, so that callers never look at SQLSTATEs;
 * the message is PostgreSQL's, the cause its error.
 */
public final class QueryException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** SQLSTATE 2201B: a regular expression PostgreSQL cannot compile. */
    private static final String INVALID_REGULAR_EXPRESSION = "2201B";
    /** SQLSTATE 57014: the statement was cancelled ({@code statement_timeout}). */
    private static final String QUERY_CANCELED = "57014";

    /** Why the query was refused. */
    public enum Kind {
        /** A regular expression matcher PostgreSQL's dialect does not accept (Java's may have). */
        INVALID_REGEX,
        /** The statement (or the query's regular expressions applied in Java) ran longer than
         * {@code query.statement-timeout}. */
        TIMEOUT
    }

    private final Kind kind;

    private QueryException(Kind kind, R2dbcException cause) {
        super(cause.getMessage(), cause, false, false);
        this.kind = kind;
    }

    private QueryException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    /** A query's work outside PostgreSQL (evaluation, a regular expression applied in Java) ran past the statement timeout. */
    static QueryException timeout(String message) {
        return new QueryException(Kind.TIMEOUT, message);
    }

    public Kind kind() {
        return kind;
    }

    /** {@code error} as a {@link QueryException} when it is one of the {@link Kind}s, else {@code error} itself. */
    static Throwable translate(Throwable error) {
        if (error instanceof R2dbcException r) {
            if (INVALID_REGULAR_EXPRESSION.equals(r.getSqlState())) {
                return new QueryException(Kind.INVALID_REGEX, r);
            }
            if (r instanceof R2dbcTimeoutException || QUERY_CANCELED.equals(r.getSqlState())) {
                return new QueryException(Kind.TIMEOUT, r);
            }
        }
        return error;
    }
}
