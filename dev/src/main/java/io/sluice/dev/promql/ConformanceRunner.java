package io.sluice.dev.promql;

import io.sluice.dev.promql.Script.Clear;
import io.sluice.dev.promql.Script.Command;
import io.sluice.dev.promql.Script.Eval;
import io.sluice.dev.promql.Script.Load;
import io.sluice.dev.promql.Script.LoadedSeries;
import io.sluice.config.QueryConfig;
import io.sluice.storage.promql.PromqlEngine;
import io.sluice.storage.promql.PromqlException;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.promql.SampleSource;
import io.sluice.storage.promql.UnsupportedPromqlException;
import io.sluice.storage.query.Matcher;
import io.sluice.storage.query.QueryLimitException;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;

/**
 * Runs parsed scripts: each script's data goes to storage under a tenant of its own (a new one after every
 * {@code clear}), loaded just before the first eval that follows it, and each eval goes to a {@link PromqlEngine}
 * over the given sample source. An eval passes, fails, or is unsupported: the engine refused it with
 * {@link UnsupportedPromqlException} (its parser or planner found something outside Sluice's subset), or it needs
 * native histograms, which Sluice does not store (a load line with {@code {{…}}} stores none of its points): its
 * expected result holds one, or its answer is wrong and one of the selectors the engine read matches a series the
 * script loaded with native histogram values or one a {@code load_with_nhcb} block makes (the {@code _bucket}
 * series' histogram): then the stored data is not the script's, and the difference is not the engine's. Such an eval
 * whose answer is right passes, and is counted apart ({@link FileReport#passedOverHistograms}).
 */
public final class ConformanceRunner {

    /** Where a script's data goes. */
    public interface Store {
        /** Stores the series' points for the tenant; returns once they can be read. Blocking. */
        void load(String tenant, List<LoadedSeries> series);
    }

    /** The feature name counted for evals that touch native histograms. */
    public static final String NATIVE_HISTOGRAMS = "native histograms (not stored by Sluice)";

    private final Store store;
    private final PromqlEngine engine;
    /** The selectors the engine read during the current eval. */
    private final List<List<Matcher>> selected = new CopyOnWriteArrayList<>();
    private final String tenantPrefix;
    private final Duration evalTimeout;
    private int tenants;

    /** @param source where the engine reads what {@code store} stored */
    public ConformanceRunner(Store store, SampleSource source, QueryConfig limits, Duration evalTimeout) {
        this.store = store;
        SampleSource recording = (tenant, matchers, fromMs, toMs) -> {
            selected.add(List.copyOf(matchers));
            return source.select(tenant, matchers, fromMs, toMs);
        };
        this.engine = new PromqlEngine(recording, limits);
        this.tenantPrefix = "promql-" + Long.toHexString(System.nanoTime() & 0xffffffffL);
        this.evalTimeout = evalTimeout;
    }

    /** One eval the engine got wrong. */
    public record Failure(int line, String expr, String expected, String got) {
    }

    /** What one script came to. */
    /**
     * @param passedOverHistograms how many of the passed evals read a series the script loaded with native histograms
     *                             (right on the float data Sluice holds)
     */
    public record FileReport(String file, int passed, int passedOverHistograms, List<Failure> failures,
                             Map<String, Integer> unsupported, List<Script.ScriptError> errors) {

        public int unsupportedCount() {
            return unsupported.values().stream().mapToInt(Integer::intValue).sum();
        }

        /** No failure and no line the parser could not read. */
        public boolean ok() {
            return failures.isEmpty() && errors.isEmpty();
        }

        /** {@code file: passed P / failed F / unsupported U}, then every script error and failure. */
        public String render() {
            StringBuilder out = new StringBuilder();
            out.append(file).append(": passed ").append(passed).append(" / failed ").append(failures.size())
                    .append(" / unsupported ").append(unsupportedCount());
            if (!errors.isEmpty()) {
                out.append(" / script errors ").append(errors.size());
            }
            if (passedOverHistograms > 0) {
                out.append(" (").append(passedOverHistograms).append(" passed read series loaded with native "
                        + "histograms)");
            }
            out.append('\n');
            for (Script.ScriptError e : errors) {
                out.append("  SCRIPT ERROR line ").append(e.line()).append(": ").append(e.message()).append('\n');
            }
            for (Failure f : failures) {
                out.append("  FAILED line ").append(f.line()).append(": ").append(f.expr()).append('\n')
                        .append("    expected: ").append(f.expected()).append('\n')
                        .append("    got:      ").append(f.got()).append('\n');
            }
            return out.toString();
        }
    }

