package io.sluice.storage.writer;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.WriterConfig;
import io.sluice.storage.postgres.Transactions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Creates the time-partitioned tables' partitions ahead of time and drops them after their retention.
 *
 * <p>{@code sample_chunks}, {@code events} and {@code rollups_1m} have one partition per UTC day
 * ({@code sample_chunks_p20261123}), {@code rollups_1h} one per UTC month ({@code rollups_1h_p202611}).
 * Expired partitions are detached {@code CONCURRENTLY} before they are dropped, so writes to the other
 * partitions never wait on the drop. Time comes from the injected clock.
 */
public final class PartitionMaintenance {

    private static final Logger log = LoggerFactory.getLogger(PartitionMaintenance.class);
    private static final DateTimeFormatter DAY = DateTimeFormatter.ofPattern("yyyyMMdd");
    private static final DateTimeFormatter MONTH = DateTimeFormatter.ofPattern("yyyyMM");
    private static final List<String> DAILY = List.of("sample_chunks", "events", "rollups_1m");
    /**
     * Storage of the rollup partitions. A rollup row is updated in place by every batch that has a sample of its series
     * in its minute or hour; the room each page keeps lets PostgreSQL make that a HOT update (no new index entry, the
     * old version pruned within the page) instead of moving the row to another page.
     */
    static final String ROLLUP_STORAGE = " WITH (fillfactor = 70)";

    private final ConnectionFactory connections;
    private final WriterConfig config;
    private final Clock clock;
    private final Set<String> known = ConcurrentHashMap.newKeySet();

    public PartitionMaintenance(ConnectionFactory connections, WriterConfig config, Clock clock) {
        this.connections = connections;
        this.config = config;
        this.clock = clock;
    }

    /**
     * Creates partitions from yesterday to {@code retention.partitions-ahead} days ahead, drops expired ones, then
     * forgets the ids of the events they held.
     */
    public Mono<List<String>> run() {
        LocalDate today = LocalDate.now(clock.withZone(ZoneOffset.UTC));
        List<LocalDate> days = new ArrayList<>();
        for (LocalDate d = today.minusDays(1); !d.isAfter(today.plusDays(config.partitionsAhead())); d = d.plusDays(1)) {
            days.add(d);
        }
        return ensureDays(days).then(dropExpired()).flatMap(dropped -> forgetExpiredEventIds().thenReturn(dropped));
    }

