package io.sluice.protocol.record;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;

class SeriesDefinitionsTest {

    private static final Series A = Series.of("cpu", "host", "a", "zone", "z1");
    private static final Series B = Series.of("cpu", "host", "b", "zone", "z1");

    /** The definition bytes of {@code series}, one after the other, in a little-endian view as the block reader makes. */
    private static ByteBuffer view(Series... series) {
        ByteBuf out = Unpooled.buffer();
        for (Series s : series) {
            s.writeDefinitionTo(out);
        }
        return ByteBuffer.wrap(ByteBufUtil.getBytes(out)).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void theSeriesThatFollowedLastTimeIsGuessedFromItsBytesAlone() {
        SeriesDefinitions definitions = new SeriesDefinitions();
        assertThat(definitions.guess(view(A), 0, view(A).limit())).as("nothing read yet").isNull();
        definitions.add(A);
        definitions.add(B); // B came after A
        ByteBuffer a = view(A);
        assertThat(definitions.find(a, 0, a.limit())).isSameAs(A);
        ByteBuffer b = view(B, A);
        assertThat(definitions.guess(b, 0, b.limit())).isSameAs(B);
        int afterB = B.definitionBytes();
        assertThat(definitions.guess(b, afterB, b.limit())).as("A followed B when A was found after it").isSameAs(A);
    }

    @Test
    void aGuessThatDoesNotMatchOrWouldReadPastTheEndIsNone() {
        SeriesDefinitions definitions = new SeriesDefinitions();
        definitions.add(A);
        definitions.add(B);
        ByteBuffer a = view(A);
        definitions.find(a, 0, a.limit()); // the next guess is B
        ByteBuffer other = view(Series.of("cpu", "host", "c", "zone", "z1"));
        assertThat(definitions.guess(other, 0, other.limit())).isNull();
        ByteBuffer b = view(B);
        ByteBuffer cut = b.duplicate().limit(b.limit() - 1).slice().order(ByteOrder.LITTLE_ENDIAN);
        assertThat(definitions.guess(cut, 0, cut.limit())).as("one byte short").isNull();
        assertThat(definitions.guess(b, 0, b.limit() - 1)).as("end before its last byte").isNull();
        assertThat(definitions.guess(b, 0, b.limit())).isSameAs(B);
    }

    @Test
    void findNeedsTheWholeLengthToMatch() {
        SeriesDefinitions definitions = new SeriesDefinitions();
        definitions.add(A);
        ByteBuffer a = view(A, B);
        assertThat(definitions.find(a, 0, A.definitionBytes())).isSameAs(A);
        assertThat(definitions.find(a, 0, A.definitionBytes() + 1)).isNull();
        assertThat(definitions.size()).isEqualTo(1);
    }
}
