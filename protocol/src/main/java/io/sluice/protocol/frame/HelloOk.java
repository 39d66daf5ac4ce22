package io.sluice.protocol.frame;

/**
 * HELLO_OK: the server accepted the HELLO, and these are the session's limits.
 *
 * @param sessionId          the server's id for this session (for logs on both sides)
 * @param maxFrameBytes      the largest frame payload the server accepts; bigger BATCHes are rejected
 * @param maxInFlightBatches how many BATCHes the client may have sent and not yet seen answered
 */
public record HelloOk(long sessionId, int maxFrameBytes, int maxInFlightBatches) implements ProtocolMessage {

    public HelloOk {
        if (maxFrameBytes <= 0) {
            throw new IllegalArgumentException("maxFrameBytes: " + maxFrameBytes + " (expected: > 0)");
        }
        if (maxInFlightBatches < 1 || maxInFlightBatches > 0xFFFF) {
            throw new IllegalArgumentException("maxInFlightBatches: " + maxInFlightBatches + " (expected: 1-65535)");
        }
    }

    @Override
    public FrameType type() {
        return FrameType.HELLO_OK;
    }
}