    /**
     * Deletes the {@code event_ids} rows of events older than every remaining events partition (a day partition
     * is dropped once its whole day is past {@code retention.raw}), so an id is unique for as long as its event
     * is kept. Returns how many ids were forgotten.
     */
    public Mono<Long> forgetExpiredEventIds() {
        Instant horizon = LocalDate.ofInstant(clock.instant().minus(config.retentionRaw()), ZoneOffset.UTC)
                .atStartOfDay().toInstant(ZoneOffset.UTC);
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("DELETE FROM event_ids WHERE ts < $1").bind("$1", horizon).execute())
                        .flatMap(r -> r.getRowsUpdated()).reduce(0L, Long::sum),
                Connection::close);
    }

    /** The advisory lock key under which partitions are made ("sluice" in ASCII). */
    static final long DDL_LOCK = 0x736c75696365L;

    /** Makes sure every table has a partition for each of these days (cached: cheap when they exist). */
    public Mono<Void> ensureDays(Collection<LocalDate> days) {
        List<String> ddl = new ArrayList<>();
        for (LocalDate day : days) {
            for (String table : DAILY) {
                String name = table + "_p" + DAY.format(day);
                if (!known.contains(name)) {
                    ddl.add(name + "|CREATE TABLE IF NOT EXISTS " + name + " PARTITION OF " + table + " FOR VALUES FROM ('"
                            + day + " 00:00:00+00') TO ('" + day.plusDays(1) + " 00:00:00+00')"
                            + (table.equals("rollups_1m") ? ROLLUP_STORAGE : ""));
                }
            }
            YearMonth month = YearMonth.from(day);
            String name = "rollups_1h_p" + MONTH.format(month);
            if (!known.contains(name)) {
                ddl.add(name + "|CREATE TABLE IF NOT EXISTS " + name + " PARTITION OF rollups_1h FOR VALUES FROM ('"
                        + month.atDay(1) + " 00:00:00+00') TO ('" + month.plusMonths(1).atDay(1) + " 00:00:00+00')"
                        + ROLLUP_STORAGE);
            }
        }
        if (ddl.isEmpty()) {
            return Mono.empty();
        }
        // One transaction under an advisory lock: writers in other processes making the same day's partitions wait
        // for each other, and IF NOT EXISTS then sees the one made first (two CREATEs at once would collide).
        List<String> names = new ArrayList<>();
        return Mono.usingWhen(connections.create(),
                c -> Mono.from(c.beginTransaction())
                        .thenMany(Flux.from(c.createStatement("SELECT pg_advisory_xact_lock(" + DDL_LOCK + ")").execute())
                                .flatMap(r -> r.map((row, meta) -> 1)))
                        .thenMany(Flux.fromIterable(ddl.stream().distinct().toList()).concatMap(entry -> {
                            names.add(entry.substring(0, entry.indexOf('|')));
                            String sql = entry.substring(entry.indexOf('|') + 1);
                            return Flux.from(c.createStatement(sql).execute()).flatMap(r -> r.getRowsUpdated());
                        }))
                        .then(Mono.from(c.commitTransaction()))
                        .doOnSuccess(v -> known.addAll(names)),
                Connection::close,
                (c, err) -> Transactions.rollbackAndClose(c, config.transactionTimeout()),
                c -> Transactions.rollbackAndClose(c, config.transactionTimeout()));
    }

    /** Detaches and drops partitions whose whole range is older than its table's retention; returns their names. */
    public Mono<List<String>> dropExpired() {
        Instant now = clock.instant();
        return Mono.usingWhen(connections.create(), c -> Flux.from(c.createStatement("""
                                SELECT parent.relname, child.relname FROM pg_inherits i
                                JOIN pg_class parent ON parent.oid = i.inhparent
                                JOIN pg_class child ON child.oid = i.inhrelid
                                WHERE parent.relname IN ('sample_chunks', 'events', 'rollups_1m', 'rollups_1h')""").execute())
                        .flatMap(r -> r.map((row, meta) -> new String[] {row.get(0, String.class), row.get(1, String.class)}))
                        .filter(p -> expired(p[0], p[1], now))
                        .concatMap(p -> Flux.from(c.createStatement("ALTER TABLE " + p[0] + " DETACH PARTITION " + p[1]
                                        + " CONCURRENTLY").execute()).flatMap(r -> r.getRowsUpdated())
                                .thenMany(Flux.from(c.createStatement("DROP TABLE " + p[1]).execute())
                                        .flatMap(r -> r.getRowsUpdated()))
                                .then(Mono.fromRunnable(() -> {
                                    known.remove(p[1]);
                                    log.info("Dropped partition {} of {} (past its retention)", p[1], p[0]);
                                }))
                                .thenReturn(p[1])
                                // another writer process dropping the same partition at the same time: its drop wins,
                                // and one that failed for another reason is tried again at the next maintenance
                                .onErrorResume(e -> {
                                    log.info("Partition {} of {} not dropped here ({}); another writer may have",
                                            p[1], p[0], e.getMessage());
                                    return Mono.empty();
                                }))
                        .collectList(),
                Connection::close);
    }

    /** The clock this maintenance (and the writer's compaction) goes by. */
    public Clock clock() {
        return clock;
    }

    /** The oldest instant still kept in raw samples and events. */
    public Instant rawHorizon() {
        return clock.instant().minus(config.retentionRaw());
    }

    private boolean expired(String table, String partition, Instant now) {
        int at = partition.lastIndexOf("_p");
        if (at < 0) {
            return false;
        }
        String stamp = partition.substring(at + 2);
        Instant end;
        try {
            if (table.equals("rollups_1h")) {
                end = YearMonth.parse(stamp, MONTH).plusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
            } else {
                end = LocalDate.parse(stamp, DAY).plusDays(1).atStartOfDay().toInstant(ZoneOffset.UTC);
            }
        } catch (RuntimeException e) {
            return false; // not a partition this class made
        }
        Duration retention = switch (table) {
            case "rollups_1m" -> config.retentionRollup1m();
            case "rollups_1h" -> config.retentionRollup1h();
            default -> config.retentionRaw();
        };
        return !end.isAfter(now.minus(retention));
    }
}
