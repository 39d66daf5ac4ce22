package io.sluice.gateway.ingest;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class ActiveSeriesTest {

    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    private final ActiveSeries active = new ActiveSeries(1, nanos::get);

    private boolean admit(long seriesId) {
        return active.of("acme").admit(seriesId);
    }

    private void advance(Duration d) {
        nanos.addAndGet(d.toNanos());
    }

    @Test
    void aSeriesAdmittedAgainWithinTheMinuteIsNotLookedUpSoItsUseIsRecordedOnceAMinute() {
        assertThat(admit(1)).isTrue();
        assertThat(admit(2)).as("over the cap of 1").isFalse();
        advance(Duration.ofSeconds(30));
        assertThat(admit(1)).as("remembered by this thread").isTrue();
        // its use 30 s in was not recorded: it expires an hour after the first
        advance(ActiveSeries.ACTIVE_FOR.minusSeconds(30).plusSeconds(1));
        assertThat(admit(2)).as("series 1 expired, so 2 fits").isTrue();
    }

    @Test
    void aSeriesSentEveryMinuteStaysActiveForHours() {
        for (Duration t = Duration.ZERO; t.compareTo(Duration.ofHours(3)) < 0; t = t.plus(ActiveSeries.TOUCH_EVERY)) {
            assertThat(admit(1)).as("at %s", t).isTrue();
            assertThat(admit(2)).as("a second series at %s", t).isFalse();
            advance(ActiveSeries.TOUCH_EVERY);
        }
    }

    @Test
    void anotherTenantsSeriesOfTheSameIdIsNotTakenForRemembered() {
        assertThat(admit(7)).isTrue();
        assertThat(active.of("other").admit(8)).isTrue();
        assertThat(active.of("other").admit(7)).as("id 7 is new to this tenant, which is at its cap").isFalse();
    }

    @Test
    void seriesSentInTurnAreAdmittedFromTheMemoNearlyAllWithoutALookup() {
        ActiveSeries many = new ActiveSeries(1_000_000, nanos::get);
        long[] ids = new SplittableRandom(16).longs(4_000).toArray(); // series ids are hashes
        for (long id : ids) {
            assertThat(many.of("acme").admit(id)).isTrue();
        }
        long first = many.lookupsOnThisThread();
        assertThat(first).isEqualTo(ids.length);
        for (int round = 0; round < 3; round++) {
            advance(Duration.ofSeconds(10));
            for (long id : ids) {
                assertThat(many.of("acme").admit(id)).isTrue();
            }
        }
        // direct-mapped over as many entries, a fifth of them shared a slot and were looked up in every round
        assertThat(many.lookupsOnThisThread() - first).as("lookups in three more rounds").isLessThan(3 * 4_000 / 1_000);
    }

    @Test
    void aFullSetGivesUpTheSeriesItAdmittedLongestAgo() {
        ActiveSeries many = new ActiveSeries(1_000_000, nanos::get);
        long[] sameSet = new long[ActiveSeries.WAYS + 1];
        for (int i = 0; i < sameSet.length; i++) {
            sameSet[i] = 5 + (long) i * ActiveSeries.SETS;
            advance(Duration.ofMillis(1));
            many.of("acme").admit(sameSet[i]);
        }
        long before = many.lookupsOnThisThread();
        for (int i = 1; i < sameSet.length; i++) {
            many.of("acme").admit(sameSet[i]);
        }
        assertThat(many.lookupsOnThisThread()).as("the %d admitted last are remembered", ActiveSeries.WAYS)
                .isEqualTo(before);
        many.of("acme").admit(sameSet[0]);
        assertThat(many.lookupsOnThisThread()).as("the first was given up for the last").isEqualTo(before + 1);
    }
}
