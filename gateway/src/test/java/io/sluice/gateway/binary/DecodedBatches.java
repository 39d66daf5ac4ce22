package io.sluice.gateway.binary;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.sluice.protocol.TestFrames;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.frame.FrameDecoder;
import io.sluice.protocol.frame.FrameLimits;
import io.sluice.protocol.record.RecordsWriter;
import io.sluice.protocol.record.SeriesDictionary;

import java.util.function.Consumer;

/**
 * One agent connection's BATCHes as the gateway receives them: written with the client's series dictionary (a series
 * is defined in the first batch that sends it, then referred to by id), encoded, and decoded by a server-side
 * {@link FrameDecoder} that keeps the connection's dictionary, without a socket.
 */
public final class DecodedBatches implements AutoCloseable {

    private final SeriesDictionary clientSide = new SeriesDictionary();
    private final EmbeddedChannel channel = new EmbeddedChannel(FrameDecoder.forServer(FrameLimits.DEFAULTS));
    private long sequence;

    public DecodedBatches() {
        channel.writeInbound(Unpooled.wrappedBuffer(TestFrames.concat(TestFrames.preface(),
                TestFrames.encode(TestFrames.HELLO))));
        Object m;
        while ((m = channel.readInbound()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    /** The next BATCH, with the records {@code content} writes, as decoded; the caller releases it. */
    public Batch next(Consumer<RecordsWriter> content) {
        ByteBuf records = Unpooled.buffer();
        RecordsWriter w = new RecordsWriter(records, clientSide);
        content.accept(w);
        w.finish();
        channel.writeInbound(Unpooled.wrappedBuffer(TestFrames.encode(Batch.outbound(++sequence, records, false))));
        return channel.readInbound();
    }

    @Override
    public void close() {
        channel.finishAndReleaseAll();
    }
}
