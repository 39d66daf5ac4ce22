package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

class SeriesCacheTest {

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String get(SeriesCache<String> cache, String key) {
        byte[] k = bytes(key);
        return cache.get(k, 0, k.length, SeriesCache.hash(k, 0, k.length));
    }

    private static void put(SeriesCache<String> cache, String key, String value) {
        byte[] k = bytes(key);
        cache.put(k, 0, k.length, SeriesCache.hash(k, 0, k.length), value);
    }

    /** The lookups a decoder registered in {@code registry} counted with this {@code result} ({@code hit}, {@code miss}). */
    static long lookups(io.micrometer.core.instrument.MeterRegistry registry, String result) {
        return (long) registry.get("sluice_ingest_series_cache").tags("result", result).functionCounter().count();
    }

    @Test
    void findsWhatWasKeptByItsExactBytesOnly() {
        SeriesCache<String> cache = new SeriesCache<>(64);
        byte[] body = bytes("xx{\"a\":\"1\"}yy");
        long hash = SeriesCache.hash(body, 2, 9);
        cache.put(body, 2, 9, hash, "series a=1");
        body[3] = 'b'; // the cache copied the key; what the caller does with its bytes afterwards changes nothing
        assertThat(get(cache, "{\"a\":\"1\"}")).isEqualTo("series a=1");
        assertThat(get(cache, "{\"a\":\"2\"}")).isNull();
        assertThat(get(cache, "{\"a\":\"1\"} ")).isNull();
        assertThat(get(cache, "{\"a\":\"")).isNull();
    }

    @Test
    void aFullSetDropsTheLessRecentlyUsedOfItsTwo() {
        SeriesCache<String> cache = new SeriesCache<>(2); // one set of two: every key falls in it
        assertThat(cache.capacity()).isEqualTo(2);
        put(cache, "a", "A");
        put(cache, "b", "B");
        assertThat(get(cache, "a")).isEqualTo("A"); // a is now the more recently used
        put(cache, "c", "C");                       // replaces b
        assertThat(get(cache, "b")).isNull();
        assertThat(get(cache, "a")).isEqualTo("A");
        assertThat(get(cache, "c")).isEqualTo("C");
    }

    @Test
    void aFullSetDropsItsLeastRecentlyUsed() {
        SeriesCache<String> cache = new SeriesCache<>(16); // one set of sixteen
        assertThat(cache.capacity()).isEqualTo(SeriesCache.WAYS).isEqualTo(16);
        for (int i = 0; i < 16; i++) {
            put(cache, "k" + i, "K" + i);
        }
        assertThat(get(cache, "k0")).isEqualTo("K0"); // k1 is now the least recently used
        put(cache, "k16", "K16");
        assertThat(get(cache, "k1")).isNull();
        assertThat(get(cache, "k0")).isEqualTo("K0");
        for (int i = 2; i <= 16; i++) {
            assertThat(get(cache, "k" + i)).isEqualTo("K" + i);
        }
    }

    /**
     * An agent's series come round again in the same order every interval, the order in which a set that overflows
     * loses every one of its series each time. With sixteen ways hardly a set overflows while the series fill half the
     * table (with two ways, a quarter of them missed every time).
     */
    @Test
    void seriesSentAgainInTurnAreFoundWhileTheyFillHalfTheTable() {
        assertThat(missesOfTheSecondRound(new SeriesCache<>(8192), 4_000)).isLessThan(4_000 / 100);
    }

    private static int missesOfTheSecondRound(SeriesCache<String> cache, int series) {
        int misses = 0;
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < series; i++) {
                String key = "{\"label0\":\"s" + i + "\",\"label1\":\"v" + i % 4 + "\"}";
                if (get(cache, key) == null) {
                    misses += round;
                    put(cache, key, "series " + i);
                }
            }
        }
        return misses;
    }

    @Test
    void aKeyLongerThanTheLimitIsNotKept() {
        SeriesCache<String> cache = new SeriesCache<>(64);
        String longest = "k".repeat(SeriesCache.MAX_KEY_BYTES);
        put(cache, longest, "kept");
        put(cache, longest + "k", "not kept");
        assertThat(get(cache, longest)).isEqualTo("kept");
        assertThat(get(cache, longest + "k")).isNull();
        assertThat(cache.keeps(SeriesCache.MAX_KEY_BYTES + 1)).isFalse();
    }

    @Test
    void sizesRoundUpToAPowerOfTwoAndZeroTurnsItOff() {
        assertThat(new SeriesCache<String>(8192).capacity()).isEqualTo(8192);
        assertThat(new SeriesCache<String>(1000).capacity()).isEqualTo(1024);
        SeriesCache<String> off = new SeriesCache<>(0);
        assertThat(off.enabled()).isFalse();
        put(off, "a", "A");
        assertThat(get(off, "a")).isNull();
    }

    @Test
    void eachThreadHasItsOwnTableAndTheCountsSumThemAll() throws Exception {
        SeriesCache<String> cache = new SeriesCache<>(64);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        cache.register(registry, "json");
        put(cache, "a", "A");
        assertThat(get(cache, "a")).isEqualTo("A");
        assertThat(CompletableFuture.supplyAsync(() -> get(cache, "a")).get()).as("another thread's table").isNull();
        assertThat(registry.get("sluice_ingest_series_cache").tags("format", "json").meters()).hasSize(2);
        assertThat(lookups(registry, "hit")).isEqualTo(1);
        assertThat(lookups(registry, "miss")).isEqualTo(1);
    }
}
