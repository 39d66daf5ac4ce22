package io.sluice.protocol.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.sluice.protocol.error.ProtocolException;
import io.sluice.protocol.record.RecordCursor;
import io.sluice.protocol.record.RecordLimits;
import io.sluice.protocol.record.SeriesDefinitions;
import io.sluice.protocol.segment.Segment;
import io.sluice.protocol.segment.SegmentFormat;
import io.sluice.protocol.segment.SegmentWriter;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the segment reader the storage writer uses: any input either decodes completely (and then
 * re-encodes to a segment with the same records) or throws {@link ProtocolException}; nothing else, no leak. The
 * weight it reads from a header first ({@link SegmentFormat#decodedBytes}) never throws.
 */
class SegmentFuzzTest {

    private static final RecordLimits LIMITS = RecordLimits.builder().maxBlockBytes(256 * 1024).build();

    @FuzzTest(maxDuration = "30s")
    void segmentDecoder(byte[] input) {
        // the storage writer weighs every record by its header before decoding it: any input has a weight
        assertThat(SegmentFormat.decodedBytes(input)).isGreaterThanOrEqualTo(input.length);
        ByteBuf in = Unpooled.wrappedBuffer(input);
        try (Segment s = Segment.decode(in, LIMITS, ByteBufAllocator.DEFAULT)) {
            int n = 0;
            try (SegmentWriter copy = SegmentWriter.create(ByteBufAllocator.DEFAULT, s.tenant(), false)) {
                RecordCursor c = s.cursor();
                while (c.next()) {
                    copy.copy(c);
                    n++;
                }
                assertThat(n).isEqualTo(s.sampleCount() + s.eventCount());
                ByteBuf again = copy.finish();
                try (Segment t = Segment.decode(again, LIMITS, ByteBufAllocator.DEFAULT)) {
                    assertThat(t.sampleCount()).isEqualTo(s.sampleCount());
                    assertThat(t.eventCount()).isEqualTo(s.eventCount());
                } finally {
                    again.release();
                }
            }
        } catch (ProtocolException expected) {
            assertThat(expected.errorCode()).isNotNull();
        } finally {
            in.release();
        }
    }

    /**
     * The writer decodes a batch's segments with shared {@link SeriesDefinitions}: the input decoded a second time with
     * the definitions the first decode remembered gives the same verdict (the same error, or equal series and counts);
     * so does the input with one byte changed, read after it, whose definitions are guessed from the order the first
     * read saw and may differ from the guess in that byte alone.
     */
    @FuzzTest(maxDuration = "30s")
    void rememberedDefinitionsChangeNoVerdict(byte[] input) {
        SeriesDefinitions definitions = new SeriesDefinitions();
        String first = verdict(input, definitions);
        assertThat(verdict(input, definitions)).isEqualTo(first);
        assertThat(verdict(input, null)).isEqualTo(first);
        if (input.length > 0) {
            byte[] changed = input.clone();
            changed[input.length / 2] ^= 0x01;
            assertThat(verdict(changed, definitions)).isEqualTo(verdict(changed, null));
        }
    }

    private static String verdict(byte[] input, SeriesDefinitions definitions) {
        ByteBuf in = Unpooled.wrappedBuffer(input);
        try (Segment s = Segment.decode(in, LIMITS, ByteBufAllocator.DEFAULT, definitions)) {
            StringBuilder out = new StringBuilder(s.tenant()).append(' ').append(s.sampleCount()).append(' ')
                    .append(s.eventCount());
            for (int i = 0; i < s.series().size(); i++) {
                out.append(' ').append(s.series().get(i));
            }
            return out.toString();
        } catch (ProtocolException e) {
            return e.errorCode() + ": " + e.getMessage();
        } finally {
            in.release();
        }
    }
}
