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
import static io.sluice.storage.spool.SpoolTesting.overwrite;
import static io.sluice.storage.spool.SpoolTesting.readAll;
import static io.sluice.storage.spool.SpoolTesting.segmentFiles;
import static io.sluice.storage.spool.SpoolTesting.truncate;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SpoolRecoveryTest {

    @TempDir
    Path dir;

    private SpoolConfig config() {
        return new SpoolConfig(dir, 1 << 20, HEADER + 10 * (int) frame("t", "k10".getBytes(), bytes(500, 0)) + 10,
                Duration.ZERO);
    }

    /** Writes {@code n} records of 500 bytes and closes; returns their end offsets in their segment. */
    private List<SpoolPosition> spoolOf(int n) throws IOException {
        try (Spool spool = Spool.open(config())) {
            return appendAll(spool, n, 500);
        }
    }

    private void assertRecovered(int records, long tailStart) throws IOException {
        Path segment = segmentFiles(dir).get(segmentFiles(dir).size() - 1);
        try (Spool spool = Spool.open(config())) {
            assertThat(spool.stats().tornTails()).isEqualTo(1);
            assertThat(Files.size(segment)).isEqualTo(tailStart);
            List<SpoolEntry> read = readAll(spool);
            assertThat(read).hasSize(records);
            for (int i = 0; i < records; i++) {
                assertThat(read.get(i).value()).isEqualTo(bytes(500, i));
            }
            // Appends continue right after the last good record.
            assertThat(appendAll(spool, 1, 500).get(0).sequence()).isEqualTo(records);
        }
        try (Spool spool = Spool.open(config())) {
            assertThat(spool.stats().tornTails()).isZero();
            assertThat(readAll(spool)).hasSize(records + 1);
        }
    }

    @Test
    void aRecordCutShortAtTheTailIsTruncatedAway() throws IOException {
        List<SpoolPosition> written = spoolOf(8);
        Path segment = segmentFiles(dir).get(0);
        truncate(segment, written.get(7).endOffset - 200);
        assertRecovered(7, written.get(6).endOffset);
    }

    @Test
    void aTailCutInsideTheRecordHeaderIsTruncatedAway() throws IOException {
        List<SpoolPosition> written = spoolOf(8);
        truncate(segmentFiles(dir).get(0), written.get(6).endOffset + 5);
        assertRecovered(7, written.get(6).endOffset);
    }

    @Test
    void garbageAfterTheLastRecordIsTruncatedAway() throws IOException {
        List<SpoolPosition> written = spoolOf(8);
        Path segment = segmentFiles(dir).get(0);
        overwrite(segment, Files.size(segment), bytes(300, 99));
        assertRecovered(8, written.get(7).endOffset);
    }

    @Test
    void aZeroFilledTailIsTruncatedAway() throws IOException {
        List<SpoolPosition> written = spoolOf(8);
        Path segment = segmentFiles(dir).get(0);
        overwrite(segment, Files.size(segment), new byte[4096]);
        assertRecovered(8, written.get(7).endOffset);
    }

    @Test
    void aLastRecordWithABadChecksumIsATornTail() throws IOException {
        List<SpoolPosition> written = spoolOf(8);
        overwrite(segmentFiles(dir).get(0), written.get(7).endOffset - 10, new byte[] {(byte) 0xFF});
        assertRecovered(7, written.get(6).endOffset);
    }

    @Test
    void aBadChecksumFollowedByIntactRecordsFailsOpenNamingFileAndOffset() throws IOException {
        List<SpoolPosition> written = spoolOf(8);
        Path segment = segmentFiles(dir).get(0);
        long damaged = written.get(3).endOffset; // record 4 starts here
        overwrite(segment, damaged + 100, new byte[] {0x55, 0x66});
        long size = Files.size(segment);

        assertThatThrownBy(() -> Spool.open(config()))
                .isInstanceOfSatisfying(SpoolCorruptedException.class, e -> {
                    assertThat(e.file()).isEqualTo(segment);
                    assertThat(e.offset()).isEqualTo(damaged);
                })
                .hasMessageContaining(segment.toString())
                .hasMessageContaining("offset " + damaged)
                .hasMessageContaining("CRC32C mismatch")
                .hasMessageContaining("intact record follows")
                .hasMessageContaining(".corrupt");
        // Nothing was truncated or skipped, and the directory is not left locked.
        assertThat(Files.size(segment)).isEqualTo(size);
        assertThatThrownBy(() -> Spool.open(config())).isInstanceOf(SpoolCorruptedException.class);
    }

    @Test
    void damageInAnOlderSegmentFailsOpenEvenAtItsEnd() throws IOException {
        List<SpoolPosition> written = spoolOf(25);
        List<Path> files = segmentFiles(dir);
        assertThat(files).hasSize(3);
        // The last record of the first segment: a tail, but that segment was complete and fsync'd.
        overwrite(files.get(0), written.get(9).endOffset - 1, new byte[] {0x01});

        assertThatThrownBy(() -> Spool.open(config()))
                .isInstanceOfSatisfying(SpoolCorruptedException.class, e -> {
                    assertThat(e.file()).isEqualTo(files.get(0));
                    assertThat(e.offset()).isEqualTo(written.get(8).endOffset);
                });
    }

    @Test
    void aQuarantinedSegmentIsSkippedWithTheGapLogged() throws IOException {
        List<SpoolPosition> written = spoolOf(25);
        List<Path> files = segmentFiles(dir);
        overwrite(files.get(1), written.get(12).endOffset, new byte[] {0x01, 0x02, 0x03});
        assertThatThrownBy(() -> Spool.open(config())).isInstanceOf(SpoolCorruptedException.class);

        Files.move(files.get(1), files.get(1).resolveSibling(files.get(1).getFileName() + ".corrupt"));
        try (Spool spool = Spool.open(config())) {
            List<SpoolEntry> read = readAll(spool);
            assertThat(read).extracting(e -> e.position().sequence())
                    .containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 20L, 21L, 22L, 23L, 24L);
        }
    }

    @Test
    void aMissingSegmentFailsOpen() throws IOException {
        spoolOf(25);
        Files.delete(segmentFiles(dir).get(1));
        assertThatThrownBy(() -> Spool.open(config()))
                .isInstanceOf(IOException.class).hasMessageContaining("missing records 10..19");
    }

    @Test
    void aSegmentOfANewerFormatVersionIsRefused() throws IOException {
        spoolOf(3);
        Path segment = segmentFiles(dir).get(0);
        overwrite(segment, 4, new byte[] {2});
        assertThatThrownBy(() -> Spool.open(config()))
                .isInstanceOf(SpoolCorruptedException.class)
                .hasMessageContaining("segment format version 2 is not supported (this build reads version 1)");
    }

    @Test
    void leftoverTempFilesAreRemoved() throws IOException {
        spoolOf(3);
        Files.write(dir.resolve("checkpoint.tmp"), new byte[7]);
        Files.write(dir.resolve("00000000000000000003.seg.tmp"), new byte[20]);
        try (Spool spool = Spool.open(config())) {
            assertThat(dir.resolve("checkpoint.tmp")).doesNotExist();
            assertThat(dir.resolve("00000000000000000003.seg.tmp")).doesNotExist();
            assertThat(readAll(spool)).hasSize(3);
        }
    }

    @Test
    void damageAfterOpenIsReportedByTheReaderNotSkipped() throws IOException {
        try (Spool spool = Spool.open(config())) {
            List<SpoolPosition> written = appendAll(spool, 5, 500);
            overwrite(segmentFiles(dir).get(0), written.get(2).endOffset + 50, new byte[] {0x01, 0x02});
            try (SpoolReader reader = spool.reader()) {
                assertThat(reader.next(3)).hasSize(3);
                assertThatThrownBy(reader::next)
                        .isInstanceOfSatisfying(SpoolCorruptedException.class,
                                e -> assertThat(e.offset()).isEqualTo(written.get(2).endOffset))
                        .hasMessageContaining("CRC32C mismatch");
            }
        }
    }

    @Test
    void anUnreadableCheckpointReplaysEverythingAgain() throws IOException {
        try (Spool spool = Spool.open(config())) {
            List<SpoolPosition> written = appendAll(spool, 5, 500);
            await(spool.markDelivered(written.get(2)));
        }
        overwrite(dir.resolve("checkpoint"), 10, new byte[] {0x7F});
        try (Spool spool = Spool.open(config())) {
            assertThat(readAll(spool)).extracting(e -> e.position().sequence()).containsExactly(0L, 1L, 2L, 3L, 4L);
        }
    }
}
