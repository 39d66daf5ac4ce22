package io.sluice.storage.query;

/**
 * Which rollup buckets a range query's windows need: at times {@code from + range + k * step} (k = 0, 1, ...) up to
 * {@code to}, each window {@code [t - range, t)} is whole buckets of the resolution, and the bucket starting at
 * {@code t} is read too, so that a sample on a window's edge can be seen ({@code first_ms} equal to its bucket's
 * start). All of {@code from}, {@code to}, {@code step} and {@code range} are whole buckets.
 *
 * @param fromMs  the first window's start
 * @param toMs    the last window's end
 * @param stepMs  from one window to the next
 * @param rangeMs a window's length
 */
public record RollupRead(Resolution resolution, long fromMs, long toMs, long stepMs, long rangeMs) {

    public RollupRead {
        long res = resolution.size().toMillis();
        if (res == 0 || fromMs % res != 0 || toMs % res != 0 || stepMs <= 0 || stepMs % res != 0 || rangeMs <= 0
                || rangeMs % res != 0 || toMs < fromMs) {
            throw new IllegalArgumentException("not whole " + resolution.wireName() + " buckets: " + fromMs + ".."
                    + toMs + " step " + stepMs + " range " + rangeMs);
        }
    }

    public long resolutionMs() {
        return resolution.size().toMillis();
    }

    /** Whether a bucket (its start) is one some window covers, or starts at some window's end. */
    public boolean wanted(long bucketMs) {
        return bucketMs >= fromMs && bucketMs <= toMs && Math.floorMod(bucketMs - fromMs, stepMs) <= rangeMs;
    }
}
