package io.sluice.storage.query;

import java.util.concurrent.atomic.AtomicLong;

/**
 * How many samples one PromQL query may still load into memory ({@code query.max-samples}): every read of the query
 * (its selectors run concurrently) and its answer take from the same budget, and the read that would pass it fails
 * with {@link QueryLimitException} {@code too_many_samples}, as soon as it has read that much, so that a query asking
 * for too much stops before its samples fill the heap. Thread-safe.
 */
public final class SampleBudget {

    private final long max;
    private final AtomicLong taken = new AtomicLong();

    public SampleBudget(long max) {
        if (max < 1) {
            throw new IllegalArgumentException("max must be positive: " + max);
        }
        this.max = max;
    }

    /** A budget nothing passes: for readers that bound their reads otherwise. */
    public static SampleBudget unlimited() {
        return new SampleBudget(Long.MAX_VALUE);
    }

    /**
     * Takes {@code samples} more.
     *
     * @throws QueryLimitException {@code too_many_samples} when the query then holds more than the budget
     */
    public void take(long samples) {
        if (samples > 0 && taken.addAndGet(samples) > max) {
            throw new QueryLimitException("too_many_samples", "query processing would load more than " + max
                    + " samples into memory (query.max-samples); narrow the range, select fewer series or use "
                    + "a larger step");
        }
    }

    /** Samples taken so far. */
    public long taken() {
        return taken.get();
    }
}
