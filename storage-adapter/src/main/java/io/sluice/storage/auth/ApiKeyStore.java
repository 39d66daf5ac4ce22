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
     * Stores a key for a tenant, creating the tenant or updating its tier.
     *
     * @throws IllegalArgumentException (in the Mono) when the tenant id is malformed
     */
    public Mono<Void> create(String tenant, Tier tier, String keySha256, String keyPrefix) {
        if (!TENANT_ID.matcher(tenant).matches()) {
            return Mono.error(new IllegalArgumentException("--tenant: " + tenant
                    + " (expected: lower-case letters, digits, '_' or '-', at most 63, starting with a letter or digit)"));
        }
        String tierName = tier.name().toLowerCase(Locale.ROOT);
        return Mono.usingWhen(connections.create(),
                c -> Mono.from(c.beginTransaction())
                        .thenMany(Flux.from(c.createStatement("""
                                        INSERT INTO tenants (id, tier) VALUES ($1, $2)
                                        ON CONFLICT (id) DO UPDATE SET tier = EXCLUDED.tier""")
                                .bind("$1", tenant).bind("$2", tierName).execute()).flatMap(r -> r.getRowsUpdated()))
                        .thenMany(Flux.from(c.createStatement(
                                        "INSERT INTO api_keys (key_sha256, key_prefix, tenant_id) VALUES ($1, $2, $3)")
                                .bind("$1", keySha256).bind("$2", keyPrefix).bind("$3", tenant).execute())
                                .flatMap(r -> r.getRowsUpdated()))
                        .then(Mono.from(c.commitTransaction())),
                Connection::close,
                (c, err) -> c.rollbackTransaction(),
                Connection::close);
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
