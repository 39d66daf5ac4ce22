package io.sluice.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class NettyLeakCheckTest {

    @Test
    void leakDetectionIsParanoidAndRecorded() {
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.PARANOID);
    }

    @Test
    void aLeakedBufferFailsTheCheck() {
        leakOneBuffer();
        assertThatThrownBy(() -> NettyLeakCheck.check("leak probe"))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("leak probe")
                .hasMessageContaining("LEAK");
    }

    @Test
    void releasedBuffersPassTheCheck() {
        ByteBuf buf = UnpooledByteBufAllocator.DEFAULT.directBuffer(16);
        buf.writeLong(42);
        buf.release();
        NettyLeakCheck.check("clean probe");
    }

    private static void leakOneBuffer() {
        ByteBuf buf = UnpooledByteBufAllocator.DEFAULT.directBuffer(16);
        buf.writeInt(1);
        // dropped without release on purpose
    }
}
