package io.sluice.gateway.ingest;

/** The body as a whole cannot be taken (not JSON, wrong shape, too many items); nothing in it is accepted. */
public final class MalformedBatchException extends Exception {

    private static final long serialVersionUID = 1L;

    private final String code;

    public MalformedBatchException(String code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    /** {@code invalid_json}, {@code invalid_batch} or {@code too_many_items}. */
    public String code() {
        return code;
    }
}
