package io.sluice.dev;

import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.PostgresConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.ApiKeys;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.postgres.PostgresConnections;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Optional;

/**
 * The dev tenant's API key, kept in {@code <dev.data-dir>/}{@value #FILE_NAME} so that scripts that saved it
 * keep working across {@code sluice dev} runs.
 *
 * <p>The kept key is reused when PostgreSQL still knows it as an active key of the tenant. Otherwise (first
 * run, file deleted, database wiped, key revoked) or with {@code --reset-key}, every key of the tenant is
 * revoked and a new one is made and kept. A new dev tenant is enterprise tier; an existing one keeps its tier
 * ({@code sluice tenants set-tier} changes it).
 *
 * @param key    the key itself
 * @param tier   the tenant's tier
 * @param reused whether it is the key kept from an earlier run
 */
public record DevKey(String key, Tier tier, boolean reused) {

    public static final String FILE_NAME = "dev-api-key";
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    /** Reuses or makes the dev key, as above. Blocking: for start-up. */
    public static DevKey ensure(PostgresConfig postgres, Path dataDir, String tenant, boolean reset) {
        Path file = dataDir.resolve(FILE_NAME);
        ConnectionPool pool = PostgresConnections.pool(postgres);
        try {
            ApiKeyStore store = new ApiKeyStore(pool);
            Optional<String> kept = reset ? Optional.empty() : read(file);
            if (kept.isPresent()) {
                Optional<Principal> known = store.find(ApiKeys.sha256(kept.get())).blockOptional(DEADLINE);
                if (known.isPresent() && known.get().tenant().equals(tenant)) {
                    return new DevKey(kept.get(), known.get().tier(), true);
                }
            }
            store.revokeAll(tenant).block(DEADLINE);
            Tier tier = store.tierOf(tenant).blockOptional(DEADLINE).orElse(Tier.ENTERPRISE);
            String key = KeysCommand.create(store, tenant, tier);
            write(file, key);
            return new DevKey(key, tier, false);
        } finally {
            pool.dispose();
        }
    }

    private static Optional<String> read(Path file) {
        try {
            if (!Files.exists(file)) {
                return Optional.empty();
            }
            String key = Files.readString(file, StandardCharsets.UTF_8).strip();
            return key.startsWith(ApiKeys.PREFIX) && key.length() <= ApiKeys.MAX_KEY_LENGTH
                    ? Optional.of(key) : Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + file, e);
        }
    }

    /** Atomically, readable by the owner only where the file system has POSIX permissions. */
    private static void write(Path file, String key) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(FILE_NAME + ".tmp");
            Files.deleteIfExists(tmp);
            if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
                Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            }
            Files.writeString(tmp, key + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + file, e);
        }
    }
}
