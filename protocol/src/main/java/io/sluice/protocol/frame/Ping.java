package io.sluice.protocol.frame;

/**
 * PING: asks the peer to answer with a {@link Pong} carrying the same payload (liveness and round-trip time).
 *
 * @param payload opaque to the receiver, echoed back
 */
public record Ping(long payload) implements ProtocolMessage {

    @Override
    public FrameType type() {
        return FrameType.PING;
    }
}
