package io.sluice.storage.query;

import io.sluice.config.QueryConfig;
import io.sluice.config.WriterConfig;
import io.sluice.storage.chunks.Summary;
import reactor.core.publisher.Mono;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Plans and runs time-series queries: picks the resolution, aligns the range to the step, enforces the
 * {@code query.*} limits, reads per-series partials and merges them per group, so that an average over
 * rollups or across series is always sum / count.
 */
public final class QueryEngine {

    private final QueryRepository repository;
    private final QueryConfig limits;
    private final WriterConfig retention;
    private final Clock clock;

    public QueryEngine(QueryRepository repository, QueryConfig limits, WriterConfig retention, Clock clock) {
        this.repository = repository;
        this.limits = limits;
        this.retention = retention;
        this.clock = clock;
    }

    /**
     * Normalises a request into a {@link SeriesQuery}: the finest resolution that the step allows and that
     * still has data for {@code from} (rollups serve ranges whose raw data is past retention), a step that
     * is a whole multiple of it, and {@code from}/{@code to} aligned to the step.
     *
     * @throws QueryLimitException when the range or the number of points is over its limit
     */
    public SeriesQuery plan(String tenant, String metric, List<Matcher> matchers, Instant from, Instant to,
                            Duration step, Aggregation aggregation, List<String> groupBy) {
        if (Duration.between(from, to).compareTo(limits.maxRange()) > 0) {
            throw new QueryLimitException("range_too_long", "the range " + Duration.between(from, to)
                    + " is longer than query.max-range (" + limits.maxRange() + ")");
        }
        Instant now = clock.instant();
        Resolution resolution = Resolution.forStep(step);
        if (resolution == Resolution.RAW && from.isBefore(now.minus(retention.retentionRaw()))) {
            resolution = Resolution.MINUTE;
        }
        if (resolution == Resolution.MINUTE && from.isBefore(now.minus(retention.retentionRollup1m()))) {
            resolution = Resolution.HOUR;
        }
        long stepMs = step.toMillis();
        long unit = resolution.size().toMillis();
        if (unit > 0 && stepMs % unit != 0) {
            stepMs = (stepMs / unit + 1) * unit;
        }
        if (stepMs < unit) {
            stepMs = unit;
        }
        long fromMs = Math.floorDiv(from.toEpochMilli(), stepMs) * stepMs;
        long toMs = -Math.floorDiv(-to.toEpochMilli(), stepMs) * stepMs;
        if (toMs == fromMs) {
            toMs += stepMs;
        }
        List<Matcher> sortedMatchers = new ArrayList<>(matchers);
        sortedMatchers.sort(null);
        List<String> sortedGroupBy = groupBy.stream().distinct().sorted().toList();
        SeriesQuery query = new SeriesQuery(tenant, metric, sortedMatchers, Instant.ofEpochMilli(fromMs),
                Instant.ofEpochMilli(toMs), Duration.ofMillis(stepMs), aggregation, sortedGroupBy, resolution);
        if (query.pointsPerSeries() > limits.maxPointsPerSeries()) {
            throw new QueryLimitException("too_many_points", "the query would return " + query.pointsPerSeries()
                    + " points per series, more than query.max-points-per-series (" + limits.maxPointsPerSeries()
                    + "); use a larger step or a shorter range");
        }
        return query;
    }

    /** Runs a planned query, within the repository's deadline as a whole. */
    public Mono<QueryResult> run(SeriesQuery query) {
        return repository.bounded("query.run", runUnbounded(query));
    }

    private Mono<QueryResult> runUnbounded(SeriesQuery query) {
        return repository.findSeries(query.tenant(), query.metric(), query.matchers(), limits.maxSeries() + 1)
                .flatMap(series -> {
                    if (series.size() > limits.maxSeries()) {
                        return Mono.error(new QueryLimitException("too_many_series", "the query matches more than "
                                + limits.maxSeries() + " series (query.max-series); add matchers"));
                    }
                    if (series.isEmpty()) {
                        return Mono.just(new QueryResult(query, List.of()));
                    }
                    return repository.partials(series.stream().map(SeriesInfo::id).toList(), query.resolution(),
                                    query.from(), query.to(), query.step())
                            .map(partials -> merge(query, series, partials));
                });
    }

    private static QueryResult merge(SeriesQuery query, List<SeriesInfo> series,
                                     List<QueryRepository.Partial> partials) {
        Map<Long, Map<String, String>> groupOf = new HashMap<>();
        for (SeriesInfo s : series) {
            Map<String, String> key;
            if (query.groupBy().isEmpty()) {
                key = s.labels();
            } else {
                key = new LinkedHashMap<>();
                for (String label : query.groupBy()) {
                    key.put(label, s.labels().getOrDefault(label, ""));
                }
            }
            groupOf.put(s.id(), key);
        }
        Map<Map<String, String>, TreeMap<Long, Summary>> groups = new LinkedHashMap<>();
        for (QueryRepository.Partial p : partials) {
            groups.computeIfAbsent(groupOf.get(p.seriesId()), k -> new TreeMap<>())
                    .computeIfAbsent(p.bucketMs(), b -> new Summary())
                    .add(p.min(), p.max(), p.sum(), p.count());
        }
        List<QueryResult.ResultSeries> out = new ArrayList<>(groups.size());
        groups.forEach((labels, buckets) -> {
            long[] ts = new long[buckets.size()];
            double[] values = new double[buckets.size()];
            int i = 0;
            for (Map.Entry<Long, Summary> b : buckets.entrySet()) {
                ts[i] = b.getKey();
                values[i] = query.aggregation().apply(b.getValue());
                i++;
            }
            out.add(new QueryResult.ResultSeries(Map.copyOf(labels), ts, values));
        });
        out.sort((a, b) -> a.labels().toString().compareTo(b.labels().toString()));
        return new QueryResult(query, out);
    }
}
