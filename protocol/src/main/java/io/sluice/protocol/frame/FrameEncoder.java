package io.sluice.protocol.frame;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import io.sluice.protocol.codec.Lz4Blocks;
import io.sluice.protocol.codec.Utf8Strings;
import io.sluice.protocol.codec.Varints;

import java.util.Map;
import java.util.TreeMap;

/**
 * Encodes {@link ProtocolMessage}s into frames. Stateless, so one shared instance serves every channel.
 *
 * <p>Ownership: like every {@link MessageToByteEncoder}, it releases the message after encoding it, so
 * a {@link Batch} written to the channel belongs to the channel from then on.
 */
@Sharable
public final class FrameEncoder extends MessageToByteEncoder<ProtocolMessage> {

    /** The shared instance. */
    public static final FrameEncoder INSTANCE = new FrameEncoder();

    private FrameEncoder() {
        super(ProtocolMessage.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, ProtocolMessage msg, ByteBuf out) {
        encode(msg, out);
    }

    @Override
    protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, ProtocolMessage msg, boolean preferDirect) {
        int hint = msg instanceof Batch b ? FrameFormat.HEADER_BYTES + 12 + b.recordBytes() + b.recordBytes() / 255 + 16 : 64;
        return preferDirect ? ctx.alloc().ioBuffer(hint) : ctx.alloc().heapBuffer(hint);
    }

    /** Appends the frame for {@code msg} to {@code out}; does not release {@code msg}. */
    public static void encode(ProtocolMessage msg, ByteBuf out) {
        int start = out.writerIndex();
        out.writeInt(0);
        out.writeByte(msg.type().id());
        out.writeByte(0);
        int flags = 0;
        if (msg instanceof Batch b) {
            out.writeLong(b.sequence());
            if (b.compressed()) {
                flags |= FrameFormat.FLAG_LZ4;
                Lz4Blocks.compress(b.content(), out);
            } else {
                out.writeBytes(b.content(), b.content().readerIndex(), b.content().readableBytes());
            }
        } else if (msg instanceof Ack a) {
            out.writeLong(a.sequence());
        } else if (msg instanceof Nack n) {
            out.writeLong(n.sequence());
            out.writeShort(n.code().code());
            out.writeInt(n.retryAfterMs());
            Utf8Strings.write(out, n.message());
        } else if (msg instanceof Hello h) {
            out.writeShort(h.version());
            Utf8Strings.write(out, h.agentId());
            Utf8Strings.write(out, h.apiKey());
            // Sorted so that the same HELLO always has the same bytes (golden fixtures, caches).
            Map<String, String> sorted = new TreeMap<>(h.options());
            Varints.writeUnsigned(out, sorted.size());
            for (Map.Entry<String, String> e : sorted.entrySet()) {
                Utf8Strings.write(out, e.getKey());
                Utf8Strings.write(out, e.getValue());
            }
        } else if (msg instanceof HelloOk ok) {
            out.writeLong(ok.sessionId());
            out.writeInt(ok.maxFrameBytes());
            out.writeShort(ok.maxInFlightBatches());
            if (ok.limits() != null) {
                Varints.writeUnsigned(out, ok.limits().byId().size());
                ok.limits().byId().forEach((id, value) -> {
                    Varints.writeUnsigned(out, id);
                    Varints.writeUnsigned(out, value);
                });
            }
        } else if (msg instanceof Ping p) {
            out.writeLong(p.payload());
        } else if (msg instanceof Pong p) {
            out.writeLong(p.payload());
        } else if (msg instanceof GoAway g) {
            out.writeShort(g.reason().code());
            Utf8Strings.write(out, g.message());
        } else if (msg instanceof ErrorFrame e) {
            out.writeShort(e.code().code());
            Utf8Strings.write(out, e.message());
        } else {
            throw new IllegalArgumentException("unknown message: " + msg);
        }
        out.setInt(start, out.writerIndex() - start - FrameFormat.HEADER_BYTES);
        out.setByte(start + 5, flags);
    }
}
