package io.sluice.storage.writer;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBufUtil;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.Readable;
import io.sluice.storage.health.HealthNotice;
import org.apache.kafka.common.TopicPartition;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

/**
 * The {@code dead_letters} table (migration V6): Kafka records the storage writer set aside because PostgreSQL
 * refused them for a permanent reason, or because they are not valid segments.
 */
public final class DeadLetters {

    /** Reason of a record that is not a valid segment. */
    public static final String REASON_UNDECODABLE = "undecodable_segment";
    /** Reason of a permanent failure PostgreSQL gave no SQLSTATE for. */
    public static final String REASON_ERROR = "error";
    /** Longest error text kept per record. */
    static final int MAX_ERROR_CHARS = 2000;

    private final ConnectionFactory connections;

    public DeadLetters(ConnectionFactory connections) {
        this.connections = connections;
    }

    /** One set-aside record. {@code payload} is the Kafka record's value, byte for byte. */
    public record DeadLetter(long id, String topic, int partition, long offset, String reason, String sqlState,
                             String error, byte[] payload, Instant createdAt, Instant replayedAt) {
    }

    /** The reason tag of a PostgreSQL error: {@code sqlstate_22003} and the like (a bounded set). */
    static String reasonOf(String sqlState) {
        return "sqlstate_" + sqlState;
    }

    /** {@code sluice_writer_dead_letters_total{reason}}, one counter per reason, made when first needed. */
    static final class Counters {
        private final MeterRegistry registry;
        private final Map<String, Counter> byReason = new ConcurrentHashMap<>();

        Counters(MeterRegistry registry) {
            this.registry = registry;
            counter(REASON_UNDECODABLE);
        }

        Counter counter(String reason) {
            return byReason.computeIfAbsent(reason, r -> Counter.builder("sluice_writer_dead_letters")
                    .description("Kafka records the storage writer set aside in dead_letters, by reason")
                    .tag("reason", r).register(registry));
        }
    }

    /** Inserts one dead letter inside the caller's transaction (a record already set aside is left as it is). */
    static Mono<Void> insert(Connection c, TopicPartition tp, long offset, String reason, String sqlState,
                             String error, byte[] payload) {
        String text = error == null ? "" : error.length() > MAX_ERROR_CHARS ? error.substring(0, MAX_ERROR_CHARS) : error;
        var statement = c.createStatement("INSERT INTO dead_letters (topic, partition, kafka_offset, reason, sqlstate, "
                        + "error, payload) VALUES ($1, $2, $3, $4, $5, $6, decode($7, 'hex')) ON CONFLICT DO NOTHING")
                .bind("$1", tp.topic()).bind("$2", tp.partition()).bind("$3", offset).bind("$4", reason)
                .bind("$6", text.replace('\0', '\uFFFD')).bind("$7", ByteBufUtil.hexDump(payload));
        if (sqlState == null) {
            statement.bindNull("$5", String.class);
        } else {
            statement.bind("$5", sqlState);
        }
        return Flux.from(statement.execute()).flatMap(r -> r.getRowsUpdated()).then();
    }

    /** Locks a dead letter not replayed yet, inside the caller's transaction; empty when there is none. */
    static Mono<DeadLetter> lockPending(Connection c, long id) {
        return Flux.from(c.createStatement("SELECT " + COLUMNS + " FROM dead_letters WHERE id = $1 "
                        + "AND replayed_at IS NULL FOR UPDATE").bind("$1", id).execute())
                .flatMap(r -> r.map(DeadLetters::row)).next();
    }

    static Mono<Void> markReplayed(Connection c, long id) {
        return Flux.from(c.createStatement("UPDATE dead_letters SET replayed_at = now() WHERE id = $1").bind("$1", id)
                .execute()).flatMap(r -> r.getRowsUpdated()).then();
    }

    /** Dead letters, oldest first, after {@code afterId}; replayed ones only when asked. */
    public Mono<List<DeadLetter>> list(boolean includeReplayed, long afterId, int limit) {
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("SELECT " + COLUMNS + " FROM dead_letters WHERE id > $1"
                                + (includeReplayed ? "" : " AND replayed_at IS NULL") + " ORDER BY id LIMIT " + limit)
                        .bind("$1", afterId).execute())
                        .flatMap(r -> r.map(DeadLetters::row)).collectList(),
                Connection::close);
    }

    /**
     * {@code /health/ready}'s notice while dead letters wait for a replay; {@code bounded} puts the count query
     * under the caller's deadline (a frozen PostgreSQL must not slow readiness past its other checks).
     */
    public HealthNotice notice(UnaryOperator<Mono<Long>> bounded) {
        return new HealthNotice() {
            @Override
            public String name() {
                return "dead_letters";
            }

            @Override
            public Mono<String> notice() {
                return bounded.apply(pending()).filter(n -> n > 0).map(n -> n + " Kafka record(s) PostgreSQL refused are set aside "
                        + "in dead_letters; see `sluice dead-letters list`, fix the cause, then `sluice dead-letters "
                        + "replay`");
            }
        };
    }

    /** How many dead letters wait for a replay. */
    public Mono<Long> pending() {
        return Mono.usingWhen(connections.create(),
                c -> Flux.from(c.createStatement("SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL").execute())
                        .flatMap(r -> r.map((row, meta) -> row.get(0, Long.class))).single(),
                Connection::close);
    }

    private static final String COLUMNS = "id, topic, partition, kafka_offset, reason, sqlstate, error, payload, "
            + "created_at, replayed_at";

    private static DeadLetter row(Readable row) {
        OffsetDateTime replayed = row.get(9, OffsetDateTime.class);
        return new DeadLetter(row.get(0, Long.class), row.get(1, String.class), row.get(2, Integer.class),
                row.get(3, Long.class), row.get(4, String.class), row.get(5, String.class), row.get(6, String.class),
                row.get(7, byte[].class), row.get(8, OffsetDateTime.class).toInstant(), replayed == null ? null : replayed.toInstant());
    }
}
