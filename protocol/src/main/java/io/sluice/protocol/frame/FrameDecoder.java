package io.sluice.protocol.frame;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.sluice.protocol.codec.Lz4Blocks;
import io.sluice.protocol.codec.Utf8Strings;
import io.sluice.protocol.codec.Varints;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.error.ProtocolException;
import io.sluice.protocol.preface.Preface;
import io.sluice.protocol.record.RecordBlocks;
import io.sluice.protocol.record.RecordLimits;
import io.sluice.protocol.record.SeriesDictionary;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Decodes the bytes of one connection into {@link ProtocolMessage}s: a state machine
 * {@code READ_PREFACE → READ_HEADER ⇄ READ_PAYLOAD}, and {@code BAD_MESSAGE} once the input was malformed.
 *
 * <p>Limits are checked on the header, before the payload is buffered or anything is allocated. Malformed
 * input becomes an {@link InvalidFrame} value (never an exception), after which every further byte is
 * discarded; {@link InvalidFrameHandler} answers it with an ERROR frame and closes.
 *
 * <p>The server-side decoder also owns the connection's series dictionary: series definitions in a BATCH
 * take effect when the BATCH is decoded, whatever its ACK or NACK. It also requires the preface and then
 * HELLO as the first frame. One instance per channel (not sharable).
 *
 * <p>Ownership: a decoded {@link Batch} owns its records buffer (a retained slice of the input, or the
 * decompressed block) and the next handler must release it.
 */
public final class FrameDecoder extends ByteToMessageDecoder {

    private enum State { READ_PREFACE, READ_HEADER, READ_PAYLOAD, BAD_MESSAGE }

    private final boolean server;
    private final FrameLimits limits;
    private final SeriesDictionary dictionary = new SeriesDictionary();
    private State state;
    private int payloadLength;
    private FrameType frameType;
    private int flags;
    private boolean helloSeen;

    private FrameDecoder(boolean server, FrameLimits limits) {
        this.server = server;
        this.limits = Objects.requireNonNull(limits, "limits");
        this.state = server ? State.READ_PREFACE : State.READ_HEADER;
    }

    /** A decoder for the gateway side: expects the preface, then HELLO, then client frames. */
    public static FrameDecoder forServer(FrameLimits limits) {
        return new FrameDecoder(true, limits);
    }

