package io.sluice.dev;

import io.sluice.gateway.testing.SluiceCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code sluice dev} as its own JVM: a failed start stops what it started and exits. */
class DevCommandProcessTest {

    @Test
    void devOnATakenPortStopsKafkaAndPostgresAndExits(@TempDir Path dir) throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            int port = taken.getLocalPort();
            Path data = dir.resolve("dev");
            SluiceCommand.Result result = SluiceCommand.run(DevMain.class, dir, 300, "dev", "--server.port=" + port,
                    "--dev.data-dir=" + data);
            assertThat(result.exitCode()).as(result.stderr()).isEqualTo(1);
            assertThat(result.lastErrorLine()).isEqualTo("sluice dev: server.port: " + port
                    + " is already in use on 0.0.0.0; choose another with --server.port=PORT or SLUICE_SERVER_PORT");
            assertThat(result.stderr()).as("no stack trace").doesNotContain("\tat ");
            assertThat(data.resolve("kafka")).as("Kafka had started").isDirectory();
            assertThat(data.resolve("postgres")).as("PostgreSQL had started").isDirectory();
            assertThat(data.resolve("kafka/kafka.pid")).as("the Kafka child stopped cleanly").doesNotExist();
            assertThat(data.resolve("postgres/data/postmaster.pid")).as("PostgreSQL stopped cleanly").doesNotExist();
            assertThat(ProcessHandle.allProcesses().filter(ProcessHandle::isAlive)
                    .map(p -> p.info().commandLine().orElse("")).filter(c -> c.contains(data.toString())))
                    .as("no process of this dev left running").isEmpty();
        }
    }
}
