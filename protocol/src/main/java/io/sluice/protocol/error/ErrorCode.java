package io.sluice.protocol.error;

/**
 * The permanent error codes of the Sluice binary protocol, carried by NACK, GOAWAY and ERROR frames.
 *
 * <p>A code's number and meaning never change and a removed code's number is never reused (see
 * {@code protocol/SPEC.md}, "Evolution rules"). {@link #retriable()} says whether a client may send the same
 * data again later: retriable codes come with a retry-after and mean "not now", the others mean "never,
 * fix the data or the configuration".
 */
public enum ErrorCode {
    /** A code this implementation does not know (sent by a newer peer); treated as not retriable. Never sent. */
    UNKNOWN(0, false, "unknown error code"),
    /** The peer broke the framing rules: bad magic, unknown frame type, truncated or trailing bytes. */
    PROTOCOL_ERROR(1, false, "protocol error"),
    /** The preface or HELLO named a protocol version the server does not speak. */
    UNSUPPORTED_VERSION(2, false, "unsupported protocol version"),
    /** The API key in HELLO was missing, unknown or revoked. */
    AUTH_FAILED(3, false, "authentication failed"),
    /** A frame (or a batch after decompression) exceeded the receiver's size limit. */
    FRAME_TOO_LARGE(4, false, "frame too large"),
    /** The records of a batch or segment are malformed: bad varint, unknown series, unknown tag, count mismatch. */
    INVALID_RECORD(5, false, "invalid record"),
    /** An LZ4-compressed block could not be decompressed to its declared length. */
    COMPRESSION_ERROR(6, false, "corrupt compressed block"),
    /** The tenant is over its quota; retry after the given delay. */
    THROTTLED(7, true, "throttled"),
    /** The gateway is saturated (ingest queue or spool full); retry after the given delay. */
    RETRY_LATER(8, true, "retry later"),
    /** The server is shutting down; reconnect (possibly to another node) and resend. */
    SHUTTING_DOWN(9, true, "shutting down"),
    /** The server failed for a reason that is not the client's fault; resending may succeed. */
    INTERNAL_ERROR(10, true, "internal error"),
    /** A record-level limit was exceeded: labels per series, series per connection, string bytes, records per batch. */
    LIMIT_EXCEEDED(11, false, "limit exceeded");

    private static final ErrorCode[] BY_CODE;

    static {
        int max = 0;
        for (ErrorCode c : values()) {
            max = Math.max(max, c.code);
        }
        BY_CODE = new ErrorCode[max + 1];
        for (ErrorCode c : values()) {
            BY_CODE[c.code] = c;
        }
    }

    private final int code;
    private final boolean retriable;
    private final String description;

    ErrorCode(int code, boolean retriable, String description) {
        this.code = code;
        this.retriable = retriable;
        this.description = description;
    }

    /** The number on the wire (an unsigned 16-bit integer). */
    public int code() {
        return code;
    }

    /** Whether sending the same data again later may succeed. */
    public boolean retriable() {
        return retriable;
    }

    /** A short human-readable meaning of the code. */
    public String description() {
        return description;
    }

    /** Maps a wire number to its code; numbers this version does not know map to {@link #UNKNOWN}. */
    public static ErrorCode fromCode(int code) {
        if (code <= 0 || code >= BY_CODE.length || BY_CODE[code] == null) {
            return UNKNOWN;
        }
        return BY_CODE[code];
    }
}
