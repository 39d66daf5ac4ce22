package io.sluice.storage.chunks;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the chunk decoder the writer (late samples) and the queries use on stored rows: any bytes either decode
 * or are refused with {@link SampleChunks.InvalidChunkException}; nothing else may escape (no other exception, no
 * huge allocation). What decodes with strictly increasing timestamps packs again to a chunk that decodes to the
 * same samples, bit for bit. In a plain build this replays the seeds under {@code SampleChunksFuzzTestInputs/};
 * {@code JAZZER_FUZZ=1} fuzzes.
 */
class SampleChunksFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void decode(byte[] input) {
        List<long[]> samples = new ArrayList<>();
        int n;
        try {
            n = SampleChunks.decode(input, (ts, v) -> samples.add(new long[] {ts, Double.doubleToRawLongBits(v)}));
        } catch (SampleChunks.InvalidChunkException refused) {
            assertThat(refused.getMessage()).isNotBlank();
            return;
        }
        assertThat(samples).hasSize(n);
        assertThat(SampleChunks.count(input)).isEqualTo(n);
        if (n == 0) {
            return;
        }
        long[] ts = new long[n];
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            ts[i] = samples.get(i)[0];
            values[i] = Double.longBitsToDouble(samples.get(i)[1]);
            if (i > 0 && (ts[i] <= ts[i - 1] || ts[i] - ts[i - 1] <= 0)) {
                return; // unordered timestamps (or a gap beyond a long): not something pack takes
            }
        }
        List<long[]> again = new ArrayList<>();
        SampleChunks.decode(SampleChunks.pack(ts, values, 0, n),
                (t, v) -> again.add(new long[] {t, Double.doubleToRawLongBits(v)}));
        assertThat(again).hasSize(n);
        for (int i = 0; i < n; i++) {
            assertThat(again.get(i)).containsExactly(samples.get(i));
        }
    }
}