    /** A decoder for the agent side: server frames, no preface. */
    public static FrameDecoder forClient(FrameLimits limits) {
        return new FrameDecoder(false, limits);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case READ_PREFACE -> readPreface(in, out);
            case READ_HEADER -> readHeader(in, out);
            case READ_PAYLOAD -> readPayload(ctx, in, out);
            case BAD_MESSAGE -> in.skipBytes(in.readableBytes());
            default -> throw new IllegalStateException(state.name());
        }
    }

    private void readPreface(ByteBuf in, List<Object> out) {
        int version = Preface.read(in);
        if (version == Preface.INCOMPLETE) {
            return;
        }
        if (version == Preface.BAD_MAGIC) {
            fail(in, out, ErrorCode.PROTOCOL_ERROR, "bad magic: not a Sluice binary connection");
        } else if (version != Preface.CURRENT_VERSION) {
            fail(in, out, ErrorCode.UNSUPPORTED_VERSION,
                    "preface version " + version + " (supported: " + Preface.CURRENT_VERSION + ")");
        } else {
            state = State.READ_HEADER;
        }
    }

    private void readHeader(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < FrameFormat.HEADER_BYTES) {
            return;
        }
        long length = in.readUnsignedInt();
        int typeId = in.readUnsignedByte();
        int frameFlags = in.readUnsignedByte();
        if (length > limits.maxFrameBytes()) {
            fail(in, out, ErrorCode.FRAME_TOO_LARGE, "frame payload: " + length + " bytes (expected: <= "
                    + limits.maxFrameBytes() + "; raise maxFrameBytes)");
            return;
        }
        FrameType type = FrameType.fromId(typeId);
        if (type == null) {
            fail(in, out, ErrorCode.PROTOCOL_ERROR, "unknown frame type 0x" + Integer.toHexString(typeId));
            return;
        }
        FrameType.Direction forbidden = server ? FrameType.Direction.SERVER_TO_CLIENT : FrameType.Direction.CLIENT_TO_SERVER;
        if (type.direction() == forbidden) {
            fail(in, out, ErrorCode.PROTOCOL_ERROR, type + " may not be sent by the " + (server ? "client" : "server"));
            return;
        }
        int allowedFlags = type == FrameType.BATCH ? FrameFormat.FLAG_LZ4 : 0;
        if ((frameFlags & ~allowedFlags) != 0) {
            fail(in, out, ErrorCode.PROTOCOL_ERROR, "unknown flags 0x" + Integer.toHexString(frameFlags) + " on " + type);
            return;
        }
        if (server) {
            if (!helloSeen && type != FrameType.HELLO) {
                fail(in, out, ErrorCode.PROTOCOL_ERROR, "the first frame must be HELLO, got " + type);
                return;
            }
            if (helloSeen && type == FrameType.HELLO) {
                fail(in, out, ErrorCode.PROTOCOL_ERROR, "HELLO sent twice");
                return;
            }
            helloSeen = true;
        }
        payloadLength = (int) length;
        frameType = type;
        flags = frameFlags;
        state = State.READ_PAYLOAD;
    }

    private void readPayload(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (in.readableBytes() < payloadLength) {
            return;
        }
        ByteBuf payload = in.readSlice(payloadLength);
        state = State.READ_HEADER;
        try {
            out.add(parse(ctx, frameType, flags, payload));
        } catch (ProtocolException e) {
            ErrorCode code = e.errorCode();
            if (code == ErrorCode.INVALID_RECORD && frameType != FrameType.BATCH) {
                // Varint and string helpers speak of records; outside a BATCH it is a framing error.
                code = ErrorCode.PROTOCOL_ERROR;
            }
            fail(in, out, code, e.detail());
        } catch (IndexOutOfBoundsException e) {
            fail(in, out, ErrorCode.PROTOCOL_ERROR, frameType + " frame is truncated (" + payloadLength + " bytes)");
        }
    }

    private Object parse(ChannelHandlerContext ctx, FrameType type, int frameFlags, ByteBuf p) {
        int maxString = limits.records().maxStringBytes();
        ProtocolMessage msg;
        switch (type) {
            case HELLO -> {
                int version = p.readUnsignedShort();
                String agentId = Utf8Strings.read(p, maxString, "agent id", ErrorCode.PROTOCOL_ERROR);
                String apiKey = Utf8Strings.read(p, maxString, "API key", ErrorCode.PROTOCOL_ERROR);
                int n = Varints.readBounded(p, Hello.MAX_OPTIONS, "HELLO options", ErrorCode.PROTOCOL_ERROR);
                Map<String, String> options = new HashMap<>();
                for (int i = 0; i < n; i++) {
                    String k = Utf8Strings.read(p, maxString, "option key", ErrorCode.PROTOCOL_ERROR);
                    options.put(k, Utf8Strings.read(p, maxString, "option value", ErrorCode.PROTOCOL_ERROR));
                }
                if (version != Preface.CURRENT_VERSION) {
                    throw new ProtocolException(ErrorCode.UNSUPPORTED_VERSION,
                            "HELLO version " + version + " (supported: " + Preface.CURRENT_VERSION + ")");
                }
                msg = new Hello(version, agentId, apiKey, options);
            }
            case HELLO_OK -> {
                long sessionId = p.readLong();
                long maxFrame = p.readUnsignedInt();
                int maxInFlight = p.readUnsignedShort();
                if (maxFrame == 0 || maxFrame > Integer.MAX_VALUE || maxInFlight == 0) {
                    throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "HELLO_OK limits out of range: maxFrameBytes="
                            + maxFrame + ", maxInFlightBatches=" + maxInFlight);
                }
                msg = new HelloOk(sessionId, (int) maxFrame, maxInFlight, p.isReadable() ? readLimits(p) : null);
            }
            case BATCH -> {
                return parseBatch(ctx, frameFlags, p);
            }
            case ACK -> msg = new Ack(p.readLong());
            case NACK -> {
                long sequence = p.readLong();
                ErrorCode code = ErrorCode.fromCode(p.readUnsignedShort());
                long retryAfter = p.readUnsignedInt();
                String message = Utf8Strings.read(p, maxString, "NACK message", ErrorCode.PROTOCOL_ERROR);
                msg = new Nack(sequence, code, (int) Math.min(retryAfter, Integer.MAX_VALUE), message);
            }
            case PING -> msg = new Ping(p.readLong());
            case PONG -> msg = new Pong(p.readLong());
            case GOAWAY -> {
                ErrorCode code = ErrorCode.fromCode(p.readUnsignedShort());
                msg = new GoAway(code, Utf8Strings.read(p, maxString, "GOAWAY message", ErrorCode.PROTOCOL_ERROR));
            }
            case ERROR -> {
                ErrorCode code = ErrorCode.fromCode(p.readUnsignedShort());
                msg = new ErrorFrame(code, Utf8Strings.read(p, maxString, "ERROR message", ErrorCode.PROTOCOL_ERROR));
            }
            default -> throw new IllegalStateException(type.name());
        }
        if (p.isReadable()) {
            throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, p.readableBytes() + " trailing bytes after " + type);
        }
        return msg;
    }

    /** HELLO_OK's limits list: ids strictly ascending, values within {@code i64}. */
    private static SessionLimits readLimits(ByteBuf p) {
        int n = Varints.readBounded(p, SessionLimits.MAX_ENTRIES, "HELLO_OK limits", ErrorCode.PROTOCOL_ERROR);
        SortedMap<Integer, Long> byId = new TreeMap<>();
        long previous = -1;
        for (int i = 0; i < n; i++) {
            int id = Varints.readBounded(p, Integer.MAX_VALUE, "limit id", ErrorCode.PROTOCOL_ERROR);
            long value = Varints.readUnsigned(p);
            if (id <= previous || value < 0) {
                throw new ProtocolException(ErrorCode.PROTOCOL_ERROR, "HELLO_OK limit " + id + "="
                        + Long.toUnsignedString(value) + ": ids must ascend strictly and values fit in 63 bits");
            }
            previous = id;
            byId.put(id, value);
        }
        return SessionLimits.fromIds(byId);
    }

    private Batch parseBatch(ChannelHandlerContext ctx, int frameFlags, ByteBuf p) {
        long sequence = p.readLong();
        RecordLimits recordLimits = limits.records();
        boolean lz4 = (frameFlags & FrameFormat.FLAG_LZ4) != 0;
        ByteBuf block;
        if (lz4) {
            long declared = p.readUnsignedInt();
            if (declared > recordLimits.maxBlockBytes()) {
                throw new ProtocolException(ErrorCode.FRAME_TOO_LARGE, "BATCH decompresses to " + declared
                        + " bytes (expected: <= " + recordLimits.maxBlockBytes() + "; raise maxBlockBytes)");
            }
            block = Lz4Blocks.decompress(p, (int) declared, ctx.alloc());
        } else {
            block = p.readRetainedSlice(p.readableBytes());
        }
        try {
            RecordBlocks.Counts counts = RecordBlocks.validate(block, dictionary, recordLimits);
            return new Batch(sequence, block, dictionary.snapshot(), counts.samples(), counts.events(), lz4);
        } catch (RuntimeException e) {
            block.release();
            throw e;
        }
    }

    private void fail(ByteBuf in, List<Object> out, ErrorCode code, String message) {
        state = State.BAD_MESSAGE;
        in.skipBytes(in.readableBytes());
        out.add(new InvalidFrame(code, message));
    }
}
