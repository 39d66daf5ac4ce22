package io.sluice.dev;

import io.sluice.gateway.admin.EndpointsFile;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@code sluice dev} and {@code sluice cluster} announce once they run: {@code endpoints.env} for scripts, and a
 * banner for people naming each part, where the endpoints went and where the data lives.
 */
final class Banner {

    private Banner() {
    }

    /**
     * Writes {@code endpoints} into {@code dir}, then prints the banner.
     *
     * @param title the banner's first line, e.g. {@code Sluice dev is running}
     * @param parts one line each, already aligned
     * @param where the last line, e.g. where the data lives and how to stop
     */
    static void announce(PrintStream out, Path dir, EndpointsFile endpoints, String title, List<String> parts,
                         String where) {
        Path file;
        try {
            file = endpoints.writeTo(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + dir.resolve(EndpointsFile.FILE_NAME), e);
        }
        String rule = "-".repeat(72);
        out.println(rule);
        out.println("  " + title);
        out.println();
        parts.forEach(part -> out.println("  " + part));
        out.println();
        out.println("  Endpoints written to " + file);
        out.println("  " + where);
        out.println(rule);
        out.flush();
    }
}
