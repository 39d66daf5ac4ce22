package io.sluice.config;

import java.time.Duration;

/** The storage writer's batching, its consumer group membership, its chunk compaction, its 1-hour rollup folds and the retention its maintenance task enforces. */
public record WriterConfig(int maxBatchRecords, long maxBatchBytes, Duration maxBatchWait, Duration retentionRaw,
                           Duration retentionRollup1m, Duration retentionRollup1h, int partitionsAhead,
                           int chunkMaxSamples, Duration compactionInterval, Duration compactionDelay,
                           Duration compactionLookback, int compactionBatch,
                           int compactionTransactionSamples, Duration transactionTimeout,
                           Duration sessionTimeout, int knownSeries, Duration rollupFoldDelay) {
}
