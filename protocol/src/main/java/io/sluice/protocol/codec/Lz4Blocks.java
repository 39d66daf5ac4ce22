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
 * <p>Compresses and decompresses with the pure-Java LZ4 implementation unless {@link #useNative()} switched this JVM
 * to the native one: loading it extracts a library to disk, blocking file I/O that must not happen on an event loop
 * the first time a block is handled, so a process opts in at start-up (the gateway and the storage writer do; the
 * agent client does not). Either decompressor is LZ4's safe one, made for untrusted input: whatever a client sends,
 * it never reads or writes outside the given ranges (the native binding checks them before it calls
 * {@code LZ4_decompress_safe}, which is bounded by them), bounded by the declared length, which the caller has already
 * checked against its limit. Both give the same verdict on every input ({@code Lz4BlocksFuzzTest}). Into a direct
 * buffer the native one decompresses about 7x as fast as the Java one here (2.9 against 0.4 GB/s).
 */
public final class Lz4Blocks {

    private static final LZ4Factory JAVA = LZ4Factory.fastestJavaInstance();
    private static volatile LZ4Compressor compressor = JAVA.fastCompressor();
    private static volatile LZ4SafeDecompressor decompressor = JAVA.safeDecompressor();

    /**
     * Compresses and decompresses with the native (JNI) LZ4 from now on, if this platform has it; the format is the
     * same. Blocking (it may extract the library): call at start-up, off any event loop. Returns whether the native
     * one is in use.
     */
    public static boolean useNative() {
        try {
            LZ4Factory lz4 = LZ4Factory.nativeInstance();
            compressor = lz4.fastCompressor();
            decompressor = lz4.safeDecompressor();
            return true;
        } catch (Throwable notHere) { // no native build for this platform, or the library cannot be written
            return false;
        }
    }

    /** The pure-Java safe decompressor, for tests that compare it with the native one. */
    static LZ4SafeDecompressor javaDecompressor() {
        return JAVA.safeDecompressor();
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
        return decompress(in, declaredLength, alloc, decompressor);
    }

    /** {@link #decompress(ByteBuf, int, ByteBufAllocator)} with this decompressor. */
    static ByteBuf decompress(ByteBuf in, int declaredLength, ByteBufAllocator alloc, LZ4SafeDecompressor decompressor) {
        int srcLen = in.readableBytes();
        ByteBuf out = alloc.buffer(declaredLength, declaredLength);
        try {
            ByteBuffer src = in.nioBufferCount() == 1
                    ? in.nioBuffer(in.readerIndex(), srcLen)
                    : ByteBuffer.wrap(io.netty.buffer.ByteBufUtil.getBytes(in));
            ByteBuffer dst = out.nioBuffer(0, declaredLength);
            int n = decompressor.decompress(src, src.position(), srcLen, dst, dst.position(), declaredLength);
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
