package io.sluice.embedded;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * A separate JVM for {@link LeftoversTest}: starts an embedded {@code kafka} or {@code postgres} in the
 * given directory, says READY, and waits to be killed.
 */
public final class HolderMain {

    private HolderMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        Path dir = Path.of(args[1]);
        if (args[0].equals("kafka")) {
            new EmbeddedKafkaBroker(dir, Duration.ofSeconds(90), "256m").start();
        } else {
            new EmbeddedPostgresServer(dir, Duration.ofSeconds(60), false).start();
        }
        System.out.println("READY");
        System.out.flush();
        new CountDownLatch(1).await();
    }
}
