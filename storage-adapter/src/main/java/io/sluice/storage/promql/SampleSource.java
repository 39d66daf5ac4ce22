package io.sluice.storage.promql;

import io.sluice.storage.query.Matcher;
import io.sluice.storage.query.RollupRead;
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
     * The tenant's series that match every matcher, each with the rollup buckets the read wants (series without one
     * may be left out), with {@link #select}'s limit. This default makes them of the raw samples, as the writer
     * would; a source that keeps rollups reads them.
     */
    default Mono<List<RollupSeries>> selectRollups(String tenant, List<Matcher> matchers, RollupRead read) {
        return select(tenant, matchers, read.fromMs(), read.toMs() + read.resolutionMs() - 1)
                .map(series -> RollupSeries.fromSamples(series, read));
    }
}
