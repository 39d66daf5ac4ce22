package io.sluice.protocol.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class Lz4BlocksTest {

    /**
     * The gateway compresses with the native LZ4 where the platform has it (Linux x86-64 here, as on CI); whichever
     * compressor wrote a block, the pure-Java safe decompressor every reader uses gives the same bytes back.
     */
    @Test
    void blocksOfTheNativeCompressorDecompressInJavaToTheSameBytes() {
        byte[] data = new byte[200_000];
        Random random = new Random(3);
        String text = "http.server.requests host=web-";
        for (int i = 0; i < data.length; i++) { // compressible, with stretches of noise
            data[i] = (byte) (i % 1000 < 900 ? text.charAt(i % text.length()) : random.nextInt());
        }
        boolean linuxAmd64 = System.getProperty("os.name").startsWith("Linux")
                && System.getProperty("os.arch").equals("amd64");
        boolean isNative = Lz4Blocks.useNativeCompressor();
        if (linuxAmd64) {
            assertThat(isNative).as("lz4-java ships a native build for linux/amd64").isTrue();
        }
        for (ByteBuf src : new ByteBuf[] {Unpooled.wrappedBuffer(data), directCopy(data)}) {
            ByteBuf out = PooledByteBufAllocator.DEFAULT.directBuffer();
            try {
                Lz4Blocks.compress(src, out);
                int declared = out.readInt();
                assertThat(declared).isEqualTo(data.length);
                assertThat(out.readableBytes()).isLessThan(data.length / 2);
                ByteBuf back = Lz4Blocks.decompress(out, declared, ByteBufAllocator.DEFAULT);
                try {
                    assertThat(io.netty.buffer.ByteBufUtil.getBytes(back)).isEqualTo(data);
                } finally {
                    back.release();
                }
            } finally {
                out.release();
                src.release();
            }
        }
    }

    private static ByteBuf directCopy(byte[] data) {
        ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(data.length);
        b.writeBytes(data);
        return b;
    }
}
