package io.sluice.gateway.auth;

import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.ToIntFunction;

/** What the admin commands share: their options, tiers and the database step. */
public final class CommandOptions {

    private CommandOptions() {
    }

    /**
     * {@code --name VALUE} (or {@code --name=VALUE}) for the names in {@code valued}, bare {@code --flag} for
     * those in {@code flags}.
     *
     * @throws IllegalArgumentException naming an unexpected argument or a missing value
     */
    public static Map<String, String> parse(List<String> args, Set<String> valued, Set<String> flags) {
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            int eq = arg.indexOf('=');
            String name = eq > 0 ? arg.substring(0, eq) : arg;
            if (flags.contains(arg)) {
                options.put(arg, "");
            } else if (valued.contains(name)) {
                String value = eq > 0 ? arg.substring(eq + 1) : i + 1 < args.size() ? args.get(++i) : null;
                if (value == null || value.isEmpty()) {
                    throw new IllegalArgumentException(name + ": missing value");
                }
                options.put(name, value);
            } else {
                throw new IllegalArgumentException("unexpected argument " + arg);
            }
        }
        return options;
    }

    /**
     * @throws IllegalArgumentException naming an option given that this subcommand does not take
     */
    public static void only(Map<String, String> options, String subcommand, Set<String> allowed) {
        for (String name : options.keySet()) {
            if (!allowed.contains(name)) {
                throw new IllegalArgumentException(subcommand + " does not take " + name);
            }
        }
    }

    /** The tier named (any case), or null when {@code value} is null. */
    static Tier tier(String value) {
        if (value == null) {
            return null;
        }
        try {
            return Tier.valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--tier: " + value + " (expected: free, paid or enterprise)");
        }
    }

    static String name(Tier tier) {
        return tier.name().toLowerCase(Locale.ROOT);
    }

    /**
     * Runs {@code work} on the database {@link AdminDatabase} chooses; a failure becomes one line on
     * {@code err} (no stack trace) and exit code 1, a refused request (IllegalArgumentException) exit code 2.
     */
    public static int withDatabase(SluiceConfig config, Set<String> explicit, PrintStream err,
                            ToIntFunction<AdminDatabase> work) {
        try (AdminDatabase db = AdminDatabase.open(config, explicit, err)) {
            return work.applyAsInt(db);
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage());
            return 2;
        } catch (AdminDatabase.Failure e) {
            err.println(e.getMessage());
            return 1;
        }
    }
}
