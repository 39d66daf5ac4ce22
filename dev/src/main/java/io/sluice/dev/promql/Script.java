package io.sluice.dev.promql;

import java.util.List;
import java.util.Objects;
import java.util.SortedMap;

/**
 * One parsed PromQL test script (the format of Prometheus' own engine tests): its commands in file order, and the
 * lines it could not understand ({@link #errors()}; the runner reports them, it never skips a line silently).
 */
public record Script(String name, List<Command> commands, List<ScriptError> errors) {

    public Script {
        commands = List.copyOf(commands);
        errors = List.copyOf(errors);
    }

    /** A line the parser did not understand. */
    public record ScriptError(int line, String message) {
        @Override
        public String toString() {
            return "line " + line + ": " + message;
        }
    }

    /** One command of a script. */
    public sealed interface Command permits Load, Clear, Eval {
        /** The (1-based) line it starts on. */
        int line();
    }

    /**
     * {@code load <interval>}: series with a point every interval from t=0. A series given twice in one block has
     * the values of its last line (the earlier line is dropped, as Prometheus' test runner does); several blocks add
     * up.
     *
     * @param nativeHistograms the block was {@code load_with_nhcb}
     */
    public record Load(int line, long intervalMs, List<LoadedSeries> series, boolean nativeHistograms)
            implements Command {
        public Load {
            series = List.copyOf(series);
        }
    }

    /**
     * One series of a load block. A line with a native histogram value ({@code {{…}}}) has {@code histogram} set and
     * no points: Sluice stores float samples only.
     *
     * @param labels     with the metric name under {@code __name__}
     * @param timestamps milliseconds from t=0, ascending (missing points {@code _} left out)
     * @param values     one per timestamp, staleness markers as {@code Series.STALE_NAN_BITS}
     */
    public record LoadedSeries(int line, SortedMap<String, String> labels, long[] timestamps, double[] values,
                               boolean histogram) {
        public LoadedSeries {
            Objects.requireNonNull(labels);
        }
    }

    /** {@code clear}: drops everything loaded so far. */
    public record Clear(int line) implements Command {
    }

    /**
     * {@code eval instant at <t> <expr>} ({@code range} false, start = end = t, step 0) or
     * {@code eval range from <start> to <end> step <step> <expr>}, with what it expects.
     */
    public record Eval(int line, String expr, boolean range, long startMs, long endMs, long stepMs,
                       Expectation expectation) implements Command {
    }

    /**
     * What an eval expects.
     *
     * @param fail        the evaluation must fail ({@code expect fail}, {@code eval_fail})
     * @param failMessage the message or regex given with {@code expect fail} (not compared: Sluice's messages are
     *                    its own), null when none
     * @param ordered     vector samples must come in the listed order
     * @param annotations {@code expect warn/info/no_warn/no_info} (and the {@code eval_warn}/{@code eval_info}
     *                    forms) as written; Sluice has no annotations, so they are not checked
     * @param result      the expected value; null for a failing eval
     * @param histogram   the expected result holds a native histogram
     */
    public record Expectation(boolean fail, String failMessage, boolean ordered, List<String> annotations,
                              Expected result, boolean histogram) {
        public Expectation {
            annotations = List.copyOf(annotations);
        }
    }

    /** An expected result. */
    public sealed interface Expected permits ScalarValue, StringValue, SeriesList {
    }

    /** A bare number: a scalar. */
    public record ScalarValue(double value) implements Expected {
    }

    /** {@code expect string "…"}: a string. */
    public record StringValue(String value) implements Expected {
    }

    /** Series lines (possibly none: an empty result). */
    public record SeriesList(List<ExpectedSeries> series) implements Expected {
        public SeriesList {
            series = List.copyOf(series);
        }
    }

    /**
     * One expected series.
     *
     * @param position 1-based line order (for {@code expect ordered})
     * @param values   one per step from the eval's start (null: no point at that step); one value for an instant eval
     */
    public record ExpectedSeries(int line, SortedMap<String, String> labels, int position, List<Double> values) {
        public ExpectedSeries {
            values = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(values));
        }
    }
}
