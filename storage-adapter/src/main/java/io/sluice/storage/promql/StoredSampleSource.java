package io.sluice.storage.promql;

import io.sluice.storage.query.Matcher;
import io.sluice.storage.query.QueryLimitException;
import io.sluice.storage.query.QueryRepository;
import io.sluice.storage.query.RollupRead;
import io.sluice.storage.query.SampleBudget;
import io.sluice.storage.query.SeriesInfo;
import io.sluice.storage.query.SeriesRollups;
import reactor.core.publisher.Mono;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The stored series as a {@link SampleSource}: finds the tenant's series in PostgreSQL ({@code __name__} matches the
 * metric name) and reads their raw samples from the sample chunks, both in one of the repository's read-only
 * transactions ({@link QueryRepository#select}), within its deadline.
 *
 * <p>Selectors come from the parser, which refuses one that would select every series (Prometheus' "at least one
 * non-empty matcher" rule).
 *
 * <p>Raw samples are kept for {@code retention.raw}: a range older than that reads no samples. Range functions the
 * engine reads from the rollups ({@link PromqlRollups}) come from {@link #selectRollups}.
 */
public final class StoredSampleSource implements SampleSource {

    private final QueryRepository repository;
    private final int maxSeries;

    /** @param maxSeries {@code query.max-series}: most series one selector may match */
    public StoredSampleSource(QueryRepository repository, int maxSeries) {
        this.repository = repository;
        this.maxSeries = maxSeries;
    }

    @Override
    public Mono<List<Series>> select(String tenant, List<Matcher> matchers, long fromMs, long toMs) {
        return select(tenant, matchers, fromMs, toMs, SampleBudget.unlimited());
    }

    /** Takes the samples from the budget as they are read: a selector that passes it stops reading there. */
    @Override
    public Mono<List<Series>> select(String tenant, List<Matcher> matchers, long fromMs, long toMs,
                                     SampleBudget budget) {
        return Mono.defer(() -> repository.select(tenant, matchers, maxSeries + 1, fromMs, toMs, budget)
                .flatMap(selection -> {
                    if (selection.series().size() > maxSeries) {
                        return Mono.error(tooManySeries());
                    }
                    return Mono.just(join(selection.series(), selection.samples()));
                }));
    }

    @Override
    public Mono<List<RollupSeries>> selectRollups(String tenant, List<Matcher> matchers, RollupRead read,
                                                  SampleBudget budget) {
        return Mono.defer(() -> repository.selectRollups(tenant, matchers, maxSeries + 1, read, budget)
                .flatMap(selection -> {
                    if (selection.series().size() > maxSeries) {
                        return Mono.error(tooManySeries());
                    }
                    List<RollupSeries> out = new ArrayList<>(selection.rollups().size());
                    for (SeriesInfo info : selection.series()) {
                        SeriesRollups rows = selection.rollups().get(info.id());
                        if (rows != null) {
                            out.add(new RollupSeries(labels(info), rows));
                        }
                    }
                    return Mono.just(out);
                }));
    }

    private QueryLimitException tooManySeries() {
        return new QueryLimitException("too_many_series", "the selector matches more than " + maxSeries
                + " series (query.max-series); add matchers");
    }

    private static List<Series> join(List<SeriesInfo> series, Map<Long, QueryRepository.SeriesSamples> samples) {
        List<Series> out = new ArrayList<>(samples.size());
        for (SeriesInfo info : series) {
            QueryRepository.SeriesSamples s = samples.get(info.id());
            if (s == null) {
                continue;
            }
            out.add(new Series(labels(info), s.timestamps(), s.values()));
        }
        return out;
    }

    /** A stored series' labels with its metric name under {@code __name__} (when it has one). */
    public static java.util.SortedMap<String, String> labels(SeriesInfo info) {
        TreeMap<String, String> labels = new TreeMap<>(info.labels());
        if (info.name() != null && !info.name().isEmpty()) {
            labels.put(Matcher.NAME, info.name());
        }
        return java.util.Collections.unmodifiableSortedMap(labels);
    }
}
