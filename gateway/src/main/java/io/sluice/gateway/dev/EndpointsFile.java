package io.sluice.gateway.dev;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code .sluice/dev/endpoints.env}: the running dev instance's endpoints as {@code KEY=VALUE} lines
 * ({@code HTTP_URL}, {@code KAFKA_BOOTSTRAP}, {@code PG_URL}), so scripts and load tests can find it.
 */
public final class EndpointsFile {

    public static final String FILE_NAME = "endpoints.env";

    private final Map<String, String> entries = new LinkedHashMap<>();

    public EndpointsFile put(String key, String value) {
        entries.put(key, value);
        return this;
    }

    /** Writes the file atomically (a reader never sees half of it). */
    public Path writeTo(Path dir) throws IOException {
        StringBuilder text = new StringBuilder("# Written by `sluice dev`; valid while it runs.\n");
        entries.forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
        Files.createDirectories(dir);
        Path tmp = dir.resolve(FILE_NAME + ".tmp");
        Path file = dir.resolve(FILE_NAME);
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return file;
    }

    /** Reads such a file back. */
    public static Map<String, String> read(Path file) throws IOException {
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            int eq = line.indexOf('=');
            if (!line.startsWith("#") && eq > 0) {
                values.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
            }
        }
        return values;
    }
}
