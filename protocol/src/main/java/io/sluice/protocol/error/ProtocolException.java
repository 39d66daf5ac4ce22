package io.sluice.protocol.error;

/**
 * Malformed or over-limit input found while decoding, with the {@link ErrorCode} to answer it with.
 *
 * <p>Thrown inside the decoders and the segment reader only; the frame decoder turns it into an
 * {@code InvalidFrame} value so that it never travels through a Netty pipeline as an exception. It carries
 * no stack trace because it describes the input, not the code, and fuzzed input produces many of them.
 */
public final class ProtocolException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final ErrorCode errorCode;

    public ProtocolException(ErrorCode errorCode, String message) {
        super(errorCode + ": " + message, null, false, false);
        this.errorCode = errorCode;
    }

    /** The code the peer should be told. */
    public ErrorCode errorCode() {
        return errorCode;
    }

    /** The message without the code prefix, as sent in an ERROR frame. */
    public String detail() {
        String m = getMessage();
        return m.substring(errorCode.name().length() + 2);
    }
}
