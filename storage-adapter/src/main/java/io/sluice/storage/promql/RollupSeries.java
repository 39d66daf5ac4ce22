package io.sluice.storage.promql;

import io.sluice.storage.chunks.CounterRun;
import io.sluice.storage.chunks.Summary;
import io.sluice.storage.query.RollupRead;
import io.sluice.storage.query.SeriesRollups;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SortedMap;

/**
 * One series' rollup buckets, as a {@link SampleSource} reads them for a {@link RollupRead}: its labels (the metric
 * name under {@code __name__}), the rows, and their bucket starts as an array of exactly their number.
 */
public record RollupSeries(SortedMap<String, String> labels, SeriesRollups rows, long[] buckets) {

    public RollupSeries {
        Objects.requireNonNull(labels);
        if (buckets.length != rows.size()) {
            throw new IllegalArgumentException(buckets.length + " buckets but " + rows.size() + " rows");
        }
    }

    public RollupSeries(SortedMap<String, String> labels, SeriesRollups rows) {
        this(labels, rows, Arrays.copyOf(rows.buckets(), rows.size()));
    }

    /**
     * The buckets the writer would have made of these raw samples, as the read wants them: what a source that keeps
     * no rollups answers (and what tests compare the stored rollups with). Series without such a bucket are left out.
     */
    public static List<RollupSeries> fromSamples(List<Series> series, RollupRead read) {
        long res = read.resolutionMs();
        List<RollupSeries> out = new ArrayList<>();
        for (Series s : series) {
            SeriesRollups rows = new SeriesRollups(0);
            long[] ts = s.timestamps();
            int i = 0;
            while (i < ts.length) {
                long bucket = Math.floorDiv(ts[i], res) * res;
                Summary summary = new Summary();
                CounterRun run = new CounterRun();
                for (; i < ts.length && ts[i] < bucket + res; i++) {
                    summary.add(s.values()[i]);
                    run.add(ts[i], s.values()[i]);
                }
                if (read.wanted(bucket)) {
                    rows.add(bucket, summary, run);
                }
            }
            if (rows.size() > 0) {
                out.add(new RollupSeries(s.labels(), rows));
            }
        }
        return out;
    }
}
