package io.sluice.storage.promql;

import io.sluice.storage.query.Matcher;
import io.sluice.storage.query.RollupRead;
import io.sluice.storage.query.SampleBudget;
import reactor.core.publisher.Mono;

import java.util.List;

/** Where the PromQL engine reads raw samples from: stored series in production, fixed data in some tests. */
public interface SampleSource {

    /**
     * The tenant's series that match every matcher (the label {@code __name__} is the metric name), each with its
     * samples in {@code [fromMs, toMs]} (both ends included), staleness markers kept. A series with no sample in the
     * range may be left out. Fails with {@link io.sluice.storage.query.QueryLimitException} ({@code too_many_series})
     * when more series match than {@code query.max-series}.
     */
    Mono<List<Series>> select(String tenant, List<Matcher> matchers, long fromMs, long toMs);

    /**
     * As {@link #select(String, List, long, long)}, taking the samples read from the query's budget: fails with
     * {@link io.sluice.storage.query.QueryLimitException} ({@code too_many_samples}) when they pass it. This default
     * takes them once selected; a source that reads from storage takes them as it reads, and stops there.
     */
    default Mono<List<Series>> select(String tenant, List<Matcher> matchers, long fromMs, long toMs,
                                      SampleBudget budget) {
        return select(tenant, matchers, fromMs, toMs).doOnNext(series -> {
            long samples = 0;
            for (Series s : series) {
                samples += s.timestamps().length;
            }
            budget.take(samples);
        });
    }

    /**
     * The tenant's series that match every matcher, each with the rollup buckets the read wants (series without one
     * may be left out), with {@link #select}'s limits, each bucket taken from the budget. This default makes them of
     * the raw samples, as the writer would (the samples read are what it takes); a source that keeps rollups reads
     * them.
     */
    default Mono<List<RollupSeries>> selectRollups(String tenant, List<Matcher> matchers, RollupRead read,
                                                   SampleBudget budget) {
        return select(tenant, matchers, read.fromMs(), read.toMs() + read.resolutionMs() - 1, budget)
                .map(series -> RollupSeries.fromSamples(series, read));
    }
}
