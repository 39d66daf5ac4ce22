package io.sluice.storage.writer;

import java.time.Clock;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The series ids this writer stored in (or found in) the {@code series} table this hour, so that a batch upserts only
 * the series it does not know: at a steady load nearly every batch's series are known, and their upsert (a COPY into
 * the staging table and an {@code INSERT … ON CONFLICT} that locks every row it meets) was the writer's second most
 * costly statement in PostgreSQL.
 *
 * <p>Two-way set-associative and lossy: an id may sit in either slot of its pair {@code hash(id)}, a third id of the
 * same pair replaces one of the two; {@code writer.known-series} slots of 8 bytes. Forgetting is harmless (the series
 * is upserted again); remembering wrongly would leave samples without their series row, so an id is remembered only
 * once the transaction that upserted it committed (rows of {@code series} are never deleted). Emptied at the start
 * of every hour of the writer's clock, so that each series is upserted at least once an hour and its
 * {@code last_seen} still moves hourly. Id 0 is never remembered (0 marks an empty slot).
 */
final class KnownSeries {

    private static final long HOUR_MS = 3_600_000L;

    private final AtomicLongArray slots;
    private final int mask;
    private final Clock clock;
    private volatile long hour;

    /**
     * @param capacity slots; rounded down to a power of two, 0 remembers nothing
     */
    KnownSeries(int capacity, Clock clock) {
        int size = capacity <= 1 ? 0 : Integer.highestOneBit(capacity);
        this.slots = new AtomicLongArray(size);
        this.mask = size - 1;
        this.clock = clock;
        this.hour = Math.floorDiv(clock.millis(), HOUR_MS);
    }

    /** Remembers nothing: every batch upserts all of its series (replaying dead letters, tests). */
    static KnownSeries none() {
        return new KnownSeries(0, Clock.systemUTC());
    }

    /** Whether {@code id} was remembered this hour (and not overwritten since). */
    boolean contains(long id) {
        if (slots.length() == 0 || id == 0) {
            return false;
        }
        turnHour();
        int pair = pair(id);
        return slots.get(pair) == id || slots.get(pair + 1) == id;
    }

    /** Remembers ids whose series rows a committed transaction upserted. */
    void rememberAll(long[] ids, int count) {
        if (slots.length() == 0) {
            return;
        }
        turnHour();
        for (int i = 0; i < count; i++) {
            long id = ids[i];
            if (id == 0) {
                continue;
            }
            int pair = pair(id);
            long first = slots.get(pair);
            long second = slots.get(pair + 1);
            if (first == id || second == id) {
                continue;
            }
            // an empty slot if there is one; else the slot the id's next hash bit picks
            int into = first == 0 ? pair : second == 0 ? pair + 1 : pair + (int) (spread(id) >>> 63);
            slots.set(into, id);
        }
    }

    /** The first slot of the id's pair. */
    private int pair(long id) {
        long h = spread(id);
        return (int) (h ^ (h >>> 32)) & mask & ~1;
    }

    /** Series ids are hashes already; this only mixes their high bits into the low ones too. */
    private static long spread(long id) {
        return id * 0x9E3779B97F4A7C15L;
    }

    private void turnHour() {
        long now = Math.floorDiv(clock.millis(), HOUR_MS);
        if (now != hour) {
            synchronized (this) {
                if (now != hour) {
                    for (int i = 0; i < slots.length(); i++) {
                        slots.set(i, 0);
                    }
                    hour = now;
                }
            }
        }
    }
}
