package io.sluice.gateway;

import io.sluice.gateway.dev.EndpointsFile;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code sluice} command as its own JVM with the production logging configuration: what reaches stdout
 * and stderr, the exit code, and that nothing is left running (a JVM that does not exit fails the test).
 */
@RealInfrastructure
class CommandProcessTest {

    private record Result(int exitCode, String stdout, String stderr) {
    }

    private static Result sluice(Path workDir, long timeoutSeconds, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx256m");
        // the test classpath also holds a logback-test.xml; the command must be tried with the real one
        command.add("-Dlogback.configurationFile=" + Main.class.getResource("/logback.xml"));
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Main.class.getName());
        command.addAll(List.of(args));
        Path stdout = workDir.resolve("stdout.txt");
        Path stderr = workDir.resolve("stderr.txt");
        Process process = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
        try {
            boolean exited = process.waitFor(timeoutSeconds, TimeUnit.SECONDS);
            assertThat(exited).as("sluice %s exited within %d s; stderr:%n%s", args[0], timeoutSeconds,
                    Files.readString(stderr)).isTrue();
        } finally {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
        return new Result(process.exitValue(), Files.readString(stdout, StandardCharsets.UTF_8),
                Files.readString(stderr, StandardCharsets.UTF_8));
    }

    @Test
    void keysCreateNextToDevPrintsTheKeyAloneOnStdout(TestInfrastructure infra, @TempDir Path dir) throws Exception {
        new EndpointsFile().put("PG_URL", infra.postgres().url()).writeTo(dir.resolve(".sluice/dev"));
        Result result = sluice(dir, 120, "keys", "create", "--tenant", "proc-acme", "--tier", "free");
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        assertThat(result.stdout()).as("KEY=$(bin/sluice keys create ...) captures just the key")
                .matches("sk_[A-Za-z0-9_-]{43}\n");
        assertThat(result.stderr()).contains("Schema at version", "shown only this once").doesNotContain("\tat ");
    }

    @Test
    void servingOnATakenPortStopsWithOneLineAndExitCode1(TestInfrastructure infra, @TempDir Path dir) throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            int port = taken.getLocalPort();
            Result result = sluice(dir, 180, "serve", "--server.port=" + port,
                    "--kafka.bootstrap-servers=" + infra.bootstrapServers(),
                    "--postgres.port=" + infra.postgres().port(), "--postgres.user=postgres",
                    "--spool.dir=" + dir.resolve("spool"));
            assertThat(result.exitCode()).as(result.stderr()).isEqualTo(1);
            assertThat(result.stdout()).isEmpty();
            assertThat(lastLine(result.stderr())).isEqualTo("sluice serve: server.port: " + port
                    + " is already in use on 0.0.0.0; choose another with --server.port=PORT or SLUICE_SERVER_PORT");
            assertThat(result.stderr()).as("no stack trace").doesNotContain("\tat ");
        }
    }

    @Test
    void devOnATakenPortStopsKafkaAndPostgresAndExits(@TempDir Path dir) throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            int port = taken.getLocalPort();
            Path data = dir.resolve("dev");
            Result result = sluice(dir, 300, "dev", "--server.port=" + port, "--dev.data-dir=" + data);
            assertThat(result.exitCode()).as(result.stderr()).isEqualTo(1);
            assertThat(lastLine(result.stderr())).isEqualTo("sluice dev: server.port: " + port
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

    private static String lastLine(String text) {
        List<String> lines = text.lines().filter(l -> !l.isBlank()).toList();
        return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
    }
}
