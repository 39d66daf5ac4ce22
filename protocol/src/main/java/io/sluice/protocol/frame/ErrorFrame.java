package io.sluice.protocol.frame;

import io.sluice.protocol.error.ErrorCode;

import java.util.Objects;

/**
 * ERROR: a connection-level failure; the sender closes the connection right after it.
 *
 * @param code    why
 * @param message human-readable detail, cut to {@link FrameFormat#MAX_MESSAGE_BYTES} UTF-8 bytes
 */
public record ErrorFrame(ErrorCode code, String message) implements ProtocolMessage {

    public ErrorFrame {
        Objects.requireNonNull(code, "code");
        message = FrameFormat.truncate(Objects.requireNonNull(message, "message"));
    }

    @Override
    public FrameType type() {
        return FrameType.ERROR;
    }
}
