package io.sluice.gateway.testing;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs a {@code sluice} command as its own JVM with the production logging configuration (the test class path also
 * holds a logback-test.xml) and waits for it to exit: a JVM that does not exit in time fails the test.
 */
public final class SluiceCommand {

    /** What the command left: its exit code, stdout and stderr. */
    public record Result(int exitCode, String stdout, String stderr) {

        /** The last non-blank line of stderr: where a command says why it stopped. */
        public String lastErrorLine() {
            List<String> lines = stderr.lines().filter(l -> !l.isBlank()).toList();
            return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        }
    }

    private SluiceCommand() {
    }

    /**
     * @param mainClass the launcher: {@code io.sluice.gateway.Main} or the dev launcher
     * @param workDir   the command's working directory (stdout.txt and stderr.txt are kept there)
     */
    public static Result run(Class<?> mainClass, Path workDir, long timeoutSeconds, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx256m");
        command.add("-Dlogback.configurationFile=" + mainClass.getResource("/logback.xml"));
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass.getName());
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
}
