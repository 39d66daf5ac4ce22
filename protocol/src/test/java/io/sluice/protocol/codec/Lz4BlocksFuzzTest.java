package io.sluice.protocol.codec;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.error.ProtocolException;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The gateway and the writer decompress what clients send with the native LZ4 where the platform has it: on any
 * input (a declared length up to 256 KiB in the first three bytes, then the block) it gives the same verdict as the
 * pure-Java decompressor, the same bytes or a {@link ProtocolException} with the same code; nothing leaks.
 */
class Lz4BlocksFuzzTest {

    private static final LZ4SafeDecompressor NATIVE = LZ4Factory.nativeInstance().safeDecompressor();

    @FuzzTest(maxDuration = "30s")
    void nativeAndJavaDecompressorsGiveTheSameVerdict(byte[] input) {
        if (input.length < 3) {
            return;
        }
        int declared = ((input[0] & 0xFF) << 16 | (input[1] & 0xFF) << 8 | (input[2] & 0xFF)) & 0x3FFFF;
        assertThat(verdict(input, declared, NATIVE)).isEqualTo(verdict(input, declared, Lz4Blocks.javaDecompressor()));
    }

    private static String verdict(byte[] input, int declared, LZ4SafeDecompressor decompressor) {
        ByteBuf in = Unpooled.wrappedBuffer(input, 3, input.length - 3);
        try {
            ByteBuf out = Lz4Blocks.decompress(in, declared, ByteBufAllocator.DEFAULT, decompressor);
            try {
                return "ok " + ByteBufUtil.hexDump(out);
            } finally {
                out.release();
            }
        } catch (ProtocolException e) {
            return "refused " + e.errorCode();
        } finally {
            in.release();
        }
    }
}
