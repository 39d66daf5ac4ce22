package io.sluice.storage.events;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Readable;
import io.r2dbc.spi.Statement;
import io.sluice.storage.postgres.PostgresCalls;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/** Reads a tenant's stored events back (migration V3's {@code events}, in time order), within the call deadline. */
public final class EventStore {

    private final PostgresCalls calls;

    public EventStore(PostgresCalls calls) {
        this.calls = calls;
    }

    /** Where a page ends: the last event's time and id. Events are ordered by (time, id). */
    public record Position(Instant timestamp, String id) {
    }

    /**
     * One page of the tenant's events with {@code from <= ts < to}, of one type and one key; a null argument does
     * not filter. In (time, id) order after {@code after} (null for the first page), at most {@code limit}.
     */
    public Mono<List<StoredEvent>> list(String tenant, String type, String key, Instant from, Instant to,
                                        Position after, int limit) {
        List<Object> binds = new ArrayList<>(List.of(tenant));
        StringBuilder sql = new StringBuilder("SELECT event_id, type, ts, key, attributes::text FROM events "
                + "WHERE tenant = $1");
        if (from != null) {
            binds.add(from);
            sql.append(" AND ts >= $").append(binds.size());
        }
        if (to != null) {
            binds.add(to);
            sql.append(" AND ts < $").append(binds.size());
        }
        if (type != null) {
            binds.add(type);
            sql.append(" AND type = $").append(binds.size());
        }
        if (key != null) {
            binds.add(key);
            sql.append(" AND key = $").append(binds.size());
        }
        if (after != null) {
            binds.add(after.timestamp());
            binds.add(after.id());
            sql.append(" AND (ts, event_id) > ($").append(binds.size() - 1).append(", $").append(binds.size()).append(')');
        }
        sql.append(" ORDER BY ts, event_id LIMIT ").append(limit);
        return calls.call("events.list", Mono.usingWhen(calls.connections().create(),
                c -> Flux.from(bind(c.createStatement(sql.toString()), binds).execute())
                        .flatMap(r -> r.map(EventStore::event)).collectList(),
                Connection::close));
    }

    private static Statement bind(Statement statement, List<Object> binds) {
        for (int i = 0; i < binds.size(); i++) {
            statement.bind("$" + (i + 1), binds.get(i));
        }
        return statement;
    }

    private static StoredEvent event(Readable row) {
        return new StoredEvent(row.get(0, String.class), row.get(1, String.class),
                row.get(2, OffsetDateTime.class).toInstant().toEpochMilli(), row.get(3, String.class),
                row.get(4, String.class));
    }
}
