package io.sluice.protocol.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.sluice.protocol.TestFrames;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.frame.ErrorFrame;
import io.sluice.protocol.frame.FrameLimits;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.RecordLimits;
import io.sluice.protocol.server.ServerPipeline;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the server pipeline (preface, frame decoder, record validation, LZ4): whatever the bytes, no
 * exception may escape, every decoded batch must be walkable by its cursor, a closed channel must have
 * been told why with exactly one ERROR frame, and nothing may leak.
 *
 * <p>In a plain build this replays the seeds under {@code FrameDecoderFuzzTestInputs/}; with
 * {@code JAZZER_FUZZ=1} it fuzzes (see protocol/README.md).
 */
class FrameDecoderFuzzTest {

    private static final FrameLimits LIMITS = FrameLimits.builder().maxFrameBytes(64 * 1024)
            .records(RecordLimits.builder().maxBlockBytes(256 * 1024).maxSeriesPerDictionary(1000).build()).build();

    @FuzzTest(maxDuration = "30s")
    void serverPipeline(byte[] input) {
        List<Object> answers = new ArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel();
        ServerPipeline.install(ch.pipeline(), LIMITS, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                try {
                    if (msg instanceof Batch b) {
                        RecordCursor c = b.cursor();
                        int n = 0;
                        while (c.next()) {
                            if (c.isSample()) {
                                c.series().name();
                            } else {
                                c.event();
                            }
                            n++;
                        }
                        assertThat(n).isEqualTo(b.sampleCount() + b.eventCount());
                    }
                } finally {
                    ReferenceCountUtil.release(msg);
                }
            }
        });
        // Start from a valid preface + HELLO half of the time so the fuzzer reaches the frames quickly.
        byte[] bytes = input.length > 0 && (input[0] & 1) == 0
                ? TestFrames.concat(TestFrames.preface(), TestFrames.encode(TestFrames.HELLO), input) : input;
        ch.writeInbound(Unpooled.wrappedBuffer(bytes));
        ByteBuf out;
        while ((out = ch.readOutbound()) != null) {
            try {
                answers.addAll(TestFrames.decodeAsClient(ByteBufUtil.getBytes(out)));
            } finally {
                out.release();
            }
        }
        if (!ch.isOpen()) {
            assertThat(answers).singleElement().isInstanceOf(ErrorFrame.class);
        } else {
            assertThat(answers).isEmpty();
        }
        ch.finishAndReleaseAll();
    }
}
