package io.sluice.loadtest.suite;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code dev}'s PostgreSQL stopped with SIGSTOP (its postmaster and every backend) until {@link #close()} sends
 * SIGCONT: storage takes no CPU meanwhile, and the gateway acknowledges from Kafka as it does through a PostgreSQL
 * outage, while the writer waits (and catches up once thawed). What the gateway does alone on the same machine is
 * then measured beside what it does with storage sharing the cores. The tests freeze PostgreSQL the same way.
 */
final class FrozenPostgres implements AutoCloseable {

    private final List<String> pids;
    /** Thaws PostgreSQL if the suite is stopped (Ctrl-C) while it is frozen, so that `dev` can still shut down. */
    private final Thread thawOnExit;

    private FrozenPostgres(List<String> pids) {
        this.pids = pids;
        this.thawOnExit = new Thread(() -> {
            try {
                signal("-CONT", pids);
            } catch (IOException e) {
                // the JVM is exiting: nothing else to do
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "thaw-postgres");
    }

    /** Freezes the PostgreSQL whose {@code postmaster.pid} is under {@code dataDir}; fails when there is none. */
    static FrozenPostgres freeze(Path dataDir) throws IOException, InterruptedException {
        ProcessHandle postmaster = Cpu.postmaster(dataDir)
                .orElseThrow(() -> new IllegalStateException("no running PostgreSQL under " + dataDir));
        List<String> pids = new ArrayList<>();
        pids.add(Long.toString(postmaster.pid()));
        postmaster.descendants().forEach(p -> pids.add(Long.toString(p.pid())));
        FrozenPostgres frozen = new FrozenPostgres(pids);
        Runtime.getRuntime().addShutdownHook(frozen.thawOnExit);
        signal("-STOP", pids);
        return frozen;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        signal("-CONT", pids);
        try {
            Runtime.getRuntime().removeShutdownHook(thawOnExit);
        } catch (IllegalStateException e) {
            // already exiting: the hook thaws it again, which does no harm
        }
    }

    /** Signals every pid that still runs: a backend that exited since it was listed fails alone, the rest are sent it. */
    private static void signal(String signal, List<String> pids) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("kill", signal));
        command.addAll(pids);
        Process kill = new ProcessBuilder(command).redirectErrorStream(true).start();
        kill.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
        kill.waitFor();
    }
}
