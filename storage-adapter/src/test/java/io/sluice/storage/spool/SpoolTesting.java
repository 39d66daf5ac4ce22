package io.sluice.storage.spool;

import io.sluice.config.SpoolConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Shared helpers for the spool tests. */
final class SpoolTesting {

    static final int HEADER = SpoolFormat.SEGMENT_HEADER_BYTES;

    private SpoolTesting() {
    }

    static SpoolConfig config(Path dir) {
        return new SpoolConfig(dir, 64L << 20, 1 << 20, Duration.ZERO);
    }

    static long frame(String topic, byte[] key, byte[] value) {
        return SpoolFormat.frameBytes(topic.getBytes(StandardCharsets.UTF_8).length, key == null ? 0 : key.length, value.length);
    }

    static byte[] bytes(int size, int seed) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (seed * 31 + i * 7);
        }
        return b;
    }

    static <T> T await(CompletableFuture<T> future) {
        try {
            return future.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("future did not complete normally", e);
        }
    }

    /** Appends {@code n} records of {@code valueBytes} to topic "t" and waits until they are all durable. */
    static List<SpoolPosition> appendAll(Spool spool, int n, int valueBytes) {
        List<CompletableFuture<SpoolPosition>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            futures.add(spool.append("t", ("k" + i).getBytes(), bytes(valueBytes, i)));
        }
        return futures.stream().map(SpoolTesting::await).toList();
    }

    static List<SpoolEntry> readAll(SpoolReader reader) throws IOException {
        List<SpoolEntry> all = new ArrayList<>();
        SpoolEntry entry;
        while ((entry = reader.next()) != null) {
            all.add(entry);
        }
        return all;
    }

    static List<SpoolEntry> readAll(Spool spool) throws IOException {
        try (SpoolReader reader = spool.reader()) {
            return readAll(reader);
        }
    }

    static List<Path> segmentFiles(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(SpoolFormat.SEGMENT_SUFFIX)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void overwrite(Path file, long offset, byte[] data) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(data), offset);
        }
    }

    static void truncate(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }
}
