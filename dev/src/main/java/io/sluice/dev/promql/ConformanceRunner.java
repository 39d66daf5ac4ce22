package io.sluice.dev.promql;

import io.sluice.dev.promql.Script.Clear;
import io.sluice.dev.promql.Script.Command;
import io.sluice.dev.promql.Script.Eval;
import io.sluice.dev.promql.Script.Load;
import io.sluice.dev.promql.Script.LoadedSeries;
import io.sluice.storage.promql.PromqlException;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.promql.UnsupportedPromqlException;
import io.sluice.storage.query.QueryLimitException;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Runs parsed scripts: each script's data goes to storage under a tenant of its own (a new one after every
 * {@code clear}), loaded just before the first eval that follows it, and each eval goes to the engine. An eval
 * passes, fails, or is unsupported: the engine refused it with {@link UnsupportedPromqlException} (its parser or
 * planner found something outside Sluice's subset), or it touches native histograms, which Sluice does not store
 * (its expected result holds one, or its expression names a metric that a load of the same tenant gave native
 * histogram values, or that a {@code load_with_nhcb} block turned into one).
 */
public final class ConformanceRunner {

    /** Where a script's data goes. */
    public interface Store {
        /** Stores the series' points for the tenant; returns once they can be read. Blocking. */
        void load(String tenant, List<LoadedSeries> series);
    }

    /** The PromQL engine under test. */
    public interface Evaluator {
        Mono<PromqlResult> instant(String tenant, String expr, long timeMs);

        Mono<PromqlResult> range(String tenant, String expr, long startMs, long endMs, long stepMs);
    }

    /** The feature name counted for evals that touch native histograms. */
    public static final String NATIVE_HISTOGRAMS = "native histograms (not stored by Sluice)";

    private final Store store;
    private final Evaluator evaluator;
    private final String tenantPrefix;
    private final Duration evalTimeout;
    private int tenants;

    public ConformanceRunner(Store store, Evaluator evaluator, Duration evalTimeout) {
        this.store = store;
        this.evaluator = evaluator;
        this.tenantPrefix = "promql-" + Long.toHexString(System.nanoTime() & 0xffffffffL);
        this.evalTimeout = evalTimeout;
    }

    /** One eval the engine got wrong. */
    public record Failure(int line, String expr, String expected, String got) {
    }

    /** What one script came to. */
    public record FileReport(String file, int passed, List<Failure> failures, Map<String, Integer> unsupported,
                             List<Script.ScriptError> errors) {

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
        List<Failure> failures = new ArrayList<>();
        Map<String, Integer> unsupported = new TreeMap<>();
        String tenant = newTenant();
        List<LoadedSeries> pending = new ArrayList<>();
        Set<String> histogramMetrics = new HashSet<>();
        for (Command command : script.commands()) {
            if (command instanceof Clear) {
                tenant = newTenant();
                pending.clear();
                histogramMetrics.clear();
            } else if (command instanceof Load load) {
                for (LoadedSeries s : load.series()) {
                    String name = s.labels().get("__name__");
                    if (s.histogram()) {
                        if (name != null) {
                            histogramMetrics.add(name);
                        }
                    } else {
                        pending.add(s);
                    }
                    if (load.nativeHistograms() && name != null && name.endsWith("_bucket")) {
                        histogramMetrics.add(name.substring(0, name.length() - "_bucket".length()));
                    }
                }
            } else {
                Eval eval = (Eval) command;
                if (!pending.isEmpty()) {
                    store.load(tenant, List.copyOf(pending));
                    pending.clear();
                }
                if (touchesHistograms(eval, histogramMetrics)) {
                    unsupported.merge(NATIVE_HISTOGRAMS, 1, Integer::sum);
                    continue;
                }
                Outcome outcome = evaluate(tenant, eval);
                if (outcome.unsupported != null) {
                    unsupported.merge(outcome.unsupported, 1, Integer::sum);
                } else if (outcome.failure != null) {
                    failures.add(outcome.failure);
                } else {
                    passed++;
                }
            }
        }
        return new FileReport(script.name(), passed, failures, unsupported, script.errors());
    }

    private String newTenant() {
        return tenantPrefix + "-" + (++tenants);
    }

    private static boolean touchesHistograms(Eval eval, Set<String> histogramMetrics) {
        if (eval.expectation().histogram()) {
            return true;
        }
        for (String name : histogramMetrics) {
            if (Pattern.compile("(?<![A-Za-z0-9_:])" + Pattern.quote(name) + "(?![A-Za-z0-9_:])")
                    .matcher(eval.expr()).find()) {
                return true;
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
                    ? evaluator.range(tenant, eval.expr(), eval.startMs(), eval.endMs(), eval.stepMs())
                    : evaluator.instant(tenant, eval.expr(), eval.startMs());
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
