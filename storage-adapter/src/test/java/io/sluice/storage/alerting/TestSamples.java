package io.sluice.storage.alerting;

import io.sluice.storage.promql.SampleSource;
import io.sluice.storage.promql.Series;
import io.sluice.storage.query.Matcher;
import reactor.core.publisher.Mono;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Series held in memory for the PromQL engine (its own seam, {@link SampleSource}): samples set by tests at explicit
 * times; a metric can be made to fail or never answer, as a PostgreSQL that errs or hangs would.
 */
final class TestSamples implements SampleSource {

    private final Map<SortedMap<String, String>, TreeMap<Long, Double>> series = new ConcurrentHashMap<>();
    private final Map<String, Mono<List<Series>>> broken = new ConcurrentHashMap<>();

    /** Sets {@code metric{labels}} to {@code value} at {@code timeMs}. */
    TestSamples set(String metric, Map<String, String> labels, long timeMs, double value) {
        SortedMap<String, String> key = new TreeMap<>(labels);
        key.put("__name__", metric);
        TreeMap<Long, Double> samples = series.computeIfAbsent(key, k -> new TreeMap<>());
        synchronized (samples) {
            samples.put(timeMs, value);
        }
        return this;
    }

    /** Forgets every series of {@code metric}. */
    void remove(String metric) {
        series.keySet().removeIf(k -> k.get("__name__").equals(metric));
    }

    /** Every read of {@code metric} answers {@code answer} (an error, or never) until {@link #repair}. */
    void breakMetric(String metric, Mono<List<Series>> answer) {
        broken.put(metric, answer);
    }

    void repair(String metric) {
        broken.remove(metric);
    }

    @Override
    public Mono<List<Series>> select(String tenant, List<Matcher> matchers, long fromMs, long toMs) {
        for (Matcher m : matchers) {
            if (m.label().equals("__name__") && m.op() == Matcher.Op.EQ && broken.containsKey(m.value())) {
                return broken.get(m.value());
            }
        }
        List<Series> out = new ArrayList<>();
        for (Map.Entry<SortedMap<String, String>, TreeMap<Long, Double>> s : series.entrySet()) {
            if (!matchers.stream().allMatch(m -> matches(m, s.getKey().getOrDefault(m.label(), "")))) {
                continue;
            }
            SortedMap<Long, Double> window;
            synchronized (s.getValue()) {
                window = new TreeMap<>(s.getValue().subMap(fromMs, true, toMs, true));
            }
            if (window.isEmpty()) {
                continue;
            }
            long[] ts = new long[window.size()];
            double[] vs = new double[window.size()];
            int i = 0;
            for (Map.Entry<Long, Double> p : window.entrySet()) {
                ts[i] = p.getKey();
                vs[i++] = p.getValue();
            }
            out.add(new Series(new TreeMap<>(s.getKey()), ts, vs));
        }
        return Mono.just(out);
    }

    private static boolean matches(Matcher m, String value) {
        return switch (m.op()) {
            case EQ -> value.equals(m.value());
            case NEQ -> !value.equals(m.value());
            case REGEX -> Pattern.matches(m.value(), value);
            case NOT_REGEX -> !Pattern.matches(m.value(), value);
        };
    }
}
