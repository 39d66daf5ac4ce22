package io.sluice.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Splits a command line into its configuration part and the rest.
 *
 * <p>Understood: {@code --config FILE} (or {@code --config=FILE}), {@code --set name=value}, and
 * {@code --name=value} / {@code --name value} for any setting name containing a dot or named
 * {@code roles}. Anything else is left in {@link #rest()} for the command to interpret.
 */
public record ConfigArgs(Path configFile, Map<String, String> overrides, List<String> rest) {

    public static ConfigArgs parse(List<String> args) {
        Path file = null;
        Map<String, String> overrides = new LinkedHashMap<>();
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (arg.equals("--config")) {
                file = Path.of(next(args, ++i, arg));
            } else if (arg.startsWith("--config=")) {
                file = Path.of(arg.substring("--config=".length()));
            } else if (arg.equals("--set")) {
                putAssignment(overrides, next(args, ++i, arg), arg);
            } else if (arg.startsWith("--") && isSettingName(nameOf(arg))) {
                int eq = arg.indexOf('=');
                if (eq > 0) {
                    overrides.put(arg.substring(2, eq), arg.substring(eq + 1));
                } else {
                    overrides.put(arg.substring(2), next(args, ++i, arg));
                }
            } else {
                rest.add(arg);
            }
        }
        return new ConfigArgs(file, overrides, rest);
    }

    /** Loads the configuration these arguments describe on top of the given environment. */
    public SluiceConfig load(Map<String, String> env) {
        return ConfigLoader.load(configFile, env, overrides);
    }

    /** The settings these arguments, their file or the environment give a value (see {@link ConfigLoader#explicitlySet}). */
    public java.util.Set<String> explicitlySet(Map<String, String> env) {
        return ConfigLoader.explicitlySet(configFile, env, overrides);
    }

    private static String nameOf(String arg) {
        int eq = arg.indexOf('=');
        return eq > 0 ? arg.substring(2, eq) : arg.substring(2);
    }

    private static boolean isSettingName(String name) {
        return name.contains(".") || name.equals("roles");
    }

    private static void putAssignment(Map<String, String> overrides, String assignment, String flag) {
        int eq = assignment.indexOf('=');
        if (eq <= 0) {
            throw new ConfigException(flag + ": " + assignment + " (expected: name=value)");
        }
        overrides.put(assignment.substring(0, eq), assignment.substring(eq + 1));
    }

    private static String next(List<String> args, int i, String flag) {
        if (i >= args.size()) {
            throw new ConfigException(flag + ": missing value (expected: " + flag + " VALUE)");
        }
        return args.get(i);
    }
}
