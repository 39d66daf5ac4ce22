package io.sluice.gateway.auth;

import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.storage.auth.ApiKeyStore;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code sluice keys create|list|revoke}: API keys in PostgreSQL (which one: {@link AdminDatabase}). Only what
 * a script wants goes to stdout (the new key, the list); everything else goes to stderr.
 *
 * <p>Exit codes: 0 done, 1 not done (database unreachable, no such key), 2 usage error or refused request.
 */
public final class KeysCommand {

    static final String USAGE = """
            usage: sluice keys create --tenant TENANT --tier free|paid|enterprise
                   sluice keys list --tenant TENANT
                   sluice keys revoke --key KEY
                   sluice keys revoke --tenant TENANT (--prefix PREFIX | --all)""";

    private KeysCommand() {
    }

    /**
     * @param args     the arguments after {@code keys}
     * @param explicit the settings given a value (file, environment or command line)
     * @return the exit code
     */
    public static int run(List<String> args, SluiceConfig config, Set<String> explicit, PrintStream out,
                          PrintStream err) {
        if (args.isEmpty()) {
            err.println(USAGE);
            return 2;
        }
        Map<String, String> options;
        try {
            options = CommandOptions.parse(args.subList(1, args.size()), Set.of("--tenant", "--tier", "--key",
                    "--prefix"), Set.of("--all"));
            CommandOptions.only(options, "keys " + args.get(0), switch (args.get(0)) {
                case "create" -> Set.of("--tenant", "--tier");
                case "list" -> Set.of("--tenant");
                default -> Set.of("--tenant", "--key", "--prefix", "--all");
            });
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage() + "\n" + USAGE);
            return 2;
        }
        return switch (args.get(0)) {
            case "create" -> create(options, config, explicit, err, out);
            case "list" -> list(options, config, explicit, err, out);
            case "revoke" -> revoke(options, config, explicit, err);
            default -> {
                err.println("sluice keys: unknown subcommand '" + args.get(0) + "'\n" + USAGE);
                yield 2;
            }
        };
    }

    private static int create(Map<String, String> options, SluiceConfig config, Set<String> explicit,
                              PrintStream err, PrintStream out) {
        String tenant = options.get("--tenant");
        Tier tier;
        try {
            tier = CommandOptions.tier(options.get("--tier"));
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage());
            return 2;
        }
        if (tenant == null || tier == null) {
            err.println(USAGE);
            return 2;
        }
        return CommandOptions.withDatabase(config, explicit, err, db -> {
            String key = ApiKeys.generate();
            db.await(db.store().create(tenant, tier, ApiKeys.sha256(key), ApiKeys.displayPrefix(key)));
            out.println(key);
            out.flush();
            err.println("Created an API key for tenant " + tenant + " (" + CommandOptions.name(tier)
                    + "). It is shown only this once: store it now.");
            return 0;
        });
    }

    private static int list(Map<String, String> options, SluiceConfig config, Set<String> explicit, PrintStream err,
                            PrintStream out) {
        String tenant = options.get("--tenant");
        if (tenant == null) {
            err.println(USAGE);
            return 2;
        }
        return CommandOptions.withDatabase(config, explicit, err, db -> {
            List<ApiKeyStore.KeyInfo> keys = db.await(db.store().list(tenant).collectList()).orElse(List.of());
            for (ApiKeyStore.KeyInfo k : keys) {
                out.println(k.prefix() + "\t" + k.tenant() + "\tcreated " + k.createdAt().toInstant() + "\t"
                        + (k.revokedAt() == null ? "active" : "revoked " + k.revokedAt().toInstant()));
            }
            if (keys.isEmpty()) {
                err.println("Tenant " + tenant + " has no keys.");
            }
            return 0;
        });
    }

    private static int revoke(Map<String, String> options, SluiceConfig config, Set<String> explicit,
                              PrintStream err) {
        String key = options.get("--key");
        String tenant = options.get("--tenant");
        String prefix = options.get("--prefix");
        boolean all = options.containsKey("--all");
        boolean byKey = key != null && tenant == null && prefix == null && !all;
        boolean byTenant = key == null && tenant != null && (prefix != null ^ all);
        if (!byKey && !byTenant) {
            err.println(USAGE);
            return 2;
        }
        return CommandOptions.withDatabase(config, explicit, err, db -> {
            long revoked;
            if (byKey) {
                revoked = db.await(db.store().revoke(ApiKeys.sha256(key))).isPresent() ? 1 : 0;
            } else if (all) {
                revoked = db.await(db.store().revokeAll(tenant)).orElse(0L);
            } else {
                revoked = db.await(db.store().revokeByPrefix(tenant, prefix)).orElse(0L);
            }
            if (revoked == 0) {
                err.println("No active key matched; nothing was revoked.");
                return 1;
            }
            err.println("Revoked " + revoked + " key(s). Gateways refuse them within "
                    + config.auth().cacheTtl().toSeconds() + " s (auth.cache-ttl, the time they cache a key's verdict).");
            return 0;
        });
    }

    /**
     * Creates and stores a key; returns the key itself (never stored). Blocking: not for event loops.
     *
     * @throws ApiKeyStore.TierMismatchException when the tenant exists with another tier
     */
    public static String create(ApiKeyStore store, String tenant, Tier tier) {
        String key = ApiKeys.generate();
        store.create(tenant, tier, ApiKeys.sha256(key), ApiKeys.displayPrefix(key)).block(Duration.ofSeconds(30));
        return key;
    }
}
