package io.sluice.protocol.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Lz4BlocksTest {

    /**
     * The gateway and the writer use the native LZ4 where the platform has it (Linux x86-64 here, as on CI); a block
     * it wrote gives the same bytes back through either decompressor, from heap or direct buffers.
     */
    @Test
    void blocksOfTheNativeCodecDecompressToTheSameBytesInJavaAndNatively() {
        byte[] data = new byte[200_000];
        Random random = new Random(3);
        String text = "http.server.requests host=web-";
        for (int i = 0; i < data.length; i++) { // compressible, with stretches of noise
            data[i] = (byte) (i % 1000 < 900 ? text.charAt(i % text.length()) : random.nextInt());
        }
        boolean linuxAmd64 = System.getProperty("os.name").startsWith("Linux")
                && System.getProperty("os.arch").equals("amd64");
        boolean isNative = Lz4Blocks.useNative();
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
                byte[] block = io.netty.buffer.ByteBufUtil.getBytes(out);
                for (ByteBuf in : new ByteBuf[] {out.retainedDuplicate(), Unpooled.wrappedBuffer(block)}) {
                    ByteBuf inAgain = in.retainedDuplicate();
                    ByteBuf natively = Lz4Blocks.decompress(in, declared, ByteBufAllocator.DEFAULT);
                    ByteBuf inJava = Lz4Blocks.decompress(inAgain, declared, ByteBufAllocator.DEFAULT,
                            Lz4Blocks.javaDecompressor());
                    try {
                        assertThat(io.netty.buffer.ByteBufUtil.getBytes(natively)).isEqualTo(data);
                        assertThat(io.netty.buffer.ByteBufUtil.getBytes(inJava)).isEqualTo(data);
                    } finally {
                        natively.release();
                        inJava.release();
                        in.release();
                        inAgain.release();
                    }
                }
            } finally {
                out.release();
                src.release();
            }
        }
    }

    /** A block that lies about its length, or is cut short, is refused by both decompressors with the same code. */
    @Test
    void bothDecompressorsRefuseABlockThatIsNotWhatItDeclares() {
        Lz4Blocks.useNative();
        byte[] data = "a records block, a records block, a records block".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        ByteBuf out = Unpooled.buffer();
        Lz4Blocks.compress(Unpooled.wrappedBuffer(data), out);
        out.skipBytes(Integer.BYTES);
        byte[] block = io.netty.buffer.ByteBufUtil.getBytes(out);
        for (int declared : new int[] {data.length - 1, data.length + 1}) {
            for (net.jpountz.lz4.LZ4SafeDecompressor d : new net.jpountz.lz4.LZ4SafeDecompressor[] {
                    net.jpountz.lz4.LZ4Factory.nativeInstance().safeDecompressor(), Lz4Blocks.javaDecompressor()}) {
                assertThatThrownBy(() -> Lz4Blocks.decompress(Unpooled.wrappedBuffer(block), declared,
                        ByteBufAllocator.DEFAULT, d))
                        .isInstanceOfSatisfying(io.sluice.protocol.error.ProtocolException.class, e -> assertThat(
                                e.errorCode()).isEqualTo(io.sluice.protocol.error.ErrorCode.COMPRESSION_ERROR));
                assertThatThrownBy(() -> Lz4Blocks.decompress(Unpooled.wrappedBuffer(block, 0, block.length / 2),
                        data.length, ByteBufAllocator.DEFAULT, d))
                        .isInstanceOfSatisfying(io.sluice.protocol.error.ProtocolException.class, e -> assertThat(
                                e.errorCode()).isEqualTo(io.sluice.protocol.error.ErrorCode.COMPRESSION_ERROR));
            }
        }
    }

    private static ByteBuf directCopy(byte[] data) {
        ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(data.length);
        b.writeBytes(data);
        return b;
    }
}
