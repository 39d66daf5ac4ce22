package io.sluice.storage.query;

import java.util.List;
import java.util.Map;

/** A query's answer: one entry per series (or group), with points in time order, and the resolution used. */
public record QueryResult(SeriesQuery query, List<ResultSeries> series) {

    /** Labels and points; {@code timestamps[i]} (epoch ms, bucket start) goes with {@code values[i]}. */
    public record ResultSeries(Map<String, String> labels, long[] timestamps, double[] values) {
    }

    /** A rough size in bytes, to weigh cache entries. */
    public long weight() {
        long w = 64;
        for (ResultSeries s : series) {
            w += 48 + 16L * s.timestamps().length;
            for (Map.Entry<String, String> e : s.labels().entrySet()) {
                w += 40 + 2L * (e.getKey().length() + e.getValue().length());
            }
        }
        return w;
    }
}
