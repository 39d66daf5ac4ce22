package io.sluice.gateway;

import io.sluice.config.ConfigArgs;
import io.sluice.config.ConfigException;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.dev.DevMode;
import io.sluice.gateway.server.PortUnavailableException;
import io.sluice.storage.postgres.Migrations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The {@code sluice} command: {@code dev}, {@code serve}, {@code keys}, {@code tenants} and {@code help}.
 *
 * <p>Exit codes: 0 after a clean shutdown, 1 when start-up failed, 2 for a usage or configuration error.
 * Logs go to stderr; stdout carries only what a command prints for scripts.
 */
public final class Main {

    private static final Logger log = LoggerFactory.getLogger(Main.class);

    static final String USAGE = """
            Usage: sluice <command> [options]

            Commands:
              dev [--reset-key]   Run everything locally: embedded Kafka and PostgreSQL (data under
                                  .sluice/dev/), migrations, the gateway on port 8080. Ctrl-C stops all.
                                  The dev API key is kept in .sluice/dev/dev-api-key and reused;
                                  --reset-key revokes it and makes a new one.
              serve --config FILE Run against external Kafka and PostgreSQL.
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
              help                Show this help.

            Options (any command):
              --config FILE       A properties file (see config/sluice.example.properties).
              --NAME=VALUE        Override one setting, e.g. --server.port=9090.
              --set NAME=VALUE    The same.
            Environment: SLUICE_<NAME> with dots and dashes as underscores, e.g. SLUICE_SERVER_PORT=9090.
            Precedence: defaults < file < environment < command line.
            """;

    private Main() {
    }

    public static void main(String[] args) {
        int code = run(Arrays.asList(args), System.out, System.err);
        if (code != 0) {
            System.exit(code);
        }
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
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
        if (rest.size() > 1 && !List.of("keys", "tenants", "dead-letters", "dev").contains(command)) {
            err.println("sluice " + command + ": unexpected argument " + rest.get(1) + "\n\n" + USAGE);
            return 2;
        }
        try {
            switch (command) {
                case "help", "--help", "-h" -> {
                    out.print(USAGE);
                    return 0;
                }
                case "dev" -> {
                    boolean resetKey = false;
                    for (String arg : rest.subList(1, rest.size())) {
                        if (!arg.equals("--reset-key")) {
                            err.println("sluice dev: unexpected argument " + arg + "\n\n" + USAGE);
                            return 2;
                        }
                        resetKey = true;
                    }
                    DevMode dev = DevMode.start(config, out, resetKey);
                    awaitShutdown(dev);
                    return 0;
                }
                case "serve" -> {
                    if (parsed.configFile() == null) {
                        log.warn("serve without --config: using defaults and SLUICE_* environment variables");
                    }
                    Migrations.apply(config.postgres());
                    Sluice sluice = Sluice.start(config);
                    io.sluice.storage.writer.WriterRole writer;
                    try {
                        writer = config.roles().contains(io.sluice.config.Role.WRITER)
                                ? io.sluice.storage.writer.WriterRole.start(config, sluice.meterRegistry()) : null;
                    } catch (RuntimeException e) {
                        sluice.close();
                        throw e;
                    }
                    out.println("Sluice serving on port " + sluice.port() + " (roles: " + config.roles() + ")");
                    awaitShutdown(() -> {
                        try {
                            sluice.close();
                        } finally {
                            if (writer != null) {
                                writer.close();
                            }
                        }
                    });
                    return 0;
                }
                case "keys" -> {
                    return io.sluice.gateway.auth.KeysCommand.run(rest.subList(1, rest.size()), config,
                            parsed.explicitlySet(System.getenv()), out, err);
                }
                case "dead-letters" -> {
                    return io.sluice.gateway.admin.DeadLettersCommand.run(rest.subList(1, rest.size()), config,
                            parsed.explicitlySet(System.getenv()), out, err);
                }
                case "tenants" -> {
                    return io.sluice.gateway.auth.TenantsCommand.run(rest.subList(1, rest.size()), config,
                            parsed.explicitlySet(System.getenv()), out, err);
                }
                default -> {
                    err.println("sluice: unknown command '" + command + "'\n\n" + USAGE);
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

    /** Blocks the main thread until SIGTERM or Ctrl-C, then closes {@code running} from the shutdown hook. */
    private static void awaitShutdown(AutoCloseable running) {
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
