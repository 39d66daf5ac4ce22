package io.sluice.dev;

import io.sluice.config.ConfigArgs;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.Main;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code bin/sluice} runs: the production commands ({@link Main}) plus {@code dev}, {@code cluster} and
 * {@code promql-conformance}, which bring their own embedded Kafka and PostgreSQL.
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
            public int run(List<String> args, ConfigArgs parsed, SluiceConfig config, PrintStream out,
                           PrintStream err) {
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
        commands.put("cluster", new Main.Command() {
            @Override
            public String usage() {
                return """
                          cluster [--brokers=3] [--gateways=2] [--writers=2] [--alerters=2]
                                              A local cluster, every part its own process: a KRaft Kafka
                                              cluster (replication 3, min.insync.replicas 2), PostgreSQL,
                                              gateway, writer and alerter processes on free ports. Data, logs
                                              and endpoints.env in .sluice/cluster/. Ctrl-C stops all.
                        """;
            }

            @Override
            public int run(List<String> args, ConfigArgs parsed, SluiceConfig config, PrintStream out,
                           PrintStream err) {
                int brokers = 3;
                int gateways = 2;
                int writers = 2;
                int alerters = 2;
                for (String arg : args) {
                    int eq = arg.indexOf('=');
                    String name = eq > 0 ? arg.substring(0, eq) : arg;
                    Integer value = eq > 0 ? count(arg.substring(eq + 1)) : null;
                    if (value == null || !List.of("--brokers", "--gateways", "--writers", "--alerters").contains(name)
                            || value == 0 && !name.equals("--alerters")) {
                        err.println("sluice cluster: unexpected argument " + arg + " (expected --brokers=N, "
                                + "--gateways=N or --writers=N, N from 1 to 9, or --alerters=N, N from 0 to 9)");
                        return 2;
                    }
                    switch (name) {
                        case "--brokers" -> brokers = value;
                        case "--gateways" -> gateways = value;
                        case "--writers" -> writers = value;
                        default -> alerters = value;
                    }
                }
                Main.awaitShutdown(LocalCluster.start(config, parsed,
                        new LocalCluster.Options(brokers, gateways, writers, alerters), out));
                return 0;
            }
        });
        commands.put("promql-conformance", new Main.Command() {
            @Override
            public String usage() {
                return io.sluice.dev.promql.ConformanceCommand.USAGE;
            }

            @Override
            public int run(List<String> args, ConfigArgs parsed, SluiceConfig config, PrintStream out,
                           PrintStream err) {
                return io.sluice.dev.promql.ConformanceCommand.run(args, config, out, err);
            }
        });
        return commands;
    }

    private static Integer count(String text) {
        return text.matches("[0-9]") ? Integer.valueOf(text) : null;
    }
}
