package io.sluice.protocol.frame;

import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.DecoderResultProvider;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.error.ProtocolException;

/**
 * What the decoder emits instead of a message when the input is malformed: the error code and detail to
 * answer with. After emitting it the decoder discards all further input; {@link InvalidFrameHandler}
 * answers with an ERROR frame and closes the connection. No exception travels through the pipeline.
 */
public final class InvalidFrame implements DecoderResultProvider {

    private final ErrorCode code;
    private final String message;
    private DecoderResult result;

    public InvalidFrame(ErrorCode code, String message) {
        this.code = code;
        this.message = message;
        this.result = DecoderResult.failure(new ProtocolException(code, message));
    }

    /** The code to answer with. */
    public ErrorCode code() {
        return code;
    }

    /** What is wrong with the input. */
    public String message() {
        return message;
    }

    @Override
    public DecoderResult decoderResult() {
        return result;
    }

    @Override
    public void setDecoderResult(DecoderResult result) {
        this.result = result;
    }

    @Override
    public String toString() {
        return "InvalidFrame[" + code + ": " + message + ']';
    }
}
