package io.sluice.storage.promql;

import io.sluice.storage.query.Matcher;
import reactor.core.publisher.Mono;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Fixed series in memory, selected as {@link SampleSource} specifies (both ends of the range included). */
final class InMemorySampleSource implements SampleSource {

    private final List<Series> series = new ArrayList<>();
    final AtomicInteger selects = new AtomicInteger();

    InMemorySampleSource add(Series s) {
        series.add(s);
        return this;
    }

    void clear() {
        series.clear();
    }

    @Override
    public Mono<List<Series>> select(String tenant, List<Matcher> matchers, long fromMs, long toMs) {
        selects.incrementAndGet();
        List<Series> out = new ArrayList<>();
        for (Series s : series) {
            boolean match = true;
            for (Matcher m : matchers) {
                match &= PromqlParser.matches(m, s.labels().getOrDefault(m.label(), ""));
            }
            if (!match) {
                continue;
            }
            long[] ts = s.timestamps();
            int from = 0;
            while (from < ts.length && ts[from] < fromMs) {
                from++;
            }
            int to = from;
            while (to < ts.length && ts[to] <= toMs) {
                to++;
            }
            if (to > from) {
                out.add(new Series(s.labels(), Arrays.copyOfRange(ts, from, to),
                        Arrays.copyOfRange(s.values(), from, to)));
            }
        }
        return Mono.just(out);
    }
}
