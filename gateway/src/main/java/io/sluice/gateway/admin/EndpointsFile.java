package io.sluice.gateway.admin;

import io.sluice.config.PostgresConfig;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@code .sluice/dev/endpoints.env}: the running dev instance's endpoints as {@code KEY=VALUE} lines
 * ({@code HTTP_URL}, {@code KAFKA_BOOTSTRAP}, {@code PG_URL}, {@code DEV_API_KEY}), so scripts, load tests and
 * the {@code keys} and {@code tenants} commands can find it.
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
        StringBuilder text = new StringBuilder("# Written by `sluice dev` or `sluice cluster`; valid while it runs.\n");
        entries.forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
        Files.createDirectories(dir);
        Path tmp = dir.resolve(FILE_NAME + ".tmp");
        Path file = dir.resolve(FILE_NAME);
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return file;
    }

    /**
     * The PostgreSQL of the {@code sluice dev} that wrote {@code dir/endpoints.env} ({@code PG_URL}), as
     * {@code base} pointed at it; empty when there is no such file (no dev running).
     *
     * @throws IOException when the file exists but cannot be read or has no usable {@code PG_URL}
     */
    public static Optional<PostgresConfig> devPostgres(Path dir, PostgresConfig base) throws IOException {
        Path file = dir.resolve(FILE_NAME);
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        String url = read(file).get("PG_URL");
        URI uri;
        try {
            uri = new URI(url == null ? "" : url);
        } catch (URISyntaxException e) {
            uri = URI.create("invalid:");
        }
        if (!"postgresql".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() < 0
                || uri.getPath() == null || uri.getPath().length() < 2) {
            throw new IOException(file + ": PG_URL " + url + " (expected: postgresql://USER@HOST:PORT/DATABASE)");
        }
        String user = uri.getUserInfo() == null ? base.user() : uri.getUserInfo();
        return Optional.of(base.withServer(uri.getHost(), uri.getPort(), uri.getPath().substring(1), user, ""));
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
