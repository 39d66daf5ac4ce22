package io.sluice.dev;

import io.sluice.config.SluiceConfig;
import io.sluice.gateway.Main;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code bin/sluice} runs: the production commands ({@link Main}) plus {@code dev}, which brings its own
 * embedded Kafka and PostgreSQL.
 */
public final class DevMain {

    private DevMain() {
    }

    public static void main(String[] args) {
        Main.exit(run(Arrays.asList(args), System.out, System.err));
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        return Main.run(args, out, err, commands());
    }

    static Map<String, Main.Command> commands() {
        Map<String, Main.Command> commands = new LinkedHashMap<>();
        commands.put("dev", new Main.Command() {
            @Override
            public String usage() {
                return """
                          dev [--reset-key]   Run everything locally: embedded Kafka and PostgreSQL (data under
                                              .sluice/dev/), migrations, every role on port 8080. Ctrl-C stops all.
                                              The dev API key is kept in .sluice/dev/dev-api-key and reused;
                                              --reset-key revokes it and makes a new one.
                        """;
            }

            @Override
            public int run(List<String> args, SluiceConfig config, PrintStream out, PrintStream err) {
                boolean resetKey = false;
                for (String arg : args) {
                    if (!arg.equals("--reset-key")) {
                        err.println("sluice dev: unexpected argument " + arg + "\n\nUsage:\n" + usage());
                        return 2;
                    }
                    resetKey = true;
                }
                Main.awaitShutdown(DevMode.start(config, out, resetKey));
                return 0;
            }
        });
        return commands;
    }
}
