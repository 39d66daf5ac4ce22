package io.sluice.storage.spool;

import io.sluice.config.SpoolConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static io.sluice.storage.spool.SpoolTesting.HEADER;
import static io.sluice.storage.spool.SpoolTesting.appendAll;
import static io.sluice.storage.spool.SpoolTesting.await;
import static io.sluice.storage.spool.SpoolTesting.bytes;
import static io.sluice.storage.spool.SpoolTesting.frame;
import static io.sluice.storage.spool.SpoolTesting.readAll;
import static io.sluice.storage.spool.SpoolTesting.segmentFiles;
import static org.assertj.core.api.Assertions.assertThat;

class SpoolSegmentsTest {

    @TempDir
    Path dir;

    /** Four 1000-byte records fit a segment; the fifth starts the next one. */
    private SpoolConfig smallSegments() {
        return new SpoolConfig(dir, 1 << 20, HEADER + 4 * (int) frame("t", "k10".getBytes(), bytes(1000, 0)) + 10,
                Duration.ZERO);
    }

    @Test
    void rollsToNewSegmentsAndDeletesThoseWhollyDelivered() throws IOException {
        try (Spool spool = Spool.open(smallSegments())) {
            List<SpoolPosition> positions = appendAll(spool, 40, 1000);
            List<Path> files = segmentFiles(dir);
            assertThat(files).hasSize(10);
            assertThat(files.get(0).getFileName()).hasToString("00000000000000000000.seg");
            assertThat(files.get(1).getFileName()).hasToString("00000000000000000004.seg");
            assertThat(files.get(9).getFileName()).hasToString("00000000000000000036.seg");
            for (Path file : files) {
                assertThat(Files.size(file)).isLessThanOrEqualTo(smallSegments().segmentBytes());
            }
            assertThat(spool.stats().segments()).isEqualTo(10);

            List<SpoolEntry> read = readAll(spool);
            assertThat(read).extracting(e -> e.position().sequence()).containsExactlyElementsOf(
                    positions.stream().map(SpoolPosition::sequence).toList());

            // Records 0..21 delivered: the five segments up to record 19 go; the one holding 20..23 stays.
            await(spool.markDelivered(read.get(21).position()));
            assertThat(segmentFiles(dir)).extracting(p -> p.getFileName().toString())
                    .first().isEqualTo("00000000000000000020.seg");
            assertThat(segmentFiles(dir)).hasSize(5);
            assertThat(spool.bytes()).isEqualTo(18 * frame("t", "k10".getBytes(), bytes(1000, 0)));
            assertThat(readAll(spool)).extracting(e -> e.position().sequence()).first().isEqualTo(22L);

            await(spool.markDelivered(read.get(39).position()));
            assertThat(segmentFiles(dir)).isEmpty();
            assertThat(spool.isEmpty()).isTrue();
            assertThat(spool.bytes()).isZero();
            assertThat(spool.stats().checkpoints()).isEqualTo(2);

            // Appending after a full drain starts a fresh segment that continues the sequence.
            assertThat(appendAll(spool, 1, 10).get(0).sequence()).isEqualTo(40);
            assertThat(segmentFiles(dir)).extracting(p -> p.getFileName().toString())
                    .containsExactly("00000000000000000040.seg");
        }
    }

    @Test
    void aRecordLargerThanASegmentGetsASegmentOfItsOwn() throws IOException {
        SpoolConfig config = smallSegments();
        try (Spool spool = Spool.open(config)) {
            appendAll(spool, 1, 100);
            spool.append("t", null, bytes(3 * config.segmentBytes(), 7)).join();
            appendAll(spool, 1, 100);
            List<Path> files = segmentFiles(dir);
            assertThat(files).hasSize(3);
            assertThat(Files.size(files.get(1))).isGreaterThan(config.segmentBytes());
            assertThat(readAll(spool).get(1).value()).isEqualTo(bytes(3 * config.segmentBytes(), 7));
        }
    }

    @Test
    void reopeningResumesAfterTheCheckpoint() throws IOException {
        List<SpoolEntry> before;
        long bytesLeft;
        try (Spool spool = Spool.open(smallSegments())) {
            appendAll(spool, 30, 1000);
            before = readAll(spool);
            // The replayer sent 0..19 to Kafka but only 0..11 were confirmed before the "crash".
            await(spool.markDelivered(before.get(11).position()));
            bytesLeft = spool.bytes();
        }
        try (Spool spool = Spool.open(smallSegments())) {
            assertThat(spool.isEmpty()).isFalse();
            assertThat(spool.bytes()).isEqualTo(bytesLeft);
            List<SpoolEntry> after = readAll(spool);
            assertThat(after).hasSize(18);
            for (int i = 0; i < 18; i++) {
                SpoolEntry was = before.get(12 + i);
                assertThat(after.get(i).position().sequence()).isEqualTo(was.position().sequence());
                assertThat(after.get(i).value()).isEqualTo(was.value());
                assertThat(after.get(i).key()).isEqualTo(was.key());
            }
            // New appends continue the sequence after the reopened tail.
            assertThat(appendAll(spool, 1, 10).get(0).sequence()).isEqualTo(30);
            await(spool.markDelivered(readAll(spool).get(18).position()));
            assertThat(spool.isEmpty()).isTrue();
        }
        try (Spool spool = Spool.open(smallSegments())) {
            assertThat(spool.isEmpty()).isTrue();
            assertThat(segmentFiles(dir)).isEmpty();
            assertThat(readAll(spool)).isEmpty();
            assertThat(appendAll(spool, 1, 10).get(0).sequence()).isEqualTo(31);
        }
    }

    @Test
    void segmentsLeftBehindByACrashAfterTheCheckpointAreDeletedOnOpen() throws IOException {
        List<Path> files;
        try (Spool spool = Spool.open(smallSegments())) {
            appendAll(spool, 12, 1000);
            files = segmentFiles(dir);
            assertThat(files).hasSize(3);
        }
        // Simulates a crash between writing the checkpoint (records 0..8 delivered) and deleting segments.
        Checkpoint.write(dir, 8);
        try (Spool spool = Spool.open(smallSegments())) {
            assertThat(segmentFiles(dir)).containsExactly(files.get(2));
            assertThat(readAll(spool)).extracting(e -> e.position().sequence()).containsExactly(9L, 10L, 11L);
        }
    }
}
