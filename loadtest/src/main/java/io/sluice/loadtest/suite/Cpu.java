package io.sluice.loadtest.suite;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * CPU time used so far by the {@code dev} process ({@code devNanos}) and by it together with what it runs beside it
 * ({@code stackNanos}): its child processes (the Kafka broker) and the PostgreSQL postmaster it started with its
 * backends (which {@code pg_ctl} detaches, so they are found from {@code postmaster.pid} under the data directory).
 * A backend that exits between two readings takes its CPU time with it; the writer's and the gateway's connections
 * live as long as {@code dev}, so what is lost is the short connections of the suite's own checks. Without a
 * postmaster to read, {@code stackNanos} is -1 (unknown).
 */
record Cpu(long devNanos, long stackNanos) {

    static Cpu of(long devPid, Path dataDir) {
        long dev = ProcessHandle.of(devPid).map(Cpu::nanos).orElse(0L);
        long children = ProcessHandle.of(devPid).map(p -> p.descendants().mapToLong(Cpu::nanos).sum()).orElse(0L);
        long postgres = postmaster(dataDir).map(p -> nanos(p) + p.descendants().mapToLong(Cpu::nanos).sum()).orElse(-1L);
        return new Cpu(dev, postgres < 0 ? -1 : dev + children + postgres);
    }

    Cpu minus(Cpu earlier) {
        return new Cpu(devNanos - earlier.devNanos,
                stackNanos < 0 || earlier.stackNanos < 0 ? -1 : stackNanos - earlier.stackNanos);
    }

    private static long nanos(ProcessHandle p) {
        return p.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
    }

    static Optional<ProcessHandle> postmaster(Path dataDir) {
        try (Stream<Path> files = Files.find(dataDir, 4, (f, a) -> f.getFileName().toString().equals("postmaster.pid"))) {
            return files.findFirst().flatMap(f -> {
                try {
                    // the pid file's first line is the postmaster's pid
                    return ProcessHandle.of(Long.parseLong(Files.readAllLines(f).get(0).trim()));
                } catch (IOException | RuntimeException e) {
                    return Optional.empty(); // the server is stopping or starting: no figure rather than a wrong one
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
