package io.sluice.dev.promql;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.config.QueryConfig;
import io.sluice.config.SluiceConfig;
import io.sluice.dev.promql.ConformanceRunner.FileReport;
import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.promql.PromqlEngine;
import io.sluice.storage.promql.StoredSampleSource;
import io.sluice.storage.query.QueryRepository;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The conformance run over Sluice's real parts: script data stored by {@link ConformanceStorage} (real Kafka, a real
 * storage writer, PostgreSQL), evals by a {@link PromqlEngine} over the stored samples ({@link StoredSampleSource}
 * on a {@link QueryRepository}): what {@code Queries.promql()} builds for the Prometheus API, built here so that
 * the runner can see the selectors the engine reads (its native-histogram rule), with the runner's own query limits
 * ({@link #limits}).
 */
public final class PromqlConformance implements AutoCloseable {

    /** How long one eval may take. */
    static final Duration EVAL_TIMEOUT = Duration.ofSeconds(60);

    private final ConformanceStorage storage;
    private final StoredSampleSource source;
    private final ConformanceRunner runner;

    private PromqlConformance(ConformanceStorage storage, StoredSampleSource source, QueryConfig limits) {
        this.storage = storage;
        this.source = source;
        this.runner = new ConformanceRunner(storage::load, source, limits, EVAL_TIMEOUT);
    }

    /**
     * The runner's query limits: 11,000 points per series (the longest script range), 10,000 series per selector, a
     * 30 s statement deadline; range and cache as configured.
     */
    public static QueryConfig limits(QueryConfig base) {
        return new QueryConfig(11_000, 10_000, base.maxRange(), Duration.ofSeconds(30), base.cacheMaxBytes());
    }

    /**
     * Starts storage and the engine on the PostgreSQL and Kafka of {@code config} (migrated, pointed at by the
     * caller). Blocking.
     */
    public static PromqlConformance start(SluiceConfig config, MeterRegistry registry) {
        ConformanceStorage storage = ConformanceStorage.start(ConformanceStorage.configure(config), registry);
        QueryConfig limits = limits(config.query());
        // its own registry: the writer's PostgresCalls already registered the reachability gauge in the process's
        PostgresCalls calls = new PostgresCalls(storage.connections(), config.postgres().callTimeout(),
                new SimpleMeterRegistry());
        StoredSampleSource source = new StoredSampleSource(new QueryRepository(calls, limits.statementTimeout()),
                limits.maxSeries());
        return new PromqlConformance(storage, source, limits);
    }

    /** Runs one script. */
    public FileReport run(Script script) {
        return runner.run(script);
    }

    ConformanceStorage storage() {
        return storage;
    }

    /** The stored samples the engine reads. */
    StoredSampleSource source() {
        return source;
    }

    /** Runs the scripts in order, printing each file's report as it completes, then a summary. */
    public List<FileReport> run(List<Script> scripts, PrintStream out) {
        List<FileReport> reports = new ArrayList<>();
        for (Script script : scripts) {
            FileReport report = run(script);
            reports.add(report);
            out.print(report.render());
            out.flush();
        }
        out.print(summary(reports));
        return reports;
    }

    /** Totals, and the unsupported features by how many evals they kept out. */
    static String summary(List<FileReport> reports) {
        int passed = 0;
        int overHistograms = 0;
        int failed = 0;
        int unsupported = 0;
        int errors = 0;
        Map<String, Integer> features = new TreeMap<>();
        for (FileReport r : reports) {
            passed += r.passed();
            overHistograms += r.passedOverHistograms();
            failed += r.failures().size();
            unsupported += r.unsupportedCount();
            errors += r.errors().size();
            r.unsupported().forEach((f, n) -> features.merge(f, n, Integer::sum));
        }
        StringBuilder out = new StringBuilder("total: passed ").append(passed).append(" / failed ").append(failed)
                .append(" / unsupported ").append(unsupported);
        if (errors > 0) {
            out.append(" / script errors ").append(errors);
        }
        if (overHistograms > 0) {
            out.append(" (").append(overHistograms).append(" passed read series loaded with native histograms)");
        }
        out.append('\n');
        if (!features.isEmpty()) {
            out.append("unsupported, by feature:\n");
            features.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()
                            .thenComparing(Map.Entry.comparingByKey()))
                    .forEach(e -> out.append(String.format("  %5d  %s%n", e.getValue(), e.getKey())));
        }
        return out.toString();
    }

    @Override
    public void close() {
        storage.close();
    }
}
