package io.sluice.protocol.client;

import io.sluice.protocol.error.ErrorCode;

/**
 * The server rejected a batch for good (a non-retriable NACK or ERROR): resending it would fail again.
 * {@link #errorCode()} says why; the message names the code and the server's detail.
 */
public final class BatchRejectedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final ErrorCode errorCode;

    BatchRejectedException(ErrorCode errorCode, String detail) {
        super(errorCode + " (" + errorCode.code() + "): " + detail);
        this.errorCode = errorCode;
    }

    /** The server's error code. */
    public ErrorCode errorCode() {
        return errorCode;
    }
}
