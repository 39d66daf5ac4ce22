package io.sluice.storage.writer;

import io.sluice.storage.testing.MutableClock;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

class KnownSeriesTest {

    private static final long HOUR = 3_600_000L;

    private static MutableClock clock(long millis) {
        return new MutableClock(Instant.ofEpochMilli(millis));
    }

    @Test
    void rememberedIdsAreKnownUntilTheHourTurns() {
        MutableClock clock = clock(1000 * HOUR + 10);
        KnownSeries known = new KnownSeries(1024, clock);
        assertThat(known.contains(42)).isFalse();
        known.rememberAll(new long[] {42, -7, 99}, 2); // only the first two count
        assertThat(known.contains(42)).isTrue();
        assertThat(known.contains(-7)).isTrue();
        assertThat(known.contains(99)).isFalse();
        clock.set(Instant.ofEpochMilli(1001 * HOUR - 1));
        assertThat(known.contains(42)).as("still the same hour").isTrue();
        clock.set(Instant.ofEpochMilli(1001 * HOUR));
        assertThat(known.contains(42)).as("a new hour: upserted again, so last_seen moves").isFalse();
        assertThat(known.contains(-7)).isFalse();
    }

    @Test
    void aSlotHoldsTheLastIdRememberedThereSoForgettingIsTheOnlyError() {
        KnownSeries known = new KnownSeries(4, clock(5 * HOUR));
        long[] ids = new long[64];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 1_000_003L * (i + 1);
        }
        known.rememberAll(ids, ids.length);
        int held = 0;
        for (long id : ids) {
            held += known.contains(id) ? 1 : 0;
        }
        assertThat(held).as("4 slots hold at most 4 of 64 ids").isBetween(1, 4);
        assertThat(known.contains(123_456_789L)).as("an id never remembered is never known").isFalse();
    }

    @Test
    void twoIdsOfOnePairAreBothKeptAThirdReplacesOneOfThem() {
        KnownSeries known = new KnownSeries(2, clock(7 * HOUR)); // one pair: every id lands in it
        known.rememberAll(new long[] {11, 22}, 2);
        assertThat(known.contains(11)).isTrue();
        assertThat(known.contains(22)).isTrue();
        known.rememberAll(new long[] {22, 11, 22}, 3); // remembering known ids again moves nothing
        assertThat(known.contains(11)).isTrue();
        assertThat(known.contains(22)).isTrue();
        known.rememberAll(new long[] {33}, 1);
        assertThat(known.contains(33)).isTrue();
        assertThat((known.contains(11) ? 1 : 0) + (known.contains(22) ? 1 : 0)).as("one of the two made room").isEqualTo(1);
    }

    @Test
    void zeroCapacityAndIdZeroAreNeverKnown() {
        for (int capacity : new int[] {0, 1}) {
            KnownSeries none = new KnownSeries(capacity, clock(0));
            none.rememberAll(new long[] {1, 2}, 2);
            assertThat(none.contains(1)).as("capacity " + capacity).isFalse();
        }
        KnownSeries some = new KnownSeries(16, clock(0));
        some.rememberAll(new long[] {0}, 1);
        assertThat(some.contains(0)).as("0 marks an empty slot").isFalse();
    }
}
