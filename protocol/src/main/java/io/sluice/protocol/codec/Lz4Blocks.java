package io.sluice.protocol.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.error.ProtocolException;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

import java.nio.ByteBuffer;

/**
 * LZ4 block compression of a records block, shared by BATCH frames and segments:
 * {@code uncompressedLength u32 | LZ4 block (raw, no frame format)}.
 *
 * <p>Uses the pure-Java LZ4 implementation: the JNI one would extract a native library to disk the first
 * time it is used, which is blocking file I/O on an event loop. Decompression uses the safe decompressor,
 * which never reads or writes outside the given ranges whatever the input, and is bounded by the declared
 * length, which the caller has already checked against its limit.
 */
public final class Lz4Blocks {

    private static final LZ4Compressor COMPRESSOR = LZ4Factory.fastestJavaInstance().fastCompressor();
    private static final LZ4SafeDecompressor DECOMPRESSOR = LZ4Factory.fastestJavaInstance().safeDecompressor();

    private Lz4Blocks() {
    }

    /** Appends {@code src}'s readable bytes to {@code out} as length + LZ4 block; does not move {@code src}. */
    public static void compress(ByteBuf src, ByteBuf out) {
        int srcLen = src.readableBytes();
        int maxLen = COMPRESSOR.maxCompressedLength(srcLen);
        out.writeInt(srcLen);
        out.ensureWritable(maxLen);
        ByteBuffer in = src.nioBufferCount() == 1
                ? src.nioBuffer(src.readerIndex(), srcLen)
                : ByteBuffer.wrap(io.netty.buffer.ByteBufUtil.getBytes(src));
        ByteBuffer dst = out.nioBuffer(out.writerIndex(), maxLen);
        int n = COMPRESSOR.compress(in, in.position(), srcLen, dst, dst.position(), maxLen);
        out.writerIndex(out.writerIndex() + n);
    }

    /**
     * Decompresses {@code in}'s remaining readable bytes, an LZ4 block that must expand to exactly
     * {@code declaredLength} bytes, into a new buffer from {@code alloc} that the caller owns.
     * Consumes {@code in}'s readable bytes.
     */
    public static ByteBuf decompress(ByteBuf in, int declaredLength, ByteBufAllocator alloc) {
        int srcLen = in.readableBytes();
        ByteBuf out = alloc.buffer(declaredLength, declaredLength);
        try {
            ByteBuffer src = in.nioBufferCount() == 1
                    ? in.nioBuffer(in.readerIndex(), srcLen)
                    : ByteBuffer.wrap(io.netty.buffer.ByteBufUtil.getBytes(in));
            ByteBuffer dst = out.nioBuffer(0, declaredLength);
            int n = DECOMPRESSOR.decompress(src, src.position(), srcLen, dst, dst.position(), declaredLength);
            if (n != declaredLength) {
                throw new ProtocolException(ErrorCode.COMPRESSION_ERROR,
                        "LZ4 block expands to " + n + " bytes, " + declaredLength + " declared");
            }
            out.writerIndex(declaredLength);
            in.skipBytes(srcLen);
            return out;
        } catch (ProtocolException e) {
            out.release();
            throw e;
        } catch (RuntimeException e) {
            // LZ4Exception and the index checks of a corrupt block: the input is bad, not the code.
            out.release();
            throw new ProtocolException(ErrorCode.COMPRESSION_ERROR, "corrupt LZ4 block: " + e.getMessage());
        }
    }
}
