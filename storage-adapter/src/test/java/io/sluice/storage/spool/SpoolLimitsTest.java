package io.sluice.storage.spool;

import io.sluice.config.SpoolConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static io.sluice.storage.spool.SpoolTesting.appendAll;
import static io.sluice.storage.spool.SpoolTesting.await;
import static io.sluice.storage.spool.SpoolTesting.bytes;
import static io.sluice.storage.spool.SpoolTesting.frame;
import static io.sluice.storage.spool.SpoolTesting.segmentFiles;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SpoolLimitsTest {

    @TempDir
    Path dir;

    @Test
    void aFullSpoolRefusesFastWithRetryAfterAndAcceptsAgainOnceDataIsDelivered() throws IOException {
        long record = frame("t", "k0".getBytes(), bytes(1000, 0));
        SpoolConfig config = new SpoolConfig(dir, 10 * record, 1 << 20, Duration.ZERO);
        try (Spool spool = Spool.open(config)) {
            List<SpoolPosition> positions = appendAll(spool, 10, 1000);
            assertThat(spool.bytes()).isEqualTo(spool.maxBytes()).isEqualTo(10 * record);
            long fileSize = Files.size(segmentFiles(dir).get(0));

            CompletableFuture<SpoolPosition> refused = spool.append("t", "k0".getBytes(), bytes(1000, 0));
            assertThat(refused).isCompletedExceptionally();
            assertThatThrownBy(refused::join).cause().isInstanceOfSatisfying(SpoolFullException.class, full -> {
                assertThat(full.retryAfterMillis()).isEqualTo(Spool.FULL_RETRY_AFTER_MILLIS);
                assertThat(full).hasMessageContaining("spool.max-bytes");
            });
            // Even a one-byte record is refused, and nothing else changed.
            assertThat(spool.append("t", null, new byte[1])).isCompletedExceptionally();
            SpoolStats stats = spool.stats();
            assertThat(stats.rejectedFull()).isEqualTo(2);
            assertThat(stats.appends()).isEqualTo(10);
            assertThat(spool.bytes()).isEqualTo(10 * record);
            assertThat(Files.size(segmentFiles(dir).get(0))).isEqualTo(fileSize);
            assertThat(SpoolTesting.readAll(spool)).hasSize(10);

            await(spool.markDelivered(positions.get(3)));
            assertThat(spool.bytes()).isEqualTo(6 * record);
            assertThat(appendAll(spool, 4, 1000)).hasSize(4);
            assertThat(spool.bytes()).isEqualTo(10 * record);
            assertThat(spool.append("t", null, new byte[1])).isCompletedExceptionally();
        }
    }

    @Test
    void refusesWhatCanNeverFitOrIsNotAValidTopic() throws IOException {
        try (Spool spool = Spool.open(new SpoolConfig(dir, 1000, 1 << 20, Duration.ZERO))) {
            assertThatThrownBy(() -> spool.append("t", null, new byte[1000]).join())
                    .cause().isInstanceOf(IllegalArgumentException.class).hasMessageContaining("can never fit");
            assertThatThrownBy(() -> spool.append("", null, new byte[1]).join())
                    .cause().isInstanceOf(IllegalArgumentException.class).hasMessageContaining("topic: 0");
            assertThatThrownBy(() -> spool.append("x".repeat(70_000), null, new byte[1]).join())
                    .cause().isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: 1..65535");
            assertThat(spool.stats().rejectedFull()).isZero();
            assertThat(spool.bytes()).isZero();
        }
    }

    @Test
    void deliveryMarksMustComeFromThisSpool() throws IOException {
        Path other = dir.resolve("other");
        SpoolPosition foreign;
        try (Spool spool = Spool.open(SpoolTesting.config(other))) {
            foreign = appendAll(spool, 1, 10).get(0);
        }
        try (Spool spool = Spool.open(SpoolTesting.config(dir))) {
            appendAll(spool, 1, 10);
            assertThatThrownBy(() -> spool.markDelivered(foreign))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("another spool instance");
            assertThat(spool.isEmpty()).isFalse();
        }
    }

    @Test
    void invalidSettingsAreNamedInTheError() {
        assertThatThrownBy(() -> Spool.open(new SpoolConfig(dir, 0, 1 << 20, Duration.ZERO)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("spool.max-bytes: 0 (expected: > 0)");
        assertThatThrownBy(() -> Spool.open(new SpoolConfig(dir, 1000, 10, Duration.ZERO)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("spool.segment-bytes: 10 (expected: > 20)");
        assertThatThrownBy(() -> Spool.open(new SpoolConfig(dir, 1000, 1 << 20, Duration.ofMillis(-1))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("spool.fsync-interval: PT-0.001S");
    }

    @Test
    void aSecondSpoolOnTheSameDirectoryIsRefused() throws IOException {
        try (Spool spool = Spool.open(SpoolTesting.config(dir))) {
            assertThatThrownBy(() -> Spool.open(SpoolTesting.config(dir)))
                    .isInstanceOf(IOException.class).hasMessageContaining("in use by another spool");
            assertThat(spool.isOpen()).isTrue();
        }
        try (Spool again = Spool.open(SpoolTesting.config(dir))) {
            assertThat(again.isOpen()).isTrue();
        }
    }
}