    public FileReport run(Script script) {
        int passed = 0;
        int passedOverHistograms = 0;
        List<Failure> failures = new ArrayList<>();
        Map<String, Integer> unsupported = new TreeMap<>();
        String tenant = newTenant();
        List<LoadedSeries> pending = new ArrayList<>();
        List<SortedMap<String, String>> histograms = new ArrayList<>();
        String loadError = null; // why this tenant's data could not be stored: its evals fail
        for (Command command : script.commands()) {
            if (command instanceof Clear) {
                tenant = newTenant();
                pending.clear();
                histograms.clear();
                loadError = null;
            } else if (command instanceof Load load) {
                for (LoadedSeries s : load.series()) {
                    if (s.histogram()) {
                        histograms.add(s.labels());
                    } else {
                        pending.add(s);
                    }
                    String name = s.labels().get(Matcher.NAME);
                    if (load.nativeHistograms() && name != null && name.endsWith("_bucket")) {
                        SortedMap<String, String> nhcb = new TreeMap<>(s.labels());
                        nhcb.put(Matcher.NAME, name.substring(0, name.length() - "_bucket".length()));
                        nhcb.remove("le");
                        histograms.add(nhcb);
                    }
                }
            } else {
                Eval eval = (Eval) command;
                if (!pending.isEmpty() && loadError == null) {
                    try {
                        store.load(tenant, List.copyOf(pending));
                    } catch (RuntimeException e) {
                        loadError = "the data before line " + eval.line() + " could not be stored: " + e.getMessage();
                    }
                    pending.clear();
                }
                if (loadError != null) {
                    failures.add(failure(eval, loadError));
                    continue;
                }
                if (eval.expectation().histogram()) {
                    unsupported.merge(NATIVE_HISTOGRAMS, 1, Integer::sum);
                    continue;
                }
                selected.clear();
                Outcome outcome = evaluate(tenant, eval);
                boolean overHistograms = selectsAny(selected, histograms);
                if (outcome.unsupported != null) {
                    unsupported.merge(outcome.unsupported, 1, Integer::sum);
                } else if (outcome.failure != null && overHistograms) {
                    unsupported.merge(NATIVE_HISTOGRAMS, 1, Integer::sum);
                } else if (outcome.failure != null) {
                    failures.add(outcome.failure);
                } else {
                    passed++;
                    passedOverHistograms += overHistograms ? 1 : 0;
                }
            }
        }
        return new FileReport(script.name(), passed, passedOverHistograms, failures, unsupported, script.errors());
    }

    private String newTenant() {
        return tenantPrefix + "-" + (++tenants);
    }

    /** Whether any of the selectors matches any of the label sets (a missing label is ""; regexes match whole). */
    static boolean selectsAny(List<List<Matcher>> selectors, List<SortedMap<String, String>> series) {
        for (List<Matcher> selector : selectors) {
            for (SortedMap<String, String> labels : series) {
                boolean all = true;
                for (Matcher m : selector) {
                    String value = labels.getOrDefault(m.label(), "");
                    boolean match = switch (m.op()) {
                        case EQ -> value.equals(m.value());
                        case NEQ -> !value.equals(m.value());
                        case REGEX -> Pattern.compile(m.value(), Pattern.DOTALL).matcher(value).matches();
                        case NOT_REGEX -> !Pattern.compile(m.value(), Pattern.DOTALL).matcher(value).matches();
                    };
                    if (!match) {
                        all = false;
                        break;
                    }
                }
                if (all) {
                    return true;
                }
            }
        }
        return false;
    }

    private record Outcome(String unsupported, Failure failure) {
    }

    private Outcome evaluate(String tenant, Eval eval) {
        PromqlResult result;
        try {
            Mono<PromqlResult> answer = eval.range()
                    ? engine.range(tenant, eval.expr(), eval.startMs(), eval.endMs(), eval.stepMs())
                    : engine.instant(tenant, eval.expr(), eval.startMs());
            result = answer.block(evalTimeout);
        } catch (UnsupportedPromqlException e) {
            return new Outcome(e.feature(), null);
        } catch (PromqlException | QueryLimitException e) {
            if (eval.expectation().fail()) {
                return new Outcome(null, null);
            }
            return new Outcome(null, failure(eval, "error: " + e.getMessage()));
        } catch (RuntimeException e) {
            return new Outcome(null, failure(eval, "error: " + e));
        }
        if (eval.expectation().fail()) {
            return new Outcome(null, failure(eval, result == null ? "no answer" : ResultCheck.describe(result)));
        }
        if (result == null) {
            return new Outcome(null, failure(eval, "no answer"));
        }
        String mismatch = ResultCheck.mismatch(eval, result);
        return mismatch == null ? new Outcome(null, null)
                : new Outcome(null, failure(eval, ResultCheck.describe(result) + " (" + mismatch + ")"));
    }

    private static Failure failure(Eval eval, String got) {
        return new Failure(eval.line(), eval.expr(), ResultCheck.expected(eval), got);
    }
}
