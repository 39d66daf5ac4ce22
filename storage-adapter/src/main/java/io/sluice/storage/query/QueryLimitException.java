package io.sluice.storage.query;

/** A query asks for more than a {@code query.*} limit allows; the message names the limit. */
public final class QueryLimitException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String code;

    public QueryLimitException(String code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    /** {@code too_many_series}, {@code too_many_points}, {@code too_many_samples}, {@code range_too_long}. */
    public String code() {
        return code;
    }
}
