package io.sluice.storage.spool;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.sluice.config.SpoolConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.blockhound.BlockingOperationError;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static io.sluice.storage.spool.SpoolTesting.HEADER;
import static io.sluice.storage.spool.SpoolTesting.await;
import static io.sluice.storage.spool.SpoolTesting.bytes;
import static io.sluice.storage.spool.SpoolTesting.config;
import static io.sluice.storage.spool.SpoolTesting.readAll;
import static io.sluice.storage.spool.SpoolTesting.segmentFiles;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

class SpoolAppendTest {

    @TempDir
    Path dir;

    @Test
    void replaysEveryRecordInAppendOrderByteForByte() throws IOException {
        Random random = new Random(42);
        String[] topics = {"sluice.metrics", "sluice.events", "sluice.clicks.ü"};
        int n = 3000;
        List<String> sentTopics = new ArrayList<>();
        List<byte[]> sentKeys = new ArrayList<>();
        List<byte[]> sentValues = new ArrayList<>();
        List<CompletableFuture<SpoolPosition>> futures = new ArrayList<>();
        try (Spool spool = Spool.open(config(dir))) {
            for (int i = 0; i < n; i++) {
                String topic = topics[random.nextInt(topics.length)];
                byte[] key = new byte[random.nextInt(3) == 0 ? 0 : random.nextInt(40)];
                byte[] value = new byte[random.nextInt(2000)];
                random.nextBytes(key);
                random.nextBytes(value);
                sentTopics.add(topic);
                sentKeys.add(key);
                sentValues.add(value);
                futures.add(spool.append(topic, key.length == 0 && i % 2 == 0 ? null : key, value));
            }
            List<SpoolPosition> positions = futures.stream().map(SpoolTesting::await).toList();
            assertThat(positions).isSorted().doesNotHaveDuplicates();

            List<SpoolEntry> read = readAll(spool);
            assertThat(read).hasSize(n);
            for (int i = 0; i < n; i++) {
                SpoolEntry entry = read.get(i);
                assertThat(entry.position()).isEqualTo(positions.get(i));
                assertThat(entry.topic()).isEqualTo(sentTopics.get(i));
                assertThat(entry.key()).isEqualTo(sentKeys.get(i));
                assertThat(entry.value()).isEqualTo(sentValues.get(i));
            }
            assertThat(spool.isEmpty()).isFalse();
            long expectedBytes = 0;
            for (int i = 0; i < n; i++) {
                expectedBytes += SpoolTesting.frame(sentTopics.get(i), sentKeys.get(i), sentValues.get(i));
            }
            assertThat(spool.bytes()).isEqualTo(expectedBytes);
            assertThat(spool.stats().appends()).isEqualTo(n);
            assertThat(spool.stats().appendedBytes()).isEqualTo(expectedBytes);
        }
    }

    @Test
    void futureCompletesOnlyAfterTheBytesAreWrittenAndForced() throws Exception {
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
        try (Spool spool = Spool.open(config(dir), holdFirstSync)) {
            CompletableFuture<SpoolPosition> future = spool.append("t", null, bytes(100, 1));
            assertThat(syncing.await(10, TimeUnit.SECONDS)).isTrue();

            // The record is in the file, but force() has not run yet: no ack may be given.
            assertThat(Files.size(segmentFiles(dir).get(0))).isEqualTo(HEADER + SpoolTesting.frame("t", null, bytes(100, 1)));
            assertThat(future).isNotDone();
            assertThat(spool.stats().fsyncs()).isZero();
            try (SpoolReader reader = spool.reader()) {
                assertThat(reader.next()).as("readers see only durable records").isNull();
            }

            release.countDown();
            assertThat(await(future).sequence()).isZero();
            assertThat(spool.stats().fsyncs()).isEqualTo(1);
        }
    }

