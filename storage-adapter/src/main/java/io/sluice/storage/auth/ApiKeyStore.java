package io.sluice.storage.auth;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.Tier;
import io.sluice.storage.postgres.PostgresCalls;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Tenants and hashed API keys in PostgreSQL (tables from migration V2), through R2DBC. The lookup that serves
 * requests ({@link #find}) has the {@link PostgresCalls} deadline; creating and revoking keys serve commands, which
 * wait with a deadline of their own.
 */
public final class ApiKeyStore {

    /** What a tenant id may look like (the same rule as the table's CHECK). */
    public static final Pattern TENANT_ID = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

    private final PostgresCalls calls;
    private final ConnectionFactory connections;

    public ApiKeyStore(PostgresCalls calls) {
        this.calls = calls;
        this.connections = calls.connections();
    }

    /** A store whose calls have the default {@code postgres.call-timeout} (commands and tests). */
    public ApiKeyStore(ConnectionFactory connections) {
        this(PostgresCalls.withDefaultDeadline(connections));
    }

    /** The principal of an active key with this SHA-256 (lower-case hex), or empty. */
    public Mono<Principal> find(String keySha256) {
        return calls.call("auth.find", Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("""
                                SELECT t.id, t.tier FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
                                WHERE k.key_sha256 = $1 AND k.revoked_at IS NULL""")
                                .bind("$1", keySha256).execute())
                        .flatMap(r -> r.map((row, meta) -> new Principal(row.get(0, String.class),
                                Tier.valueOf(row.get(1, String.class).toUpperCase(Locale.ROOT)))))
                        .next(),
                Connection::close));
    }

    /**
     * Stores a key for a tenant, creating the tenant with {@code tier} if it does not exist yet. A key never
     * changes an existing tenant's tier (that is {@link #setTier}'s job).
     *
     * @throws IllegalArgumentException (in the Mono) when the tenant id is malformed
     * @throws TierMismatchException (in the Mono) when the tenant exists with another tier; nothing is stored
     */
    public Mono<Void> create(String tenant, Tier tier, String keySha256, String keyPrefix) {
        if (!TENANT_ID.matcher(tenant).matches()) {
            return Mono.error(malformedTenant(tenant));
        }
        String tierName = tier.name().toLowerCase(Locale.ROOT);
        return Mono.usingWhen(connections.create(),
                c -> Mono.from(c.beginTransaction())
                        // DO UPDATE (to itself) rather than DO NOTHING, so that the row comes back either way
                        .thenMany(Flux.from(c.createStatement("""
                                        INSERT INTO tenants (id, tier) VALUES ($1, $2)
                                        ON CONFLICT (id) DO UPDATE SET tier = tenants.tier RETURNING tier""")
                                .bind("$1", tenant).bind("$2", tierName).execute())
                                .flatMap(r -> r.map((row, meta) -> row.get(0, String.class))))
                        .single()
                        .flatMap(stored -> stored.equals(tierName) ? Mono.<Void>empty()
                                : Mono.error(new TierMismatchException(tenant, parseTier(stored), tier)))
                        .thenMany(Flux.from(c.createStatement(
                                        "INSERT INTO api_keys (key_sha256, key_prefix, tenant_id) VALUES ($1, $2, $3)")
                                .bind("$1", keySha256).bind("$2", keyPrefix).bind("$3", tenant).execute())
                                .flatMap(r -> r.getRowsUpdated()))
                        .then(Mono.from(c.commitTransaction())),
                Connection::close,
                (c, err) -> c.rollbackTransaction(),
                Connection::close);
    }

    /**
     * Changes an existing tenant's tier (its quotas follow once gateways' cached verdicts expire).
     *
     * @return the tier it had before, or empty when there is no such tenant
     */
    public Mono<Tier> setTier(String tenant, Tier tier) {
        if (!TENANT_ID.matcher(tenant).matches()) {
            return Mono.error(malformedTenant(tenant));
        }
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("""
                                UPDATE tenants t SET tier = $2 FROM (SELECT id, tier FROM tenants WHERE id = $1 FOR UPDATE) old
                                WHERE t.id = old.id RETURNING old.tier""")
                                .bind("$1", tenant).bind("$2", tier.name().toLowerCase(Locale.ROOT)).execute())
                        .flatMap(r -> r.map((row, meta) -> parseTier(row.get(0, String.class))))
                        .next(),
                Connection::close);
    }

    /** The tenant's tier, or empty when there is no such tenant. */
    public Mono<Tier> tierOf(String tenant) {
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("SELECT tier FROM tenants WHERE id = $1").bind("$1", tenant).execute())
                        .flatMap(r -> r.map((row, meta) -> parseTier(row.get(0, String.class))))
                        .next(),
                Connection::close);
    }

    /** One stored key as operators see it: never the key, only its prefix. */
    public record KeyInfo(String prefix, String tenant, java.time.OffsetDateTime createdAt,
                          java.time.OffsetDateTime revokedAt) {
    }

    /** The tenant's keys, oldest first, revoked ones included. */
    public Flux<KeyInfo> list(String tenant) {
        return Flux.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("""
                                SELECT key_prefix, tenant_id, created_at, revoked_at FROM api_keys
                                WHERE tenant_id = $1 ORDER BY created_at, key_prefix""").bind("$1", tenant).execute())
                        .flatMap(r -> r.map((row, meta) -> new KeyInfo(row.get(0, String.class), row.get(1, String.class),
                                row.get(2, java.time.OffsetDateTime.class), row.get(3, java.time.OffsetDateTime.class)))),
                Connection::close);
    }

    /** Revokes the key with this SHA-256 if it is active; returns its tenant, or empty if there was none. */
    public Mono<String> revoke(String keySha256) {
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("""
                                UPDATE api_keys SET revoked_at = now() WHERE key_sha256 = $1 AND revoked_at IS NULL
                                RETURNING tenant_id""").bind("$1", keySha256).execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, String.class)))
                        .next(),
                Connection::close);
    }

    /**
     * Revokes the tenant's active keys whose stored prefix is {@code keyPrefix} (as {@link #list} shows it).
     *
     * @return how many were revoked
     */
    public Mono<Long> revokeByPrefix(String tenant, String keyPrefix) {
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("""
                                UPDATE api_keys SET revoked_at = now()
                                WHERE tenant_id = $1 AND key_prefix = $2 AND revoked_at IS NULL""")
                                .bind("$1", tenant).bind("$2", keyPrefix).execute())
                        .flatMap(r -> r.getRowsUpdated()).reduce(0L, Long::sum),
                Connection::close);
    }

    private static IllegalArgumentException malformedTenant(String tenant) {
        return new IllegalArgumentException("--tenant: " + tenant
                + " (expected: lower-case letters, digits, '_' or '-', at most 63, starting with a letter or digit)");
    }

    private static Tier parseTier(String stored) {
        return Tier.valueOf(stored.toUpperCase(Locale.ROOT));
    }

    /** A key was asked for with a tier that is not its existing tenant's. */
    public static final class TierMismatchException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        private final Tier existing;

        TierMismatchException(String tenant, Tier existing, Tier requested) {
            super("tenant " + tenant + " exists with tier " + existing.name().toLowerCase(Locale.ROOT) + ", not "
                    + requested.name().toLowerCase(Locale.ROOT) + "; a new key keeps the tenant's tier. Change the tier "
                    + "with `sluice tenants set-tier --tenant " + tenant + " --tier "
                    + requested.name().toLowerCase(Locale.ROOT) + "`, or create the key with --tier "
                    + existing.name().toLowerCase(Locale.ROOT));
            this.existing = existing;
        }

        public Tier existing() {
            return existing;
        }
    }

    /** Revokes every active key of a tenant; returns how many. */
    public Mono<Long> revokeAll(String tenant) {
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement(
                                "UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND revoked_at IS NULL")
                        .bind("$1", tenant).execute()).flatMap(r -> r.getRowsUpdated()).reduce(0L, Long::sum),
                Connection::close);
    }
}
