package io.sluice.storage.spool;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * One queued append. Whoever takes it off the queue owns it: that thread encodes or fails it, and
 * releases the {@link ByteBuf} value (if any) exactly once.
 */
final class AppendRequest {

    final byte[] topic;
    final byte[] key;
    final int valueLength;
    final int frameBytes;
    final CompletableFuture<SpoolPosition> future = new CompletableFuture<>();
    private final byte[] valueArray;
    private ByteBuf valueBuf;

    AppendRequest(byte[] topic, byte[] key, byte[] valueArray, ByteBuf valueBuf, int valueLength,
                  int frameBytes) {
        this.topic = topic;
        this.key = key;
        this.valueArray = valueArray;
        this.valueBuf = valueBuf;
        this.valueLength = valueLength;
        this.frameBytes = frameBytes;
    }

    /** Copies the value to {@code dst} at its position and advances it. */
    void putValue(ByteBuffer dst) {
        if (valueArray != null) {
            dst.put(valueArray);
            return;
        }
        int at = dst.position();
        // getBytes(int, ByteBuffer) fills dst up to its limit, so hand it a view of exactly the value's size.
        valueBuf.getBytes(valueBuf.readerIndex(), dst.duplicate().limit(at + valueLength));
        dst.position(at + valueLength);
    }

    void release() {
        ByteBuf buf = valueBuf;
        if (buf != null) {
            valueBuf = null;
            ReferenceCountUtil.safeRelease(buf);
        }
    }
}
