package io.sluice.protocol.frame;

import io.sluice.protocol.error.ErrorCode;

import java.util.Objects;

/**
 * GOAWAY: the sender will close the connection soon and takes no new batches; batches already sent are
 * still answered until the close. The client reconnects and resends whatever stays unanswered.
 *
 * @param reason  why (usually {@link ErrorCode#SHUTTING_DOWN})
 * @param message human-readable detail, cut to {@link FrameFormat#MAX_MESSAGE_BYTES} UTF-8 bytes
 */
public record GoAway(ErrorCode reason, String message) implements ProtocolMessage {

    public GoAway {
        Objects.requireNonNull(reason, "reason");
        message = FrameFormat.truncate(Objects.requireNonNull(message, "message"));
    }

    @Override
    public FrameType type() {
        return FrameType.GOAWAY;
    }
}
