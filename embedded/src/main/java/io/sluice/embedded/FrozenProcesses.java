package io.sluice.embedded;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A process tree stopped with SIGSTOP (the real thing a hung or frozen server looks like: connections stay open,
 * nothing answers) until {@link #close()} sends SIGCONT. Use it in try-with-resources so the processes always
 * resume; a JVM shutdown hook resumes them too, so a JVM that dies meanwhile (a test JVM, the benchmark suite
 * stopped by Ctrl-C) never leaves a frozen server behind for the next run. The tests freeze their PostgreSQL with
 * it to prove deadlines; the benchmark suite freezes the {@code dev}'s to measure the gateway without storage.
 *
 * <pre>{@code
 * try (FrozenProcesses frozen = FrozenProcesses.postgres(infra.postgres())) { ... }
 * }</pre>
 */
public final class FrozenProcesses implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(FrozenProcesses.class);

    private final Set<Long> pids;
    private final Thread resumeOnExit;
    private boolean resumed;

    private FrozenProcesses(Set<Long> pids) {
        this.pids = pids;
        this.resumeOnExit = new Thread(() -> signal("CONT", pids), "resume-frozen-processes");
        Runtime.getRuntime().addShutdownHook(resumeOnExit);
    }

    /** Freezes an embedded PostgreSQL: the postmaster and every backend and auxiliary process. */
    public static FrozenProcesses postgres(EmbeddedPostgresServer server) {
        ProcessHandle postmaster = server.postmaster()
                .orElseThrow(() -> new IllegalStateException("the embedded PostgreSQL is not running"));
        return freeze(postmaster);
    }

    /**
     * Stops {@code root} first (so it forks nothing more), then its descendants, until no running one is left;
     * returns once every one of them is stopped.
     */
    public static FrozenProcesses freeze(ProcessHandle root) {
        Set<Long> stopped = new LinkedHashSet<>();
        signal("STOP", List.of(root.pid()));
        stopped.add(root.pid());
        FrozenProcesses frozen = new FrozenProcesses(stopped);
        try {
            for (int round = 0; round < 10; round++) {
                List<Long> fresh = new ArrayList<>();
                root.descendants().forEach(p -> {
                    if (!stopped.contains(p.pid())) {
                        fresh.add(p.pid());
                    }
                });
                if (fresh.isEmpty()) {
                    break;
                }
                signal("STOP", fresh);
                stopped.addAll(fresh);
            }
            for (long pid : stopped) {
                awaitStopped(pid);
            }
        } catch (RuntimeException e) {
            frozen.close();
            throw e;
        }
        log.info("Froze {} processes under {} with SIGSTOP", stopped.size(), root.pid());
        return frozen;
    }

    /** How many processes are frozen. */
    public int size() {
        return pids.size();
    }

    /** Sends SIGCONT to every frozen process. Safe to call more than once. */
    @Override
    public synchronized void close() {
        if (resumed) {
            return;
        }
        resumed = true;
        signal("CONT", pids);
        try {
            Runtime.getRuntime().removeShutdownHook(resumeOnExit);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway
        }
        log.info("Resumed {} processes with SIGCONT", pids.size());
    }

    private static void signal(String signal, java.util.Collection<Long> pids) {
        if (pids.isEmpty()) {
            return;
        }
        List<String> command = new ArrayList<>(List.of("kill", "-" + signal));
        pids.forEach(pid -> command.add(Long.toString(pid)));
        try {
            Process kill = new ProcessBuilder(command).redirectErrorStream(true).start();
            if (!kill.waitFor(10, TimeUnit.SECONDS)) {
                kill.destroyForcibly();
                throw new IllegalStateException("kill -" + signal + " did not finish");
            }
            // a process that exited meanwhile makes kill fail for that pid only: not an error here
        } catch (IOException e) {
            throw new UncheckedIOException("kill -" + signal + " " + pids, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending SIG" + signal, e);
        }
    }

    /** Waits (at most 10 s) until Linux reports the process stopped ({@code T} in /proc/PID/stat), or it is gone. */
    private static void awaitStopped(long pid) {
        Path stat = Path.of("/proc", Long.toString(pid), "stat");
        if (!Files.exists(Path.of("/proc", "self", "stat"))) {
            return; // no procfs: SIGSTOP is delivered, just not observable here
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try {
                String s = Files.readString(stat);
                char state = s.charAt(s.lastIndexOf(')') + 2);
                if (state == 'T' || state == 't') {
                    return;
                }
            } catch (IOException gone) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("process " + pid + " was not stopped within 10 s of SIGSTOP");
            }
            try {
                TimeUnit.MILLISECONDS.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for process " + pid + " to stop", e);
            }
        }
    }
}
