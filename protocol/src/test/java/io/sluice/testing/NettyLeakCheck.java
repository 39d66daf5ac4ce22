package io.sluice.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.List;

/**
 * Fails a test class when Netty reported a leaked buffer while it ran.
 *
 * <p>Registered for every test class by JUnit's extension auto-detection (see
 * {@code META-INF/services/org.junit.jupiter.api.extension.Extension} and
 * {@code junit-platform.properties}). Leaks are only noticed when the garbage collector has reclaimed a
 * buffer that was never released, so after each class this collects garbage and then allocates a few
 * tracked buffers, which is when Netty's detector drains its reference queue and reports.
 */
public final class NettyLeakCheck implements AfterAllCallback {

    @Override
    public void afterAll(ExtensionContext context) {
        check(context.getDisplayName());
    }

    static void check(String what) {
        if (ResourceLeakDetector.getLevel() == ResourceLeakDetector.Level.DISABLED) {
            return;
        }
        for (int round = 0; round < 3; round++) {
            System.gc();
            System.runFinalization();
            provokeReport();
        }
        List<String> leaks = RecordingLeakDetector.drain();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " Netty buffer leak(s) detected while running "
                    + what + ":\n" + String.join("\n\n", leaks));
        }
    }

    private static void provokeReport() {
        for (int i = 0; i < 4; i++) {
            ByteBuf pooled = PooledByteBufAllocator.DEFAULT.directBuffer(8);
            pooled.release();
            ByteBuf unpooled = UnpooledByteBufAllocator.DEFAULT.heapBuffer(8);
            unpooled.release();
        }
    }
}
