package io.sluice.dev.promql;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The scripts to run: the bundled Prometheus scripts (resources {@value #RESOURCES}) or every {@code *.test} of a directory. */
public final class ConformanceFiles {

    static final String RESOURCES = "/promql-conformance/";
    /** The bundled scripts (see the README beside them). */
    public static final List<String> BUNDLED = List.of("aggregators.test", "functions.test", "literals.test",
            "operators.test", "selectors.test", "staleness.test");

    private ConformanceFiles() {
    }

    /** A bundled script, parsed. */
    public static Script bundled(String file) throws IOException {
        try (InputStream in = ConformanceFiles.class.getResourceAsStream(RESOURCES + file)) {
            if (in == null) {
                throw new IOException("no bundled script " + file);
            }
            return ScriptParser.parse(file, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    /** Every bundled script, parsed. */
    public static List<Script> bundled() {
        List<Script> out = new ArrayList<>();
        for (String file : BUNDLED) {
            try {
                out.add(bundled(file));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }

    /** Every {@code *.test} file directly in {@code dir}, by name, parsed (named by their path). */
    public static List<Script> in(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + " is not a directory");
        }
        List<Path> files;
        try (Stream<Path> listing = Files.list(dir)) {
            files = listing.filter(p -> p.getFileName().toString().endsWith(".test") && Files.isRegularFile(p))
                    .sorted().toList();
        }
        List<Script> out = new ArrayList<>();
        for (Path p : files) {
            out.add(ScriptParser.parse(p.toString(), Files.readString(p, StandardCharsets.UTF_8)));
        }
        return out;
    }
}
