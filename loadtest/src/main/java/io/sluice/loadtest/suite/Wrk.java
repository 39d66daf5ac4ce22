package io.sluice.loadtest.suite;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code wrk}, when it is installed (Debian: {@code apt-get install wrk}), as the P1 load client: the tool
 * PERFORMANCE.md's reference figures were measured with, written in C, so that less of the two shared
 * cores goes to the client than with the suite's own {@link HttpLoad}. One thread, {@code -c} connections,
 * the paths round robin through a generated Lua script.
 */
final class Wrk {

    /** What one run printed. */
    record Result(double perSecond, double p50Millis, double p99Millis, long badResponses, long socketErrors) {
        boolean clean() {
            return badResponses == 0 && socketErrors == 0 && perSecond > 0;
        }
    }

    private static final Pattern RATE = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
    private static final Pattern PERCENTILE = Pattern.compile("^\\s+(50|99)%\\s+([0-9.]+)(us|ms|s)\\s*$", Pattern.MULTILINE);
    private static final Pattern BAD = Pattern.compile("Non-2xx or 3xx responses:\\s+(\\d+)");
    private static final Pattern SOCKET = Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");

    private final Path executable;
    private final Path script;

    private Wrk(Path executable, Path script) {
        this.executable = executable;
        this.script = script;
    }

    /** wrk from the PATH, set up to request these paths in turn; empty when it is not installed. */
    static Optional<Wrk> find(List<String> paths, Path dir) throws IOException {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path candidate = Path.of(d, "wrk");
            if (Files.isExecutable(candidate)) {
                StringBuilder lua = new StringBuilder("local paths = {");
                for (String p : paths) {
                    lua.append('"').append(p).append("\",");
                }
                lua.append("}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n"
                        + "  return wrk.format(\"GET\", paths[i])\nend\n");
                Path script = dir.resolve("paths.lua");
                Files.writeString(script, lua, StandardCharsets.UTF_8);
                return Optional.of(new Wrk(candidate, script));
            }
        }
        return Optional.empty();
    }

    /** A warm-up run (discarded), then the measured one. */
    Result run(String host, int port, int connections, Duration warmup, Duration duration) throws Exception {
        if (!warmup.isZero()) {
            once(host, port, connections, warmup);
        }
        String out = once(host, port, connections, duration);
        Matcher rate = RATE.matcher(out);
        if (!rate.find()) {
            throw new IllegalStateException("cannot read wrk's output:\n" + out);
        }
        double p50 = 0;
        double p99 = 0;
        Matcher m = PERCENTILE.matcher(out);
        while (m.find()) {
            double v = Double.parseDouble(m.group(2)) * switch (m.group(3)) {
                case "us" -> 0.001;
                case "ms" -> 1;
                default -> 1000;
            };
            if (m.group(1).equals("50")) {
                p50 = v;
            } else {
                p99 = v;
            }
        }
        Matcher bad = BAD.matcher(out);
        Matcher socket = SOCKET.matcher(out);
        long errors = 0;
        if (socket.find()) {
            for (int g = 1; g <= 4; g++) {
                errors += Long.parseLong(socket.group(g));
            }
        }
        return new Result(Double.parseDouble(rate.group(1)), p50, p99, bad.find() ? Long.parseLong(bad.group(1)) : 0,
                errors);
    }

    private String once(String host, int port, int connections, Duration d) throws Exception {
        Process p = new ProcessBuilder(executable.toString(), "-t1", "-c" + connections, "-d" + d.toSeconds() + "s",
                "--latency", "-s", script.toString(), "http://" + host + ":" + port + "/")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("wrk failed:\n" + out);
        }
        return out;
    }
}
