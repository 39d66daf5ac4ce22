package io.sluice.gateway.admin;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.auth.AdminDatabase;
import io.sluice.gateway.auth.CommandOptions;
import io.sluice.storage.kafka.Topics;
import io.sluice.storage.postgres.PostgresFailures;
import io.sluice.storage.writer.DeadLetters;
import io.sluice.storage.writer.PartitionMaintenance;
import io.sluice.storage.writer.StorageWriter;
import reactor.core.publisher.Mono;

import java.io.PrintStream;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code sluice dead-letters list [--all] [--limit N]} and {@code sluice dead-letters replay (--id N | --all)}:
 * the Kafka records the storage writer set aside because PostgreSQL refused them, and applying them again once
 * the cause is fixed. {@code list} prints one tab-separated line per record on stdout; {@code replay} says per
 * record on stderr whether it was applied, and exits 1 when any is still refused (it then stays a dead letter).
 * Works on the database the other admin commands use ({@link AdminDatabase}).
 */
public final class DeadLettersCommand {

    static final String USAGE = "usage: sluice dead-letters list [--all] [--limit N]\n"
            + "       sluice dead-letters replay (--id N | --all)";
    private static final int DEFAULT_LIMIT = 100;
    private static final int PAGE = 500;

    private DeadLettersCommand() {
    }

    /** @return the exit code */
    public static int run(List<String> args, SluiceConfig config, Set<String> explicit, PrintStream out,
                          PrintStream err) {
        if (args.isEmpty()) {
            err.println(USAGE);
            return 2;
        }
        Map<String, String> options;
        try {
            options = CommandOptions.parse(args.subList(1, args.size()), Set.of("--limit", "--id"), Set.of("--all"));
            switch (args.get(0)) {
                case "list" -> CommandOptions.only(options, "list", Set.of("--all", "--limit"));
                case "replay" -> {
                    CommandOptions.only(options, "replay", Set.of("--all", "--id"));
                    if (options.containsKey("--all") == options.containsKey("--id")) {
                        throw new IllegalArgumentException("replay takes --id N or --all");
                    }
                }
                default -> throw new IllegalArgumentException("unknown subcommand " + args.get(0));
            }
            number(options.get("--limit"), "--limit", DEFAULT_LIMIT);
            number(options.get("--id"), "--id", 1);
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage() + "\n" + USAGE);
            return 2;
        }
        return CommandOptions.withDatabase(config, explicit, err, db -> args.get(0).equals("list")
                ? list(db, options, out) : replay(db, config, options, err));
    }

    private static int list(AdminDatabase db, Map<String, String> options, PrintStream out) {
        int limit = number(options.get("--limit"), "--limit", DEFAULT_LIMIT);
        DeadLetters letters = new DeadLetters(db.connections());
        out.println("id\ttopic\tpartition\toffset\treason\tcreated_at\treplayed_at\terror");
        for (DeadLetters.DeadLetter d : db.await(letters.list(options.containsKey("--all"), 0, limit)).orElseThrow()) {
            out.println(d.id() + "\t" + d.topic() + "\t" + d.partition() + "\t" + d.offset() + "\t" + d.reason() + "\t"
                    + d.createdAt() + "\t" + (d.replayedAt() == null ? "-" : d.replayedAt()) + "\t"
                    + d.error().replace('\n', ' ').replace('\t', ' '));
        }
        return 0;
    }

    private static int replay(AdminDatabase db, SluiceConfig config, Map<String, String> options, PrintStream err) {
        DeadLetters letters = new DeadLetters(db.connections());
        List<Long> ids = new ArrayList<>();
        boolean one = options.containsKey("--id");
        if (one) {
            ids.add((long) number(options.get("--id"), "--id", 1));
        } else {
            long after = 0;
            List<DeadLetters.DeadLetter> page;
            do {
                page = db.await(letters.list(false, after, PAGE)).orElseThrow();
                page.forEach(d -> ids.add(d.id()));
                after = page.isEmpty() ? after : page.get(page.size() - 1).id();
            } while (page.size() == PAGE);
        }
        // a replay needs only the topics' names (to tell clicks from events), not Kafka itself
        StorageWriter writer = StorageWriter.create(config.kafka(), config.writer(), Topics.unknown(config.kafka()),
                db.connections(), new PartitionMaintenance(db.connections(), config.writer(), Clock.systemUTC()),
                new SimpleMeterRegistry());
        int failed = 0;
        for (long id : ids) {
            Boolean replayed;
            try {
                replayed = writer.replayDeadLetter(id).timeout(AdminDatabase.DEADLINE).block();
            } catch (RuntimeException e) {
                if (!PostgresFailures.isPermanent(e) && !(e instanceof IllegalStateException)) {
                    db.await(Mono.error(e)); // PostgreSQL unreachable: one line, exit 1
                }
                err.println("dead letter " + id + ": still refused, kept (" + e.getMessage() + ")");
                failed++;
                continue;
            }
            if (Boolean.TRUE.equals(replayed)) {
                err.println("dead letter " + id + ": replayed");
            } else {
                err.println("dead letter " + id + ": none waiting with this id (unknown, or replayed already)");
                failed++;
            }
        }
        err.println("Replayed " + (ids.size() - failed) + " of " + ids.size() + " dead letter(s).");
        return failed == 0 ? 0 : 1;
    }

    private static int number(String value, String name, int fallback) {
        if (value == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(value);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw new IllegalArgumentException(name + ": " + value + " (expected: a whole number above 0)");
    }
}
