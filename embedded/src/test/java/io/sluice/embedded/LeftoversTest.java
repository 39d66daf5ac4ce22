package io.sluice.embedded;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** What a killed earlier run leaves behind never outlives it for long, and never breaks the next start. */
class LeftoversTest {

    @Test
    void brokerDiesWithItsParentAndTheNextStartSucceeds(@TempDir Path dir) throws Exception {
        Process holder = hold("kafka", dir);
        try {
            long brokerPid = Long.parseLong(Files.readString(dir.resolve("kafka.pid")).strip());
            assertThat(alive(brokerPid)).isTrue();

            holder.destroyForcibly(); // kill -9: no shutdown hook runs in the parent
            await().atMost(Duration.ofSeconds(40)).until(() -> !alive(brokerPid));
        } finally {
            holder.destroyForcibly();
        }

        try (EmbeddedKafkaBroker again = new EmbeddedKafkaBroker(dir, Duration.ofSeconds(90), "256m")) {
            again.start();
            assertThat(again.isRunning()).isTrue();
        }
    }

    @Test
    void aPostmasterLeftRunningIsEndedAndTheNextStartSucceeds(@TempDir Path dir) throws Exception {
        Process holder = hold("postgres", dir);
        holder.destroyForcibly(); // kill -9: the postmaster is a daemon and stays behind
        holder.waitFor();
        long stalePid = postmasterPid(dir);
        assertThat(alive(stalePid)).as("postmaster outlived its parent").isTrue();

        try (EmbeddedPostgresServer next = new EmbeddedPostgresServer(dir, Duration.ofSeconds(60), false)) {
            next.start();
            assertThat(alive(stalePid)).as("stale postmaster ended").isFalse();
            assertThat(postmasterPid(dir)).isNotEqualTo(stalePid);
        }
        assertThat(alive(postmasterPid(dir))).isFalse();
    }

    /** Starts {@link HolderMain} in its own JVM and returns once its server is up. */
    private static Process hold(String what, Path dir) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process holder = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                HolderMain.class.getName(), what, dir.toString()))
                .redirectErrorStream(true).start();
        BufferedReader lines = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while ((line = lines.readLine()) != null && !line.equals("READY")) {
            // skip the holder's log output
        }
        assertThat(line).as("holder JVM started its " + what).isEqualTo("READY");
        return holder;
    }

    private static long postmasterPid(Path dir) {
        try {
            return Long.parseLong(Files.readAllLines(dir.resolve("data/postmaster.pid")).get(0).strip());
        } catch (Exception e) {
            return -1;
        }
    }

    private static boolean alive(long pid) {
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        return handle.isPresent() && handle.get().isAlive();
    }
}
