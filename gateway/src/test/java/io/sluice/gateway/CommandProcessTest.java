package io.sluice.gateway;

import io.sluice.gateway.admin.EndpointsFile;
import io.sluice.gateway.testing.SluiceCommand;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code sluice} command as its own JVM with the production logging configuration: what reaches stdout
 * and stderr, the exit code, and that nothing is left running (a JVM that does not exit fails the test).
 */
@RealInfrastructure
class CommandProcessTest {

    private static SluiceCommand.Result sluice(Path workDir, long timeoutSeconds, String... args) throws Exception {
        return SluiceCommand.run(Main.class, workDir, timeoutSeconds, args);
    }

    @Test
    void keysCreateNextToDevPrintsTheKeyAloneOnStdout(TestInfrastructure infra, @TempDir Path dir) throws Exception {
        new EndpointsFile().put("PG_URL", infra.postgres().url()).writeTo(dir.resolve(".sluice/dev"));
        SluiceCommand.Result result = sluice(dir, 120, "keys", "create", "--tenant", "proc-acme", "--tier", "free");
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        assertThat(result.stdout()).as("KEY=$(bin/sluice keys create ...) captures just the key")
                .matches("sk_[A-Za-z0-9_-]{43}\n");
        assertThat(result.stderr()).contains("Schema at version", "shown only this once").doesNotContain("\tat ");
    }

    @Test
    void servingOnATakenPortStopsWithOneLineAndExitCode1(TestInfrastructure infra, @TempDir Path dir) throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            int port = taken.getLocalPort();
            SluiceCommand.Result result = sluice(dir, 180, "serve", "--server.port=" + port,
                    "--kafka.bootstrap-servers=" + infra.bootstrapServers(),
                    "--postgres.port=" + infra.postgres().port(), "--postgres.user=postgres",
                    "--spool.dir=" + dir.resolve("spool"));
            assertThat(result.exitCode()).as(result.stderr()).isEqualTo(1);
            assertThat(result.stdout()).isEmpty();
            assertThat(result.lastErrorLine()).isEqualTo("sluice serve: server.port: " + port
                    + " is already in use on 0.0.0.0; choose another with --server.port=PORT or SLUICE_SERVER_PORT");
            assertThat(result.stderr()).as("no stack trace").doesNotContain("\tat ");
        }
    }
}
