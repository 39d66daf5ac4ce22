package io.sluice.protocol.frame;

/**
 * A decoded (or to-be-encoded) frame of the Sluice protocol. The decoder emits these; the encoder writes
 * them. Only {@link Batch} holds a buffer (and must be released by whoever consumes it).
 */
public sealed interface ProtocolMessage permits Hello, HelloOk, Batch, Ack, Nack, Ping, Pong, GoAway, ErrorFrame {

    /** The frame type this message travels as. */
    FrameType type();
}
