package io.sluice.gateway.edge;

import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link IdleTimeout} on Netty's embedded channel, whose clock only moves when the test moves it. */
class IdleTimeoutTest {

    private static EmbeddedChannel channel() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.freezeTime();
        ch.pipeline().addLast(new IdleTimeout(1, TimeUnit.SECONDS));
        return ch;
    }

    private static void advance(EmbeddedChannel ch, long millis) {
        ch.advanceTimeBy(millis, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
    }

    @Test
    void aConnectionThatDoesNothingIsClosedAfterTheTimeout() {
        EmbeddedChannel ch = channel();
        advance(ch, 999);
        assertThat(ch.isOpen()).isTrue();
        advance(ch, 1);
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void readsKeepAConnectionOpen() {
        EmbeddedChannel ch = channel();
        for (int i = 0; i < 5; i++) {
            advance(ch, 700);
            ch.writeInbound("request " + i); // a read and its read-complete
            assertThat(ch.isOpen()).isTrue();
        }
        advance(ch, 999);
        assertThat(ch.isOpen()).isTrue();
        advance(ch, 1);
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void writesKeepAConnectionOpenFromWhenTheyAreMade() {
        EmbeddedChannel ch = channel();
        for (int i = 0; i < 5; i++) {
            advance(ch, 700);
            ch.writeOneOutbound("part " + i); // written, not flushed: a client that is not reading
            assertThat(ch.isOpen()).isTrue();
        }
        advance(ch, 1000);
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void aClosedConnectionLeavesNoCheckBehind() {
        EmbeddedChannel ch = channel();
        ch.close();
        advance(ch, 5_000);
        assertThat(ch.isOpen()).isFalse();
        assertThat(ch.hasPendingTasks()).isFalse();
    }
}
