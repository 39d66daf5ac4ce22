package io.sluice.embedded;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Ends a server process that an earlier, killed run left behind, identified by a pid file in its data
 * directory, so that its port and data directory are free for the next start.
 */
final class StaleProcesses {

    private static final Logger log = LoggerFactory.getLogger(StaleProcesses.class);

    private StaleProcesses() {
    }

    /**
     * Reads a pid from the first line of {@code pidFile} and, if that process is still alive and its
     * command line contains {@code marker}, terminates it (forcibly after {@code grace}).
     */
    static void endIfAlive(Path pidFile, String marker, Duration grace) {
        if (!Files.isRegularFile(pidFile)) {
            return;
        }
        Optional<ProcessHandle> stale = readPid(pidFile).flatMap(ProcessHandle::of)
                .filter(ProcessHandle::isAlive)
                .filter(p -> p.pid() != ProcessHandle.current().pid())
                .filter(p -> p.info().commandLine().map(cmd -> cmd.contains(marker)).orElse(true));
        if (stale.isEmpty()) {
            return;
        }
        ProcessHandle process = stale.get();
        log.warn("Ending process {} left behind by an earlier run ({})", process.pid(), pidFile);
        List<ProcessHandle> children = process.descendants().toList();
        process.destroy();
        if (!awaitExit(process, grace)) {
            process.destroyForcibly();
            awaitExit(process, Duration.ofSeconds(10));
        }
        children.forEach(ProcessHandle::destroyForcibly);
    }

    static boolean awaitExit(ProcessHandle process, Duration timeout) {
        try {
            process.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            return !process.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !process.isAlive();
        }
    }

    private static Optional<Long> readPid(Path pidFile) {
        try {
            List<String> lines = Files.readAllLines(pidFile);
            return lines.isEmpty() ? Optional.empty() : Optional.of(Long.parseLong(lines.get(0).strip()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }
}
