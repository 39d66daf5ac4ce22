package io.sluice.dev;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One Sluice process of a {@link LocalCluster}: {@code sluice serve} with one role, in its own JVM
 * ({@link ClusterChildMain}) from this JVM's class path, its log in {@code <dir>/<name>.log}. Its ports are chosen
 * once and kept across restarts, so a node killed and started again is the same node to its clients.
 */
public final class ClusterNode {

    private static final Logger log = LoggerFactory.getLogger(ClusterNode.class);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final String name;
    private final String role;
    private final int port;
    private final Path dir;
    private final List<String> settings;
    private Process process;
    private OutputStream lifeline;

    /**
     * @param port     the port it answers HTTP on: {@code server.port} for a gateway, {@code admin.port} for a writer
     * @param settings {@code --name=value} arguments, the node's own last (they win)
     */
    ClusterNode(String name, String role, int port, Path dir, List<String> settings) {
        this.name = name;
        this.role = role;
        this.port = port;
        this.dir = dir;
        this.settings = List.copyOf(settings);
    }

    public String name() {
        return name;
    }

    /** {@code gateway} or {@code writer}. */
    public String role() {
        return role;
    }

    /** {@code http://127.0.0.1:<port>}: the gateway's API, or the writer's admin listener. */
    public String url() {
        return "http://127.0.0.1:" + port;
    }

    public synchronized long pid() {
        if (process == null) {
            throw new IllegalStateException(name + " is not running");
        }
        return process.pid();
    }

    public synchronized boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** Launches the JVM; {@link #awaitReady} waits for it to serve. */
    public synchronized void launch() {
        if (isRunning()) {
            return;
        }
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+ExitOnOutOfMemoryError", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dsluice.node=" + name,
                "-cp", System.getProperty("java.class.path"),
                ClusterChildMain.class.getName(), "serve"));
        command.addAll(settings);
        try {
            Files.createDirectories(dir);
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".log").toFile()));
            builder.environment().putIfAbsent("SLUICE_LOG_FORMAT", "text");
            process = builder.start();
            lifeline = process.getOutputStream();
        } catch (IOException e) {
            throw new UncheckedIOException("could not start " + name, e);
        }
    }

    /** Waits until {@code /health/ready} answers 200; fails, naming the log, if it does not within {@code timeout}. */
    public void awaitReady(Duration timeout) {
        HttpRequest ready = HttpRequest.newBuilder(URI.create(url() + "/health/ready"))
                .timeout(Duration.ofSeconds(5)).GET().build();
        try {
            Mono.defer(() -> {
                        if (!isRunning()) {
                            return Mono.error(new NodeExited());
                        }
                        return Mono.fromFuture(HTTP.sendAsync(ready, HttpResponse.BodyHandlers.ofString()));
                    })
                    .filter(response -> response.statusCode() == 200)
                    .repeatWhenEmpty(Integer.MAX_VALUE, attempts -> attempts.delayElements(Duration.ofMillis(250)))
                    .retryWhen(Retry.fixedDelay(Long.MAX_VALUE, Duration.ofMillis(250))
                            .filter(e -> !(e instanceof NodeExited)))
                    .block(timeout);
        } catch (NodeExited e) {
            throw new IllegalStateException(name + " exited during start; see " + dir.resolve(name + ".log"));
        } catch (RuntimeException e) {
            throw new IllegalStateException(name + " was not ready on " + url() + " within " + timeout + "; see "
                    + dir.resolve(name + ".log"), e);
        }
    }

    /** SIGTERM, as an orchestrator stops a process: it drains and exits; killed if it takes longer than {@code grace}. */
    public synchronized void stop(Duration grace) {
        if (process == null) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("{} did not stop within {}; killing it", name, grace);
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        released();
    }

    /** SIGKILL, as a crash: nothing is drained. */
    public synchronized void kill() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        released();
    }

    private void released() {
        try {
            lifeline.close();
        } catch (IOException ignored) {
            // the process is gone either way
        }
        process = null;
    }

    private static final class NodeExited extends RuntimeException {
        NodeExited() {
            super(null, null, false, false);
        }
    }
}
