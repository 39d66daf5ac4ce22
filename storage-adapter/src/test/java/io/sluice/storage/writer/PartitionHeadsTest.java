package io.sluice.storage.writer;

import org.junit.jupiter.api.Test;

import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

class PartitionHeadsTest {

    private static Long[] ids(long from, long to) {
        return LongStream.range(from, to).boxed().toArray(Long[]::new);
    }

    private static long[] heads(long from, long to) {
        return LongStream.range(from, to).map(id -> id * 10).toArray();
    }

    @Test
    void holdsWhatACommitLeftWhileTheNextTransactionFindsItsOffsetAndEpoch() {
        PartitionHeads heads = new PartitionHeads(10_000);
        heads.committed(5, 1, ids(1, 5_001), heads(1, 5_001)); // past the first table: it grows
        heads.check(5, 1);
        assertThat(heads.head(1)).isEqualTo(10);
        assertThat(heads.head(5_000)).isEqualTo(50_000);
        assertThat(heads.head(5_001)).isEqualTo(PartitionHeads.UNKNOWN);
        heads.committed(9, 1, new Long[] {1L}, new long[] {77});
        heads.check(9, 1);
        assertThat(heads.head(1)).isEqualTo(77);
        assertThat(heads.head(2)).isEqualTo(20);
    }

    @Test
    void forgetsEverythingWhenTheOffsetOrTheEpochIsNotWhatItsLastCommitLeft() {
        PartitionHeads heads = new PartitionHeads(100);
        heads.committed(5, 1, ids(1, 3), heads(1, 3));
        heads.check(6, 1); // another writer committed the partition meanwhile
        assertThat(heads.head(1)).isEqualTo(PartitionHeads.UNKNOWN);

        heads.committed(7, 1, ids(1, 3), heads(1, 3));
        heads.check(7, 2); // the placement's epoch moved
        assertThat(heads.head(2)).isEqualTo(PartitionHeads.UNKNOWN);

        heads.committed(8, 2, ids(1, 3), heads(1, 3));
        heads.check(8, 2);
        assertThat(heads.head(2)).isEqualTo(20);
    }

    @Test
    void aFullTableForgetsSeriesThatStoppedAndOtherwiseDoesNotHoldTheNewcomer() {
        long minute = 60_000;
        PartitionHeads heads = new PartitionHeads(8);
        heads.committed(1, 1, ids(1, 5), new long[] {0, 0, 0, 0}); // series 1..4 stop at minute 0
        heads.committed(2, 1, ids(5, 9), new long[] {9 * minute, 9 * minute, 9 * minute, 9 * minute});
        assertThat(heads.size()).isEqualTo(8);
        assertThat(heads.committed(3, 1, new Long[] {9L, 0L}, new long[] {9 * minute, 1}))
                .as("nothing lies more than ten minutes behind: the newcomer is not held").isZero();
        assertThat(heads.head(9)).isEqualTo(PartitionHeads.UNKNOWN);
        assertThat(heads.head(1)).isZero();

        assertThat(heads.committed(4, 1, new Long[] {5L, 9L}, new long[] {11 * minute, 11 * minute}))
                .as("series 1..4 lie eleven minutes behind series 5").isEqualTo(4);
        assertThat(heads.head(9)).isEqualTo(11 * minute);
        assertThat(heads.head(5)).isEqualTo(11 * minute);
        assertThat(heads.head(6)).as("nine minutes: within the ten").isEqualTo(9 * minute);
        assertThat(heads.head(1)).isEqualTo(PartitionHeads.UNKNOWN);
        assertThat(heads.size()).isEqualTo(5);
        assertThat(heads.head(0)).isEqualTo(PartitionHeads.UNKNOWN);
    }

    @Test
    void aLookForStoppedSeriesForgetsThoseHalfTheWayBehindSoThatTheNextOneIsMinutesAway() {
        long minute = 60_000;
        PartitionHeads heads = new PartitionHeads(4);
        heads.committed(1, 1, ids(1, 5), new long[] {0, 4 * minute, 6 * minute, 9 * minute});
        assertThat(heads.committed(2, 1, new Long[] {5L}, new long[] {11 * minute}))
                .as("series 1 (11 min) and 2 (7 min behind) go; 3 (5 min) stays").isEqualTo(2);
        assertThat(heads.head(3)).isEqualTo(6 * minute);
        assertThat(heads.head(5)).isEqualTo(11 * minute);
        heads.committed(3, 1, new Long[] {6L}, new long[] {12 * minute}); // room left by the look
        assertThat(heads.committed(4, 1, new Long[] {7L}, new long[] {14 * minute}))
                .as("full, and none lies ten minutes behind: no look, the newcomer is not held").isZero();
        assertThat(heads.head(7)).isEqualTo(PartitionHeads.UNKNOWN);
        assertThat(heads.head(3)).isEqualTo(6 * minute);
    }

    @Test
    void moreLiveSeriesThanItHoldsKeepsTheSameOnesInsteadOfForgettingThoseAboutToCome() {
        // 1,200 series written in turn, 300 a batch, 15 s apart, into room for 1,000
        PartitionHeads heads = new PartitionHeads(1_000);
        long found = 0;
        long asked = 0;
        for (int batch = 0; batch < 40; batch++) {
            long from = 1 + (batch % 4) * 300L;
            if (batch >= 4) {
                for (long id = from; id < from + 300; id++) {
                    asked++;
                    found += heads.head(id) == PartitionHeads.UNKNOWN ? 0 : 1;
                }
            }
            long ts = batch * 15_000L;
            assertThat(heads.committed(batch + 1, 1, ids(from, from + 300),
                    LongStream.range(from, from + 300).map(id -> ts).toArray())).as("nothing stopped").isZero();
        }
        assertThat(heads.size()).isEqualTo(1_000);
        assertThat(found).as("heads found of %d asked", asked).isEqualTo(asked * 1_000 / 1_200);
    }

    @Test
    void capacityZeroHoldsNothing() {
        PartitionHeads heads = new PartitionHeads(0);
        heads.committed(1, 1, ids(1, 3), heads(1, 3));
        heads.check(1, 1);
        assertThat(heads.head(1)).isEqualTo(PartitionHeads.UNKNOWN);
    }
}
