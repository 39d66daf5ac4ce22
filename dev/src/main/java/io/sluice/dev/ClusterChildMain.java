package io.sluice.dev;

import io.sluice.gateway.Main;

import java.io.IOException;
import java.io.InputStream;
import java.util.Timer;
import java.util.TimerTask;

/**
 * The main class of a {@code sluice cluster} node's JVM: {@link Main} with a lifeline. The parent keeps this
 * process's standard input open and never writes to it; when the parent dies by any means ({@code kill -9}
 * included), the pipe closes and this process shuts down as on SIGTERM (gracefully, halted after
 * {@value #HALT_AFTER_MS} ms), so no node outlives the cluster command.
 */
public final class ClusterChildMain {

    static final long HALT_AFTER_MS = 60_000;

    private ClusterChildMain() {
    }

    public static void main(String[] args) {
        Thread watchdog = new Thread(ClusterChildMain::watchParent, "sluice-cluster-parent-watch");
        watchdog.setDaemon(true);
        watchdog.start();
        Main.main(args);
    }

    private static void watchParent() {
        InputStream in = System.in;
        try {
            while (in.read() >= 0) {
                // the parent never writes; anything read is ignored
            }
        } catch (IOException ignored) {
            // a broken pipe means the same as end of input
        }
        System.err.println("sluice cluster: parent process gone; shutting down");
        new Timer("sluice-cluster-halt", true).schedule(new TimerTask() {
            @Override
            public void run() {
                Runtime.getRuntime().halt(1);
            }
        }, HALT_AFTER_MS);
        System.exit(0);
    }
}
