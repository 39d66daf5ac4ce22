package io.sluice.gateway.edge;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslHandler;
import io.sluice.protocol.preface.Preface;
import io.sluice.protocol.preface.PrefaceDetection;

import java.util.List;

/**
 * Tells a connection's protocol from its first bytes, as Netty's port-unification example does, installs
 * the handlers for it and removes itself; the bytes it has seen flow on to them.
 *
 * <ul>
 *   <li>TLS (when configured): a TLS record header, decided by {@link SslHandler#isEncrypted} from 5
 *       bytes; an {@code SslHandler} and a new detector for the decrypted stream follow.</li>
 *   <li>binary: a first byte 0x89, decided by {@link Preface#detect} (SPEC.md §1); the binary decoder
 *       checks the rest of the magic and answers a wrong one with ERROR PROTOCOL_ERROR.</li>
 *   <li>HTTP: anything else (an HTTP method's first letter decides at once). On a binary-only port
 *       anything else goes to the binary decoder, which answers ERROR PROTOCOL_ERROR.</li>
 * </ul>
 */
final class ProtocolDetector extends ByteToMessageDecoder {

    /** Bytes {@link SslHandler#isEncrypted} needs: a TLS record header. */
    private static final int TLS_HEADER_BYTES = 5;

    private final EdgePipeline edge;
    private final boolean tlsAllowed;
    private final boolean httpAllowed;

    ProtocolDetector(EdgePipeline edge, boolean tlsAllowed, boolean httpAllowed) {
        this.edge = edge;
        this.tlsAllowed = tlsAllowed;
        this.httpAllowed = httpAllowed;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (!in.isReadable()) {
            return;
        }
        if (tlsAllowed && mayBeTls(in)) {
            if (in.readableBytes() < TLS_HEADER_BYTES) {
                return;
            }
            if (SslHandler.isEncrypted(in, false)) {
                edge.addTls(ctx, httpAllowed);
                ctx.pipeline().remove(this);
                return;
            }
        }
        PrefaceDetection detection = Preface.detect(in);
        if (detection == PrefaceDetection.NEED_MORE_BYTES) {
            return;
        }
        if (detection == PrefaceDetection.BINARY || !httpAllowed) {
            edge.addBinary(ctx.pipeline());
        } else {
            edge.addHttp(ctx.pipeline());
        }
        ctx.pipeline().remove(this);
    }

    /** TLS record content types: change_cipher_spec, alert, handshake, application_data (20..23). */
    private static boolean mayBeTls(ByteBuf in) {
        int first = in.getUnsignedByte(in.readerIndex());
        return first >= 20 && first <= 23;
    }
}
