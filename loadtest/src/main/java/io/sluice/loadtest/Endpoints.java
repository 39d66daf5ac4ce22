package io.sluice.loadtest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The endpoints a running {@code bin/sluice dev} wrote to its {@code endpoints.env}: {@code HTTP_URL},
 * {@code KAFKA_BOOTSTRAP}, {@code PG_URL} and {@code DEV_API_KEY}. Missing keys read as absent.
 */
public record Endpoints(Map<String, String> values) {

    /** Where {@code bin/sluice dev} writes the file by default. */
    public static final Path DEFAULT = Path.of(".sluice/dev/endpoints.env");

    /** The file's keys, or none when it does not exist. */
    public static Endpoints read(Path file) {
        Map<String, String> env = new HashMap<>();
        if (Files.isRegularFile(file)) {
            try {
                for (String line : Files.readAllLines(file)) {
                    int eq = line.indexOf('=');
                    if (!line.startsWith("#") && eq > 0) {
                        env.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(file + ": " + e.getMessage(), e);
            }
        }
        return new Endpoints(Map.copyOf(env));
    }

    public String get(String key, String otherwise) {
        return values.getOrDefault(key, otherwise);
    }

    /** {@code HTTP_URL} as host:port. */
    public String httpHostPort(String otherwise) {
        String url = values.get("HTTP_URL");
        if (url == null) {
            return otherwise;
        }
        URI uri = URI.create(url);
        return uri.getHost() + ":" + uri.getPort();
    }

    /** {@code PG_URL} ({@code postgresql://user@host:port/db}) as a URI. */
    public URI postgres() {
        String url = values.get("PG_URL");
        if (url == null) {
            throw new IllegalStateException("endpoints.env has no PG_URL; is bin/sluice dev running?");
        }
        return URI.create(url);
    }
}
