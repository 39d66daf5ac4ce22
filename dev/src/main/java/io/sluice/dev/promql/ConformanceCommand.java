package io.sluice.dev.promql;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.config.SluiceConfig;
import io.sluice.dev.promql.ConformanceRunner.FileReport;
import io.sluice.embedded.EmbeddedInfrastructure;
import io.sluice.storage.postgres.Migrations;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code sluice promql-conformance [DIR…]}: embedded Kafka and PostgreSQL in a temporary directory (removed at the
 * end), the schema, then {@link PromqlConformance} over the bundled scripts or every {@code *.test} of each DIR.
 */
public final class ConformanceCommand {

    public static final String USAGE = """
              promql-conformance [DIR...]
                                  Run PromQL test scripts (Prometheus' promqltest format) against Sluice:
                                  embedded Kafka and PostgreSQL in a temporary directory, each script's
                                  data through the storage writer, each eval through the PromQL engine.
                                  No DIR: the bundled Prometheus scripts; else every *.test in each DIR.
                                  Prints passed / failed / unsupported per file and every failure; exits
                                  1 when an eval inside the subset failed or a script line was not read.
            """;

    private ConformanceCommand() {
    }

    public static int run(List<String> args, SluiceConfig base, PrintStream out, PrintStream err) {
        List<Script> scripts = new ArrayList<>();
        if (args.isEmpty()) {
            scripts.addAll(ConformanceFiles.bundled());
        }
        for (String arg : args) {
            if (arg.startsWith("-")) {
                err.println("sluice promql-conformance: unexpected option " + arg + "\n\nUsage:\n" + USAGE);
                return 2;
            }
            try {
                List<Script> found = ConformanceFiles.in(Path.of(arg));
                if (found.isEmpty()) {
                    err.println("sluice promql-conformance: no *.test file in " + arg);
                    return 2;
                }
                scripts.addAll(found);
            } catch (IOException e) {
                err.println("sluice promql-conformance: " + e.getMessage());
                return 2;
            }
        }
        Path root;
        try {
            root = Files.createTempDirectory("sluice-promql-conformance-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (EmbeddedInfrastructure infrastructure = EmbeddedInfrastructure.start(root, false)) {
            SluiceConfig config = infrastructure.configure(base);
            Migrations.apply(config.postgres());
            try (PromqlConformance conformance = PromqlConformance.start(config, new SimpleMeterRegistry())) {
                List<FileReport> reports = conformance.run(scripts, out);
                return reports.stream().allMatch(FileReport::ok) ? 0 : 1;
            }
        } finally {
            delete(root);
        }
    }

    private static void delete(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind is harmless
        }
    }
}
