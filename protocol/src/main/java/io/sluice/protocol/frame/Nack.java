package io.sluice.protocol.frame;

import io.sluice.protocol.error.ErrorCode;

import java.util.Objects;

/**
 * NACK: the batch with this sequence number was not accepted. If the code is
 * {@linkplain ErrorCode#retriable() retriable} the client sends it again after {@code retryAfterMs};
 * otherwise the batch is rejected for good.
 *
 * @param sequence     the BATCH's sequence number
 * @param code         why
 * @param retryAfterMs how long to wait before resending (0 for non-retriable codes)
 * @param message      human-readable detail, cut to {@link FrameFormat#MAX_MESSAGE_BYTES} UTF-8 bytes
 */
public record Nack(long sequence, ErrorCode code, int retryAfterMs, String message) implements ProtocolMessage {

    public Nack {
        Objects.requireNonNull(code, "code");
        message = FrameFormat.truncate(Objects.requireNonNull(message, "message"));
        if (retryAfterMs < 0) {
            throw new IllegalArgumentException("retryAfterMs: " + retryAfterMs + " (expected: >= 0)");
        }
    }

    @Override
    public FrameType type() {
        return FrameType.NACK;
    }
}