    @Test
    void concurrentAppendsShareFsyncs() throws Exception {
        int threads = 4;
        int perThread = 2500;
        SpoolConfig config = new SpoolConfig(dir, 64L << 20, 1 << 20, Duration.ofMillis(2));
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (Spool spool = Spool.open(config)) {
            List<CompletableFuture<List<CompletableFuture<SpoolPosition>>>> producers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                producers.add(CompletableFuture.supplyAsync(() -> {
                    List<CompletableFuture<SpoolPosition>> mine = new ArrayList<>();
                    for (int i = 0; i < perThread; i++) {
                        mine.add(spool.append("t", null, bytes(200, thread * perThread + i)));
                    }
                    return mine;
                }, pool));
            }
            List<SpoolPosition> positions = producers.stream().map(SpoolTesting::await).flatMap(List::stream)
                    .map(SpoolTesting::await).toList();
            assertThat(positions).hasSize(threads * perThread).doesNotHaveDuplicates();

            SpoolStats stats = spool.stats();
            assertThat(stats.appends()).isEqualTo(threads * perThread);
            assertThat(stats.fsyncs()).as("fsyncs for %d appends", stats.appends())
                    .isPositive().isLessThan(stats.appends() / 10);
            assertThat(readAll(spool)).hasSize(threads * perThread);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void appendsFromReactorNonBlockingThreadsDoNotBlock() {
        // Control: BlockHound is installed and catches a blocking call on Schedulers.parallel().
        Throwable blocked = catchThrowable(() -> Mono.fromRunnable(() -> LockSupport.parkNanos(1_000))
                .subscribeOn(Schedulers.parallel()).block(Duration.ofSeconds(10)));
        assertThat(blocked).hasCauseInstanceOf(BlockingOperationError.class);

        try (Spool spool = Spool.open(config(dir))) {
            List<SpoolPosition> positions = Flux.range(0, 2000)
                    .parallel(2)
                    .runOn(Schedulers.parallel())
                    .flatMap(i -> Mono.fromFuture(i % 2 == 0
                            ? spool.append("t", null, bytes(64, i))
                            : spool.append("t", null, PooledByteBufAllocator.DEFAULT.directBuffer(64).writeBytes(bytes(64, i)))))
                    .sequential()
                    .collectList()
                    .block(Duration.ofSeconds(10));
            assertThat(positions).hasSize(2000).doesNotHaveDuplicates();
            Boolean done = Mono.fromFuture(() -> spool.markDelivered(positions.stream().max(SpoolPosition::compareTo).orElseThrow()))
                    .subscribeOn(Schedulers.parallel())
                    .thenReturn(true)
                    .block(Duration.ofSeconds(10));
            assertThat(done).isTrue();
            assertThat(spool.isEmpty()).isTrue();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void byteBufValuesAreWrittenAndReleasedWhateverTheOutcome() throws IOException {
        SpoolConfig small = new SpoolConfig(dir, 10_000, 1 << 20, Duration.ZERO);
        List<ByteBuf> buffers = new ArrayList<>();
        List<CompletableFuture<SpoolPosition>> futures = new ArrayList<>();
        try (Spool spool = Spool.open(small)) {
            for (int i = 0; i < 20; i++) {
                ByteBuf value = i % 3 == 0
                        ? Unpooled.wrappedBuffer(Unpooled.copiedBuffer(bytes(100, i)), Unpooled.copiedBuffer(bytes(50, i + 1)))
                        : PooledByteBufAllocator.DEFAULT.directBuffer(200).writeZero(7).writeBytes(bytes(150, i));
                value.skipBytes(i % 3 == 0 ? 0 : 7);
                buffers.add(value);
                futures.add(spool.append("t", null, value));
            }
            futures.forEach(SpoolTesting::await);
            assertThat(buffers).allSatisfy(b -> assertThat(b.refCnt()).isZero());
            List<SpoolEntry> read = readAll(spool);
            assertThat(read).hasSize(20);
            for (int i = 0; i < 20; i++) {
                byte[] expected = i % 3 == 0 ? concat(bytes(100, i), bytes(50, i + 1)) : bytes(150, i);
                assertThat(read.get(i).value()).isEqualTo(expected);
            }

            // Refused appends release at once: spool full, bad topic.
            ByteBuf tooMuch = PooledByteBufAllocator.DEFAULT.directBuffer(9000).writeZero(9000);
            assertThat(spool.append("t", null, tooMuch)).isCompletedExceptionally();
            assertThat(tooMuch.refCnt()).isZero();
            ByteBuf badTopic = PooledByteBufAllocator.DEFAULT.directBuffer(10).writeZero(10);
            assertThat(spool.append("", null, badTopic)).isCompletedExceptionally();
            assertThat(badTopic.refCnt()).isZero();

            // A caller that breaks the rule and releases the buffer itself fails only its own append.
            ByteBuf released = PooledByteBufAllocator.DEFAULT.directBuffer(10).writeZero(10);
            released.release();
            CompletableFuture<SpoolPosition> broken = spool.append("t", null, released);
            CompletableFuture<SpoolPosition> fine = spool.append("t", null, bytes(10, 1));
            assertThatThrownBy(() -> broken.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(IllegalStateException.class);
            assertThat(await(fine)).isNotNull();
            assertThat(spool.isOpen()).isTrue();
        }
        // After close, appends are refused and release too.
        ByteBuf late = PooledByteBufAllocator.DEFAULT.heapBuffer(10).writeZero(10);
        Spool closed = Spool.open(small);
        closed.close();
        assertThat(closed.append("t", null, late)).isCompletedExceptionally();
        assertThat(late.refCnt()).isZero();
        // Leaks, if any, fail this class through NettyLeakCheck (paranoid leak detection).
    }

    @Test
    void readerCatchesUpWithTheTailWhileAppendsContinue() throws Exception {
        int n = 4000;
        try (Spool spool = Spool.open(config(dir)); SpoolReader reader = spool.reader()) {
            CompletableFuture<Void> producer = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < n; i++) {
                    spool.append("t", null, bytes(300, i));
                }
            });
            List<SpoolEntry> read = new ArrayList<>();
            await().atMost(Duration.ofSeconds(10)).pollInSameThread().pollInterval(Duration.ofMillis(1)).until(() -> {
                read.addAll(reader.next(500));
                return read.size() == n;
            });
            await(producer);
            assertThat(reader.next()).isNull();
            for (int i = 0; i < n; i++) {
                assertThat(read.get(i).position().sequence()).isEqualTo(i);
                assertThat(read.get(i).value()).isEqualTo(bytes(300, i));
            }
        }
    }

    @Test
    void aFailedFsyncFailsTheBatchAndStopsTheSpool() throws IOException {
        SyncListener failingDisk = () -> {
            throw new IOException("simulated EIO from fsync");
        };
        try (Spool spool = Spool.open(config(dir), failingDisk)) {
            CompletableFuture<SpoolPosition> future = spool.append("t", null, bytes(10, 1));
            assertThatThrownBy(() -> future.get(10, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(SpoolClosedException.class)
                    .hasStackTraceContaining("simulated EIO");
            await().atMost(Duration.ofSeconds(10)).until(() -> !spool.isOpen());
            assertThat(spool.append("t", null, bytes(10, 2))).failsWithin(Duration.ofSeconds(10))
                    .withThrowableThat().withCauseInstanceOf(SpoolClosedException.class);
            assertThat(spool.stats().appends()).isZero();
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = new byte[a.length + b.length];
        System.arraycopy(a, 0, c, 0, a.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
