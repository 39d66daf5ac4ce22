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
    void aFullTableForgetsAllAndKeepsTheNewestAndZeroIsNeverHeld() {
        PartitionHeads heads = new PartitionHeads(4);
        heads.committed(1, 1, ids(1, 5), heads(1, 5));
        assertThat(heads.head(4)).isEqualTo(40);
        heads.committed(2, 1, new Long[] {9L, 0L}, new long[] {90, 1});
        assertThat(heads.head(9)).isEqualTo(90);
        assertThat(heads.head(1)).as("forgotten when the fifth came").isEqualTo(PartitionHeads.UNKNOWN);
        assertThat(heads.head(0)).isEqualTo(PartitionHeads.UNKNOWN);
    }

    @Test
    void capacityZeroHoldsNothing() {
        PartitionHeads heads = new PartitionHeads(0);
        heads.committed(1, 1, ids(1, 3), heads(1, 3));
        heads.check(1, 1);
        assertThat(heads.head(1)).isEqualTo(PartitionHeads.UNKNOWN);
    }
}
