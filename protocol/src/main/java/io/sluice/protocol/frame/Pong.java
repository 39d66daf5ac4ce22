package io.sluice.protocol.frame;

/**
 * PONG: the answer to a {@link Ping}.
 *
 * @param payload the PING's payload
 */
public record Pong(long payload) implements ProtocolMessage {

    @Override
    public FrameType type() {
        return FrameType.PONG;
    }
}
