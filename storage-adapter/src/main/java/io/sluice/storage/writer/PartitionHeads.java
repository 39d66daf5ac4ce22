package io.sluice.storage.writer;

import java.util.Arrays;

/**
 * The heads (newest stored timestamp) of series of one partition, as this writer stored or looked them up, so that a
 * batch whose samples are all after their series' heads is stored without asking PostgreSQL anything about them.
 *
 * <p>Valid only while nothing but this writer's own transactions of the partition stored samples of these series.
 * That is checked at the start of every transaction, once it holds the partition's offset and the topic's placement
 * (see migration V15): the offset it finds must be the one this writer's last commit left, and the placement's epoch
 * the one it saw then; otherwise (another writer had the partition, a commit's outcome was not known, a dead letter
 * was replayed, records placed by another partition count were applied) everything is forgotten and looked up again.
 *
 * <p>Holds at most {@code capacity} series. When a series does not fit and one held lies more than {@link #STALE_MS}
 * behind the newest head, every series more than half that behind is forgotten (series that stopped); when none does,
 * the newcomer is not held. So a partition with more live series than room keeps the same ones (each batch of the
 * others looks them up) instead of forgetting the ones it is about to be sent again, as forgetting the oldest would
 * with series written in turn. A series not held is looked up again.
 *
 * <p>One transaction of a partition runs at a time; the methods are synchronized only so that the next one, on another
 * thread, sees what the last one left.
 */
final class PartitionHeads {

    /** What {@link #head} answers for a series it does not hold. */
    static final long UNKNOWN = Long.MIN_VALUE;

    private final int capacity;
    private long[] ids;
    private long[] heads;
    private int size;
    private long offset = -1;
    private long epoch = -1;
    /** The newest head given since the table was last emptied (held, or not held for want of room). */
    private long newest = Long.MIN_VALUE;
    /** No head held is older than this (heads held only move forward, so the oldest may be newer). */
    private long oldestAtMost = Long.MAX_VALUE;

    /**
     * A full table looks for series that stopped once one lies this far (in sample time) behind the newest head held,
     * and forgets those half this far behind: five minutes, longer than scrape and push intervals, so that a live series
     * is not taken for one that stopped.
     */
    static final long STALE_MS = 10 * 60_000L;

    /** Slots to start with: the table doubles as it fills, up to twice {@code capacity}. */
    private static final int FIRST_SLOTS = 1024;

    /** @param capacity most series held; 0 holds none (every series is looked up in every transaction) */
    PartitionHeads(int capacity) {
        this.capacity = capacity;
        int slots = capacity == 0 ? 0 : Math.min(FIRST_SLOTS, slotsFor(capacity));
        this.ids = new long[slots];
        this.heads = new long[slots];
    }

    /** A power of two at least twice {@code series}: open addressing stays at most half full. */
    private static int slotsFor(int series) {
        return Integer.highestOneBit(Math.max(1, series) * 2 - 1) * 2;
    }

    /**
     * Called in a transaction that holds the partition's offset (its stored {@code offset}) and the placement shared
     * ({@code epoch}): forgets everything unless both are what this writer's last commit left.
     */
    synchronized void check(long offset, long epoch) {
        if (offset != this.offset || epoch != this.epoch) {
            forget();
        }
    }

    /** Forgets every head, and the commit they belong to. */
    synchronized void forget() {
        if (size > 0) {
            Arrays.fill(ids, 0);
        }
        size = 0;
        newest = Long.MIN_VALUE;
        oldestAtMost = Long.MAX_VALUE;
        offset = -1;
        epoch = -1;
    }

    /** The head of series {@code id}, or {@link #UNKNOWN}. */
    synchronized long head(long id) {
        if (size == 0 || id == 0) {
            return UNKNOWN;
        }
        int mask = ids.length - 1;
        for (int i = slot(id, mask); ; i = (i + 1) & mask) {
            long at = ids[i];
            if (at == id) {
                return heads[i];
            }
            if (at == 0) {
                return UNKNOWN;
            }
        }
    }

    /**
     * Once the transaction committed: the heads of its series ({@code ids[i]} at {@code newHeads[i]}), and the offset
     * and epoch the next transaction must find for them to hold. Answers how many series were forgotten to make room.
     */
    synchronized int committed(long nextOffset, long epoch, Long[] seriesIds, long[] newHeads) {
        if (capacity == 0) {
            return 0;
        }
        int forgotten = 0;
        for (int i = 0; i < seriesIds.length; i++) {
            forgotten += put(seriesIds[i], newHeads[i]);
        }
        this.offset = nextOffset;
        this.epoch = epoch;
        return forgotten;
    }

    /** How many series it holds. */
    synchronized int size() {
        return size;
    }

    /** Holds {@code head} for series {@code id} if there is room; answers how many series were forgotten for room. */
    private int put(long id, long head) {
        if (id == 0) {
            return 0; // 0 marks an empty slot: that series is looked up every time
        }
        newest = Math.max(newest, head);
        int mask = ids.length - 1;
        for (int i = slot(id, mask); ; i = (i + 1) & mask) {
            long at = ids[i];
            if (at == id) {
                heads[i] = head;
                return 0;
            }
            if (at == 0) {
                if (size == capacity) {
                    int forgotten = forgetStale();
                    return forgotten == 0 ? 0 : forgotten + put(id, head);
                }
                if (2 * (size + 1) > ids.length) {
                    rehash(ids.length * 2, Long.MIN_VALUE);
                    return put(id, head);
                }
                ids[i] = id;
                heads[i] = head;
                size++;
                oldestAtMost = Math.min(oldestAtMost, head);
                return 0;
            }
        }
    }

    /**
     * Once a series held may lie more than {@link #STALE_MS} behind the newest, forgets every series more than half that
     * behind; answers how many. So a look costs a pass over the table at most once per half of {@link #STALE_MS} that
     * the newest head moves on.
     */
    private int forgetStale() {
        if (oldestAtMost >= behindNewest(STALE_MS)) {
            return 0;
        }
        int before = size;
        oldestAtMost = Long.MAX_VALUE;
        rehash(ids.length, behindNewest(STALE_MS / 2));
        return before - size;
    }

    /** {@code ms} before the newest head held (Long.MIN_VALUE rather than wrap around). */
    private long behindNewest(long ms) {
        return newest < Long.MIN_VALUE + ms ? Long.MIN_VALUE : newest - ms;
    }

    /** Puts the series held into {@code slots} slots, leaving out those whose head is older than {@code staleBefore}. */
    private void rehash(int slots, long staleBefore) {
        long[] oldIds = ids;
        long[] oldHeads = heads;
        ids = new long[Math.min(slots, slotsFor(capacity))];
        heads = new long[ids.length];
        size = 0;
        for (int i = 0; i < oldIds.length; i++) {
            if (oldIds[i] != 0 && oldHeads[i] >= staleBefore) {
                put(oldIds[i], oldHeads[i]);
            }
        }
    }

    /** Series ids are hashes already; this mixes their high bits into the low ones too. */
    private static int slot(long id, int mask) {
        long h = id * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }
}
