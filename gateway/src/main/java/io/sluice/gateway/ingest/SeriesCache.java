package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.util.concurrent.FastThreadLocal;
import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The series an HTTP decoder built lately ({@code V}: a series, or what the format decodes a key's bytes to), by the
 * bytes they came as. Agents send the same series every interval,
 * written the same way each time, so a decoder that finds a series' bytes here takes the series as it is instead
 * of decoding its strings, checking them ({@link Admission#checkSeries}) and building it again: the HTTP formats'
 * counterpart of the binary protocol's series dictionary, which a connection fills once.
 *
 * <p>Only series that passed their checks are kept, and those checks depend on nothing but the bytes and the
 * settings, so a series taken from here gets the verdict it would get decoded anew; whatever depends on more
 * (timestamps, the cardinality limit) is still checked for every sample. A decoder owns its cache, as the same
 * bytes mean different series in different formats, and defines its key: bytes that decode to exactly one series.
 *
 * <p>One table per thread (each event loop has its own; no locks), of {@code ingest.series-cache-entries} entries,
 * {@value #WAYS}-way set-associative: a series whose set is full replaces the one of its set used least recently.
 * Agents resend their series in the same order every interval, and a set holding more series than it has ways then
 * misses every one of them every time, so sets must rarely overflow before the table is full: with 8,192 entries, of
 * 4,000 series sent again in turn two ways missed a quarter (a simulation with random hashes; 6,000: 43 %), sixteen
 * miss under 1 % ({@code SeriesCacheTest}; 6,000: 14 %). Size the table at twice the series a thread sees. Lookups are counted per thread and summed in
 * {@code sluice_ingest_series_cache_total{format,result}}.
 */
public final class SeriesCache<V> {

    /** Longest key kept: a series sent as more bytes is decoded every time (keys are copied into the cache). */
    public static final int MAX_KEY_BYTES = 4096;
    private static final XXHash64 XXH64 = XXHashFactory.fastestJavaInstance().hash64();

    /** Entries per set, at most: a lookup compares this many hashes at most. */
    static final int WAYS = 16;

    /** Sets per table, a power of two; 0 when the cache is off. */
    private final int sets;
    /** Entries per set: {@link #WAYS}, or fewer in a table smaller than that. */
    private final int ways;
    private final List<Table<V>> tables = new CopyOnWriteArrayList<>();
    private final FastThreadLocal<Table<V>> local = new FastThreadLocal<>() {
        @Override
        protected Table<V> initialValue() {
            Table<V> t = new Table<>(sets * ways);
            tables.add(t);
            return t;
        }

        @Override
        protected void onRemoval(Table<V> t) {
            tables.remove(t);
        }
    };

    /** @param entries most series kept per thread, rounded up to a power of two; 0 turns the cache off */
    public SeriesCache(int entries) {
        int rounded = entries <= 2 ? 2 : Integer.highestOneBit(entries - 1) << 1;
        this.ways = Math.min(WAYS, rounded);
        this.sets = entries <= 0 ? 0 : rounded / ways;
    }

    /** Whether series are kept at all ({@code ingest.series-cache-entries} > 0). */
    public boolean enabled() {
        return sets > 0;
    }

    /** Entries per thread (0: off). */
    int capacity() {
        return sets * ways;
    }

    /** Whether a key of {@code length} bytes may be kept: the cache is on, and it is at most {@link #MAX_KEY_BYTES}. */
    public boolean keeps(long length) {
        return sets > 0 && length <= MAX_KEY_BYTES;
    }

    /** The hash of a key, for {@link #get} and {@link #put}. */
    public static long hash(byte[] key, int offset, int length) {
        return XXH64.hash(key, offset, length, 0L);
    }

    /** What this thread kept under these key bytes (of this {@code hash}), or null. */
    public V get(byte[] key, int offset, int length, long hash) {
        if (!keeps(length)) {
            return null;
        }
        Table<V> t = local.get();
        int first = ((int) hash & (sets - 1)) * ways;
        for (int j = 0; j < ways; j++) {
            if (t.matches(first + j, key, offset, length, hash)) {
                t.hits++;
                t.used[first + j] = ++t.clock; // now the most recently used of its set
                return t.values[first + j];
            }
        }
        t.misses++;
        return null;
    }

    /**
     * Keeps {@code value} under a copy of these key bytes as the most recently used of its set, dropping the least
     * recently used if the set is full. For a key {@link #get} just missed on this thread.
     */
    public void put(byte[] key, int offset, int length, long hash, V value) {
        if (!keeps(length)) {
            return;
        }
        Table<V> t = local.get();
        int first = ((int) hash & (sets - 1)) * ways;
        int slot = first; // the least recently used of the set (never used: 0) is written over
        for (int j = 1; j < ways; j++) {
            if (t.used[first + j] < t.used[slot]) {
                slot = first + j;
            }
        }
        t.hashes[slot] = hash;
        t.keys[slot] = Arrays.copyOfRange(key, offset, offset + length);
        t.values[slot] = value;
        t.used[slot] = ++t.clock;
    }

    /** Counts this cache's lookups in {@code sluice_ingest_series_cache_total{format, result="hit"|"miss"}}. */
    public void register(MeterRegistry registry, String format) {
        for (boolean hits : new boolean[] {true, false}) {
            FunctionCounter.builder("sluice_ingest_series_cache", this, c -> c.sum(hits))
                    .description("Series an HTTP ingest decoder found by their bytes among those it built lately (hit) "
                            + "or decoded anew (miss); ingest.series-cache-entries sizes it")
                    .tags("format", format, "result", hits ? "hit" : "miss").register(registry);
        }
    }

    /** Hits or misses over every thread's table (each read racily: a count, not a synchronisation point). */
    double sum(boolean hits) {
        long n = 0;
        for (Table<V> t : tables) {
            n += hits ? t.hits : t.misses;
        }
        return n;
    }

    /** One thread's entries: set {@code s} is slots {@code s * ways} on. */
    private static final class Table<V> {
        final long[] hashes;
        final byte[][] keys;
        final V[] values;
        /** When each slot was last used, by {@link #clock}; 0: never. */
        final long[] used;
        /** Counts this table's uses (gets that hit, puts). */
        long clock;
        long hits;
        long misses;

        @SuppressWarnings("unchecked")
        Table(int entries) {
            hashes = new long[entries];
            keys = new byte[entries][];
            values = (V[]) new Object[entries];
            used = new long[entries];
        }

        boolean matches(int slot, byte[] key, int offset, int length, long hash) {
            if (hashes[slot] != hash) {
                return false;
            }
            byte[] k = keys[slot];
            return k != null && Arrays.equals(k, 0, k.length, key, offset, offset + length);
        }
    }
}
