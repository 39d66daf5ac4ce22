package io.sluice.protocol.server;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.sluice.protocol.frame.FrameDecoder;
import io.sluice.protocol.frame.FrameEncoder;
import io.sluice.protocol.frame.FrameLimits;
import io.sluice.protocol.frame.InvalidFrameHandler;

import java.util.Objects;

/**
 * Installs the server side of the binary protocol on a channel pipeline, around the gateway's own session
 * handler. Handler names are the constants below; in pipeline order:
 *
 * <ol>
 *   <li>{@value #FRAME_DECODER}: {@link FrameDecoder#forServer}, bytes (preface first) to messages</li>
 *   <li>{@value #FRAME_ENCODER}: {@link FrameEncoder}, messages to frames</li>
 *   <li>{@value #INVALID_FRAME}: {@link InvalidFrameHandler}, malformed input to ERROR + close</li>
 *   <li>{@value #SESSION}: the caller's handler; it receives {@code Hello} first, then {@code Batch}
 *       (release it!), {@code Ping}, {@code Pong}, {@code GoAway}, {@code ErrorFrame}, and writes
 *       {@code HelloOk}, {@code Ack}, {@code Nack}, ... from its own context</li>
 *   <li>{@value #EXCEPTIONS}: {@link ProtocolExceptionHandler}, any exception to ERROR + close</li>
 * </ol>
 *
 * <p>For port unification, call {@link #install} from the sniffing handler once
 * {@link io.sluice.protocol.preface.Preface#detect} says {@code BINARY}, then remove the sniffer: the bytes
 * it has seen (the preface included) flow into the frame decoder.
 */
public final class ServerPipeline {

    public static final String FRAME_DECODER = "sluice-frame-decoder";
    public static final String FRAME_ENCODER = "sluice-frame-encoder";
    public static final String INVALID_FRAME = "sluice-invalid-frame";
    public static final String SESSION = "sluice-session";
    public static final String EXCEPTIONS = "sluice-exceptions";

    private ServerPipeline() {
    }

    /** Appends the binary protocol handlers and {@code session} to the end of {@code pipeline}. */
    public static void install(ChannelPipeline pipeline, FrameLimits limits, ChannelHandler session) {
        Objects.requireNonNull(session, "session");
        pipeline.addLast(FRAME_DECODER, FrameDecoder.forServer(limits));
        pipeline.addLast(FRAME_ENCODER, FrameEncoder.INSTANCE);
        pipeline.addLast(INVALID_FRAME, InvalidFrameHandler.INSTANCE);
        pipeline.addLast(SESSION, session);
        pipeline.addLast(EXCEPTIONS, ProtocolExceptionHandler.INSTANCE);
    }
}
