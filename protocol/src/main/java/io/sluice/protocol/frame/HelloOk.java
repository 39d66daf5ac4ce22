package io.sluice.protocol.frame;

/**
 * HELLO_OK: the server accepted the HELLO, and these are the session's limits.
 *
 * @param sessionId          the server's id for this session (for logs on both sides)
 * @param maxFrameBytes      the largest frame payload the server accepts; bigger BATCHes are rejected
 * @param maxInFlightBatches how many BATCHes the client may have sent and not yet seen answered
 * @param limits             the limits list (SPEC.md §2.2), sent only to a client whose HELLO carried the
 *                           option {@value Hello#OPTION_LIMITS}{@code =1}; null when absent
 */
public record HelloOk(long sessionId, int maxFrameBytes, int maxInFlightBatches, SessionLimits limits)
        implements ProtocolMessage {

    public HelloOk {
        if (maxFrameBytes <= 0) {
            throw new IllegalArgumentException("maxFrameBytes: " + maxFrameBytes + " (expected: > 0)");
        }
        if (maxInFlightBatches < 1 || maxInFlightBatches > 0xFFFF) {
            throw new IllegalArgumentException("maxInFlightBatches: " + maxInFlightBatches + " (expected: 1-65535)");
        }
    }

    /** A HELLO_OK without the limits list, as sent to a client that did not ask for it. */
    public HelloOk(long sessionId, int maxFrameBytes, int maxInFlightBatches) {
        this(sessionId, maxFrameBytes, maxInFlightBatches, null);
    }

    @Override
    public FrameType type() {
        return FrameType.HELLO_OK;
    }
}
