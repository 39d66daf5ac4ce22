package io.sluice.gateway.ingest;

/** The body as a whole cannot be taken (not JSON, wrong shape, too many items); nothing in it is accepted. */
public final class MalformedBatchException extends Exception {

    private static final long serialVersionUID = 1L;

    private final String code;

    public MalformedBatchException(String code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    /** {@code invalid_json}, {@code invalid_batch}, {@code too_many_items}, a format's own decoding codes. */
    public String code() {
        return code;
    }

    /**
     * The status every HTTP format answers it with: 413 when the body holds more than a request may
     * ({@code too_many_items}, {@code body_too_large}), 400 otherwise.
     */
    public io.netty.handler.codec.http.HttpResponseStatus status() {
        return code.equals("too_many_items") || code.equals("body_too_large")
                ? io.netty.handler.codec.http.HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE
                : io.netty.handler.codec.http.HttpResponseStatus.BAD_REQUEST;
    }
}
