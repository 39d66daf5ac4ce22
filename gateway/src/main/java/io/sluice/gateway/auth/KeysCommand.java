package io.sluice.gateway.auth;

import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.postgres.Migrations;
import io.sluice.storage.postgres.PostgresConnections;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/** {@code sluice keys create --tenant T --tier free|paid|enterprise}: creates an API key and prints it once. */
public final class KeysCommand {

    static final String USAGE = "usage: sluice keys create --tenant TENANT --tier free|paid|enterprise";

    private KeysCommand() {
    }

    /** @return the exit code */
    public static int run(List<String> args, SluiceConfig config, PrintStream out, PrintStream err) {
        if (args.isEmpty() || !args.get(0).equals("create")) {
            err.println(USAGE);
            return 2;
        }
        String tenant = null;
        Tier tier = null;
        for (int i = 1; i < args.size(); i++) {
            String arg = args.get(i);
            String value = i + 1 < args.size() ? args.get(i + 1) : null;
            switch (arg) {
                case "--tenant" -> {
                    tenant = value;
                    i++;
                }
                case "--tier" -> {
                    try {
                        tier = value == null ? null : Tier.valueOf(value.toUpperCase(Locale.ROOT));
                    } catch (IllegalArgumentException e) {
                        err.println("--tier: " + value + " (expected: free, paid or enterprise)");
                        return 2;
                    }
                    i++;
                }
                default -> {
                    err.println("unexpected argument " + arg + "\n" + USAGE);
                    return 2;
                }
            }
        }
        if (tenant == null || tier == null) {
            err.println(USAGE);
            return 2;
        }
        Migrations.apply(config.postgres());
        ConnectionPool pool = PostgresConnections.pool(config.postgres());
        try {
            String key = create(new ApiKeyStore(pool), tenant, tier);
            out.println(key);
            err.println("Created an API key for tenant " + tenant + " (" + tier.name().toLowerCase(Locale.ROOT)
                    + "). It is shown only this once: store it now.");
            return 0;
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage());
            return 2;
        } finally {
            pool.dispose();
        }
    }

    /** Creates and stores a key; returns the key itself (never stored). Blocking: not for event loops. */
    public static String create(ApiKeyStore store, String tenant, Tier tier) {
        String key = ApiKeys.generate();
        store.create(tenant, tier, ApiKeys.sha256(key), ApiKeys.displayPrefix(key)).block(Duration.ofSeconds(30));
        return key;
    }
}
