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
 * <p>Compresses with the pure-Java LZ4 implementation unless {@link #useNativeCompressor()} switched this JVM to
 * the native one: loading it extracts a library to disk, blocking file I/O that must not happen on an event loop the
 * first time a batch is compressed, so a process opts in at start-up (the gateway does; the agent client does not).
 * Decompression always uses the pure-Java safe decompressor, whatever the switch: it reads what clients send, and it
 * never reads or writes outside the given ranges whatever the input, bounded by the declared length, which the caller
 * has already checked against its limit.
 */
public final class Lz4Blocks {

    private static volatile LZ4Compressor compressor = LZ4Factory.fastestJavaInstance().fastCompressor();
    private static final LZ4SafeDecompressor DECOMPRESSOR = LZ4Factory.fastestJavaInstance().safeDecompressor();

    /**
     * Compresses with the native (JNI) LZ4 from now on, if this platform has it; the format is the same. Blocking (it
     * may extract the library): call at start-up, off any event loop. Returns whether the native one is in use.
     */
    public static boolean useNativeCompressor() {
        try {
            compressor = LZ4Factory.nativeInstance().fastCompressor();
            return true;
        } catch (Throwable notHere) { // no native build for this platform, or the library cannot be written
            return false;
        }
    }

    private Lz4Blocks() {
    }

    /** Appends {@code src}'s readable bytes to {@code out} as length + LZ4 block; does not move {@code src}. */
    public static void compress(ByteBuf src, ByteBuf out) {
        int srcLen = src.readableBytes();
        LZ4Compressor compressor = Lz4Blocks.compressor;
        int maxLen = compressor.maxCompressedLength(srcLen);
        out.writeInt(srcLen);
        out.ensureWritable(maxLen);
        ByteBuffer in = src.nioBufferCount() == 1
                ? src.nioBuffer(src.readerIndex(), srcLen)
                : ByteBuffer.wrap(io.netty.buffer.ByteBufUtil.getBytes(src));
        ByteBuffer dst = out.nioBuffer(out.writerIndex(), maxLen);
        int n = compressor.compress(in, in.position(), srcLen, dst, dst.position(), maxLen);
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
