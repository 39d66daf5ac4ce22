package io.sluice.storage.spool;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static io.sluice.storage.spool.SpoolTesting.await;
import static io.sluice.storage.spool.SpoolTesting.bytes;
import static io.sluice.storage.spool.SpoolTesting.config;
import static io.sluice.storage.spool.SpoolTesting.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SpoolCloseTest {

    @TempDir
    Path dir;

    @Test
    void closeLeavesNoAppendPending() throws Exception {
        CountDownLatch syncing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        SyncListener holdFirstSync = () -> {
            syncing.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        ExecutorService threads = Executors.newFixedThreadPool(3);
        List<CompletableFuture<SpoolPosition>> futures = new ArrayList<>();
        try {
            Spool spool = Spool.open(config(dir), holdFirstSync);
            futures.add(spool.append("t", null, bytes(10, 0)));
            assertThat(syncing.await(10, TimeUnit.SECONDS)).isTrue();
            // The writer is stuck in its first fsync; these queue up behind it.
            for (int i = 1; i < 1000; i++) {
                futures.add(spool.append("t", null, bytes(10, i)));
            }
            CountDownLatch racing = new CountDownLatch(2);
            List<CompletableFuture<List<CompletableFuture<SpoolPosition>>>> racers = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                racers.add(CompletableFuture.supplyAsync(() -> {
                    List<CompletableFuture<SpoolPosition>> mine = new ArrayList<>();
                    racing.countDown();
                    while (spool.isOpen()) {
                        mine.add(spool.append("t", null, bytes(10, 1)));
                    }
                    for (int i = 0; i < 10; i++) {
                        mine.add(spool.append("t", null, bytes(10, 2)));
                    }
                    return mine;
                }, threads));
            }
            assertThat(racing.await(10, TimeUnit.SECONDS)).isTrue();
            CompletableFuture<Void> closed = CompletableFuture.runAsync(spool::close, threads);
            release.countDown();
            await(closed);
            racers.forEach(r -> futures.addAll(await(r)));

            assertThat(futures).allSatisfy(f -> assertThat(f).isDone());
            Map<String, Long> outcomes = futures.stream().collect(Collectors.groupingBy(f -> {
                try {
                    f.join();
                    return "written";
                } catch (CompletionException e) {
                    assertThat(e.getCause()).isInstanceOf(SpoolClosedException.class);
                    return "refused";
                }
            }, Collectors.counting()));
            // Everything queued before close was written; appends racing with it went either way; later
            // ones were refused.
            assertThat(outcomes.get("written")).isGreaterThanOrEqualTo(1000);
            assertThat(outcomes.get("refused")).isGreaterThanOrEqualTo(20);
            assertThat(spool.bytes()).isEqualTo(spool.stats().appendedBytes());
        } finally {
            release.countDown();
            threads.shutdownNow();
        }
        try (Spool reopened = Spool.open(config(dir))) {
            List<SpoolEntry> read = readAll(reopened);
            long written = futures.stream().filter(f -> !f.isCompletedExceptionally()).count();
            assertThat(read).hasSize((int) written);
        }
    }

    @Test
    void afterCloseEverythingIsRefusedAndCloseIsIdempotent() throws IOException {
        Spool spool = Spool.open(config(dir));
        SpoolPosition position = await(spool.append("t", null, bytes(10, 0)));
        spool.close();
        spool.close();
        assertThat(spool.isOpen()).isFalse();
        assertThatThrownBy(() -> spool.append("t", null, bytes(10, 1)).join())
                .cause().isInstanceOf(SpoolClosedException.class).hasMessageContaining("is closed");
        assertThatThrownBy(() -> spool.markDelivered(position).join())
                .cause().isInstanceOf(SpoolClosedException.class);
    }

    @Test
    void aPendingDeliveryMarkIsPersistedByClose() throws IOException {
        try (Spool spool = Spool.open(config(dir))) {
            SpoolTesting.appendAll(spool, 3, 10);
            List<SpoolEntry> read = readAll(spool);
            spool.markDelivered(read.get(1).position());
        }
        try (Spool spool = Spool.open(config(dir))) {
            assertThat(readAll(spool)).extracting(e -> e.position().sequence()).containsExactly(2L);
        }
    }
}
