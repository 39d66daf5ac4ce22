package io.sluice.gateway.auth;

import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * {@code sluice tenants set-tier|show}: a tenant's tier, which only this command changes (creating a key never
 * does). Same database rule and exit codes as {@link KeysCommand}.
 */
public final class TenantsCommand {

    static final String USAGE = """
            usage: sluice tenants set-tier --tenant TENANT --tier free|paid|enterprise
                   sluice tenants show --tenant TENANT""";

    private TenantsCommand() {
    }

    /** @return the exit code */
    public static int run(List<String> args, SluiceConfig config, Set<String> explicit, PrintStream out,
                          PrintStream err) {
        if (args.isEmpty()) {
            err.println(USAGE);
            return 2;
        }
        Map<String, String> options;
        Tier tier;
        try {
            options = CommandOptions.parse(args.subList(1, args.size()), Set.of("--tenant", "--tier"), Set.of());
            CommandOptions.only(options, "tenants " + args.get(0),
                    args.get(0).equals("show") ? Set.of("--tenant") : Set.of("--tenant", "--tier"));
            tier = CommandOptions.tier(options.get("--tier"));
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage() + "\n" + USAGE);
            return 2;
        }
        String tenant = options.get("--tenant");
        switch (args.get(0)) {
            case "set-tier" -> {
                if (tenant == null || tier == null) {
                    err.println(USAGE);
                    return 2;
                }
                return CommandOptions.withDatabase(config, explicit, err, db -> {
                    Optional<Tier> before = db.await(db.store().setTier(tenant, tier));
                    if (before.isEmpty()) {
                        err.println("No tenant " + tenant + " (a tenant is created with its first key: sluice keys "
                                + "create --tenant " + tenant + " --tier " + CommandOptions.name(tier) + ")");
                        return 1;
                    }
                    err.println("Tenant " + tenant + ": " + CommandOptions.name(before.get()) + " -> "
                            + CommandOptions.name(tier) + ". Gateways apply it within "
                            + config.auth().cacheTtl().toSeconds() + " s (auth.cache-ttl, the time they cache a key's verdict).");
                    return 0;
                });
            }
            case "show" -> {
                if (tenant == null) {
                    err.println(USAGE);
                    return 2;
                }
                return CommandOptions.withDatabase(config, explicit, err, db -> {
                    Optional<Tier> current = db.await(db.store().tierOf(tenant));
                    if (current.isEmpty()) {
                        err.println("No tenant " + tenant);
                        return 1;
                    }
                    out.println(tenant + "\t" + CommandOptions.name(current.get()));
                    return 0;
                });
            }
            default -> {
                err.println("sluice tenants: unknown subcommand '" + args.get(0) + "'\n" + USAGE);
                return 2;
            }
        }
    }
}
