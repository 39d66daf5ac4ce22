package io.sluice.gateway;

import io.sluice.gateway.admin.DeadLettersCommand;
import io.sluice.gateway.alerting.RulesCommand;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.gateway.auth.TenantsCommand;
import io.sluice.config.ConfigArgs;
import io.sluice.config.ConfigException;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.app.SluiceProcess;
import io.sluice.gateway.server.PortUnavailableException;
import io.sluice.storage.postgres.Migrations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * The production {@code sluice} command: {@code serve}, {@code keys}, {@code tenants}, {@code dead-letters}, {@code rules} and
 * {@code help}. A launcher adds its own commands through {@link #run(List, PrintStream, PrintStream, Map)}: the dev
 * launcher ({@code io.sluice.dev.DevMain}, what {@code bin/sluice} runs) adds {@code dev} and {@code cluster}, which
 * need the embedded Kafka and PostgreSQL that this module's class path does not carry.
 *
 * <p>Exit codes: 0 after a clean shutdown, 1 when start-up failed, 2 for a usage or configuration error.
 * Logs go to stderr; stdout carries only what a command prints for scripts.
 */
public final class Main {

    private static final Logger log = LoggerFactory.getLogger(Main.class);

    /** A command a launcher adds: its name, its lines in the usage text, and what it does. */
    public interface Command {

        /** Lines for the usage text, indented like the others. */
        String usage();

        /**
         * Runs the command. Throwing {@link PortUnavailableException} or another {@link RuntimeException} makes
         * it exit 1 with the message as its last line.
         *
         * @param args   the arguments after the command's name that are not settings
         * @param parsed the whole command line's settings (its file, its overrides), for passing on to children
         * @return the exit code
         */
        int run(List<String> args, ConfigArgs parsed, SluiceConfig config, PrintStream out, PrintStream err);
    }

    private static final String USAGE_HEAD = """
            Usage: sluice <command> [options]

            Commands:
            """;

    private static final String USAGE_COMMANDS = """
              serve --config FILE Run against external Kafka and PostgreSQL, with the roles of roles=
                                  (default gateway,writer). --roles=gateway binds server.port only;
                                  --roles=writer binds no ingest port and serves /health/live,
                                  /health/ready and /metrics on admin.port (default 9091).
              keys create --tenant T --tier free|paid|enterprise
                                  Create an API key (only the key goes to stdout, once). A new tenant
                                  gets the tier; an existing tenant must already have it.
              keys list --tenant T
              keys revoke --key KEY | --tenant T (--prefix P | --all)
              tenants set-tier --tenant T --tier free|paid|enterprise
                                  Change a tenant's tier (and so its quotas).
              tenants show --tenant T
              dead-letters list [--all] [--limit N]
                                  Kafka records the storage writer set aside because PostgreSQL
                                  refused them (--all: replayed ones too).
              dead-letters replay (--id N | --all)
                                  Apply them again once the cause is fixed.
                                  keys, tenants and dead-letters work on the running `sluice dev`'s
                                  PostgreSQL (.sluice/dev/endpoints.env) unless postgres.* settings are given.
            """ + RulesCommand.USAGE + """
              help                Show this help.

            Options (any command):
              --config FILE       A properties file (see config/sluice.example.properties).
              --NAME=VALUE        Override one setting, e.g. --server.port=9090 or --roles=writer.
              --set NAME=VALUE    The same.
            Environment: SLUICE_<NAME> with dots and dashes as underscores, e.g. SLUICE_SERVER_PORT=9090.
            Precedence: defaults < file < environment < command line.
            """;

    private Main() {
    }

    public static void main(String[] args) {
        exit(run(Arrays.asList(args), System.out, System.err));
    }

    /** Exits the JVM with {@code code} unless it is 0 (then the JVM ends when the last thread does). */
    public static void exit(int code) {
        if (code != 0) {
            System.exit(code);
        }
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        return run(args, out, err, Map.of());
    }

    /** The usage text with the launcher's {@code extra} commands first. */
    static String usage(Map<String, Command> extra) {
        StringBuilder text = new StringBuilder(USAGE_HEAD);
        extra.values().forEach(command -> text.append(command.usage()));
        return text.append(USAGE_COMMANDS).toString();
    }

    /**
     * Runs one command line.
     *
     * @param extra the launcher's own commands by name (kept in their order in the usage text)
     */
    public static int run(List<String> args, PrintStream out, PrintStream err, Map<String, Command> extra) {
        String usage = usage(extra);
        ConfigArgs parsed;
        SluiceConfig config;
        try {
            parsed = ConfigArgs.parse(args);
            config = parsed.load(System.getenv());
        } catch (ConfigException e) {
            err.println(e.getMessage());
            return 2;
        }
        List<String> rest = parsed.rest();
        String command = rest.isEmpty() ? "help" : rest.get(0);
        if (rest.size() > 1 && !List.of("keys", "tenants", "dead-letters", "rules").contains(command)
                && !extra.containsKey(command)) {
            err.println("sluice " + command + ": unexpected argument " + rest.get(1) + "\n\n" + usage);
            return 2;
        }
        try {
            if (extra.containsKey(command)) {
                return extra.get(command).run(rest.subList(1, rest.size()), parsed, config, out, err);
            }
            switch (command) {
                case "help", "--help", "-h" -> {
                    out.print(usage);
                    return 0;
                }
                case "serve" -> {
                    if (parsed.configFile() == null) {
                        log.warn("serve without --config: using defaults and SLUICE_* environment variables");
                    }
                    Migrations.apply(config.postgres());
                    SluiceProcess process = SluiceProcess.start(config);
                    out.println(process.describe());
                    awaitShutdown(process);
                    return 0;
                }
                case "keys" -> {
                    return KeysCommand.run(rest.subList(1, rest.size()), config,
                            parsed.explicitlySet(System.getenv()), out, err);
                }
                case "dead-letters" -> {
                    return DeadLettersCommand.run(rest.subList(1, rest.size()), config,
                            parsed.explicitlySet(System.getenv()), out, err);
                }
                case "rules" -> {
                    return RulesCommand.run(rest.subList(1, rest.size()), config.alerting(), out, err);
                }
                case "tenants" -> {
                    return TenantsCommand.run(rest.subList(1, rest.size()), config,
                            parsed.explicitlySet(System.getenv()), out, err);
                }
                case "dev", "cluster" -> {
                    err.println("sluice " + command + ": not part of this distribution (it runs against external "
                            + "Kafka and PostgreSQL); run it from a source checkout with bin/sluice " + command);
                    return 2;
                }
                default -> {
                    err.println("sluice: unknown command '" + command + "'\n\n" + usage);
                    return 2;
                }
            }
        } catch (PortUnavailableException e) {
            // Everything started before was stopped on the way here; the message says all there is to say.
            err.println("sluice " + command + ": " + e.getMessage());
            return 1;
        } catch (RuntimeException e) {
            log.error("Sluice could not start: {}", e.getMessage(), e);
            err.println("sluice " + command + ": " + e.getMessage());
            return 1;
        }
    }

    /** Blocks the calling thread until SIGTERM or Ctrl-C, then closes {@code running} from the shutdown hook. */
    public static void awaitShutdown(AutoCloseable running) {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log.info("Shutting down");
            try {
                running.close();
            } catch (Exception e) {
                log.warn("Shutdown failed", e);
            } finally {
                stopped.countDown();
            }
        }, "sluice-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
