package io.sluice.storage.spool;

import io.sluice.config.SpoolConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static io.sluice.storage.spool.SpoolTesting.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A sanity figure for append throughput with group commit, logged and never asserted on (timing depends
 * on the machine). Two producers append values of 1 KiB and 128 B, each with two chunks of 4096 in flight.
 */
class SpoolThroughputTest {

    private static final Logger log = LoggerFactory.getLogger(SpoolThroughputTest.class);
    private static final int PRODUCERS = 2;
    private static final int CHUNK = 4096;
    private static final int CHUNKS_PER_PRODUCER = 32;

    @TempDir
    Path dir;

    @Test
    void logsAppendThroughputWithGroupCommit() throws Exception {
        measure(new SpoolConfig(dir.resolve("a"), 1L << 30, 64 << 20, Duration.ZERO), 1024);
        measure(new SpoolConfig(dir.resolve("b"), 1L << 30, 64 << 20, Duration.ofMillis(5)), 1024);
        measure(new SpoolConfig(dir.resolve("c"), 1L << 30, 64 << 20, Duration.ofMillis(5)), 128);
    }

    private void measure(SpoolConfig config, int valueBytes) throws IOException {
        ExecutorService producers = Executors.newFixedThreadPool(PRODUCERS);
        byte[] key = "series-0000000001".getBytes();
        try (Spool spool = Spool.open(config)) {
            long start = System.nanoTime();
            List<CompletableFuture<Long>> done = new ArrayList<>();
            for (int p = 0; p < PRODUCERS; p++) {
                byte[] value = SpoolTesting.bytes(valueBytes, p);
                done.add(CompletableFuture.supplyAsync(() -> {
                    CompletableFuture<SpoolPosition> previousChunk = CompletableFuture.completedFuture(null);
                    long appended = 0;
                    for (int c = 0; c < CHUNKS_PER_PRODUCER; c++) {
                        CompletableFuture<SpoolPosition> last = null;
                        for (int i = 0; i < CHUNK; i++) {
                            last = spool.append("sluice.metrics", key, value);
                        }
                        await(previousChunk);
                        previousChunk = last;
                        appended += CHUNK;
                    }
                    await(previousChunk);
                    return appended;
                }, producers));
            }
            long appends = done.stream().mapToLong(SpoolTesting::await).sum();
            double seconds = (System.nanoTime() - start) / 1e9;
            SpoolStats stats = spool.stats();
            assertThat(stats.appends()).isEqualTo(appends);
            log.info("Spool throughput (fsync-interval {} ms): {} appends of {} B in {} s = {} appends/s, {} MB/s, "
                            + "{} fsyncs ({} appends per fsync)",
                    config.fsyncInterval().toMillis(), appends, valueBytes, String.format("%.2f", seconds),
                    String.format("%.0f", appends / seconds),
                    String.format("%.1f", stats.appendedBytes() / seconds / 1e6), stats.fsyncs(),
                    stats.appends() / Math.max(1, stats.fsyncs()));
        } finally {
            producers.shutdownNow();
        }
    }
}
