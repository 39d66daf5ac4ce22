package io.sluice.dev.promql;

import io.sluice.dev.promql.Script.Eval;
import io.sluice.dev.promql.Script.Expected;
import io.sluice.dev.promql.Script.ExpectedSeries;
import io.sluice.dev.promql.Script.ScalarValue;
import io.sluice.dev.promql.Script.SeriesList;
import io.sluice.dev.promql.Script.StringValue;
import io.sluice.storage.promql.PromqlResult;
import io.sluice.storage.promql.Series;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;

/**
 * Whether an engine's answer is what an eval expects, by the rules of Prometheus' own test runner: a vector must hold
 * exactly the expected series (any order, unless {@code expect ordered}), each value within a relative tolerance of
 * 1e-6 ({@link #almostEqual}); a matrix must hold exactly the expected series with a point at each step the
 * expectation lists a value for and none at the steps it marks {@code _}; a scalar needs a bare number, a string
 * {@code expect string}.
 */
public final class ResultCheck {

    /** Prometheus' test tolerance (relative). */
    static final double EPSILON = 1e-6;
    private static final double MIN_NORMAL = Double.MIN_NORMAL;

    private ResultCheck() {
    }

    /**
     * Equal within {@link #EPSILON} relative to the sum of their magnitudes; NaN equals NaN (any NaN: the engine
     * never returns the staleness marker); values of which one is 0 (or both tiny) must differ by less than
     * EPSILON times the smallest normal double.
     */
    static boolean almostEqual(double a, double b) {
        if (Double.isNaN(a) && Double.isNaN(b)) {
            return true;
        }
        if (a == b) {
            return true;
        }
        double absSum = Math.abs(a) + Math.abs(b);
        double diff = Math.abs(a - b);
        if (a == 0 || b == 0 || absSum < MIN_NORMAL) {
            return diff < EPSILON * MIN_NORMAL;
        }
        return diff / Math.min(absSum, Double.MAX_VALUE) < EPSILON;
    }

    /** Null when {@code got} is what {@code eval} expects, else why not. */
    static String mismatch(Eval eval, PromqlResult got) {
        Expected expected = eval.expectation().result();
        if (got instanceof PromqlResult.Scalar s) {
            if (!(expected instanceof ScalarValue v)) {
                return "expected " + kind(expected) + " but got a scalar";
            }
            return almostEqual(v.value(), s.value()) ? null : "expected scalar " + v.value() + " but got " + s.value();
        }
        if (got instanceof PromqlResult.Text t) {
            if (!(expected instanceof StringValue v)) {
                return "expected " + kind(expected) + " but got a string";
            }
            return v.value().equals(t.value()) ? null
                    : "expected string \"" + v.value() + "\" but got \"" + t.value() + "\"";
        }
        if (!(expected instanceof SeriesList list)) {
            return "expected " + kind(expected) + " but got " + got.resultType();
        }
        if (got instanceof PromqlResult.Vector v) {
            return eval.range() ? "a range eval must answer a matrix, got a vector" : vector(eval, list, v);
        }
        return matrix(eval, list, (PromqlResult.Matrix) got);
    }

    private static String kind(Expected expected) {
        return expected instanceof ScalarValue ? "a scalar" : expected instanceof StringValue ? "a string" : "series";
    }

    private static String vector(Eval eval, SeriesList list, PromqlResult.Vector got) {
        Map<SortedMap<String, String>, ExpectedSeries> byLabels = index(list);
        Set<SortedMap<String, String>> seen = new HashSet<>();
        for (int pos = 0; pos < got.samples().size(); pos++) {
            PromqlResult.Sample s = got.samples().get(pos);
            ExpectedSeries e = byLabels.get(s.labels());
            if (e == null) {
                return "unexpected series " + labels(s.labels()) + " " + s.value();
            }
            if (!seen.add(s.labels())) {
                return "series " + labels(s.labels()) + " twice in the result";
            }
            if (eval.expectation().ordered() && e.position() != pos + 1) {
                return "expected " + labels(s.labels()) + " at position " + e.position() + " but it was at " + (pos + 1);
            }
            if (!almostEqual(e.values().get(0), s.value())) {
                return "expected " + e.values().get(0) + " for " + labels(s.labels()) + " but got " + s.value();
            }
        }
        for (ExpectedSeries e : list.series()) {
            if (!seen.contains(e.labels())) {
                return "expected series " + labels(e.labels()) + " not in the result";
            }
        }
        return null;
    }

    /**
     * A matrix: for a range eval the expected values are at start, start + step, …; for an instant eval (a range
     * selector's points) they are compared in order.
     */
    private static String matrix(Eval eval, SeriesList list, PromqlResult.Matrix got) {
        Map<SortedMap<String, String>, ExpectedSeries> byLabels = index(list);
        Set<SortedMap<String, String>> seen = new HashSet<>();
        for (Series s : got.series()) {
            ExpectedSeries e = byLabels.get(s.labels());
            if (e == null) {
                return "unexpected series " + labels(s.labels()) + " " + points(s);
            }
            if (!seen.add(s.labels())) {
                return "series " + labels(s.labels()) + " twice in the result";
            }
            List<Long> at = new ArrayList<>();
            List<Double> want = new ArrayList<>();
            for (int i = 0; i < e.values().size(); i++) {
                long t = eval.startMs() + i * eval.stepMs();
                if (eval.range() && t > eval.endMs()) {
                    return "expected " + e.values().size() + " points for " + labels(e.labels())
                            + " but the range has fewer steps";
                }
                if (e.values().get(i) != null) {
                    at.add(t);
                    want.add(e.values().get(i));
                }
            }
            if (want.size() != s.values().length) {
                return "expected " + want.size() + " points for " + labels(s.labels()) + " but got " + points(s);
            }
            for (int i = 0; i < want.size(); i++) {
                if (eval.range() && at.get(i) != s.timestamps()[i]) {
                    return "expected point " + i + " of " + labels(s.labels()) + " at " + at.get(i) + " ms but got "
                            + points(s);
                }
                if (!almostEqual(want.get(i), s.values()[i])) {
                    return "expected " + want.get(i) + " at point " + i + " of " + labels(s.labels()) + " but got "
                            + points(s);
                }
            }
        }
        for (ExpectedSeries e : list.series()) {
            if (!seen.contains(e.labels())) {
                return "expected series " + labels(e.labels()) + " not in the result";
            }
        }
        return null;
    }

    private static Map<SortedMap<String, String>, ExpectedSeries> index(SeriesList list) {
        Map<SortedMap<String, String>, ExpectedSeries> byLabels = new HashMap<>();
        for (ExpectedSeries e : list.series()) {
            byLabels.put(e.labels(), e);
        }
        return byLabels;
    }

    /** Labels as PromQL writes them: {@code {__name__="x", a="b"}}. */
    static String labels(SortedMap<String, String> labels) {
        StringBuilder out = new StringBuilder("{");
        labels.forEach((k, v) -> out.append(out.length() > 1 ? ", " : "").append(k).append("=\"")
                .append(v.replace("\\", "\\\\").replace("\"", "\\\"")).append('"'));
        return out.append('}').toString();
    }

    private static String points(Series s) {
        StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < s.values().length; i++) {
            out.append(i == 0 ? "" : " ").append(s.values()[i]).append('@').append(s.timestamps()[i]);
        }
        return out.append(']').toString();
    }

    /** What an eval expects, for a failure report. */
    static String expected(Eval eval) {
        if (eval.expectation().fail()) {
            return "an error" + (eval.expectation().failMessage() == null ? "" : " (" + eval.expectation().failMessage() + ")");
        }
        Expected result = eval.expectation().result();
        if (result instanceof ScalarValue s) {
            return "scalar " + s.value();
        }
        if (result instanceof StringValue s) {
            return "string \"" + s.value() + "\"";
        }
        SeriesList l = (SeriesList) result;
        if (l.series().isEmpty()) {
            return "empty result";
        }
        StringBuilder out = new StringBuilder();
        for (ExpectedSeries e : l.series()) {
            out.append(out.length() == 0 ? "" : "; ").append(labels(e.labels())).append(' ');
            for (int i = 0; i < e.values().size(); i++) {
                Double v = e.values().get(i);
                out.append(i == 0 ? "" : " ").append(v == null ? "_" : v.toString());
            }
        }
        return out.toString();
    }

    /** An engine's answer, for a failure report. */
    static String describe(PromqlResult got) {
        if (got instanceof PromqlResult.Scalar s) {
            return "scalar " + s.value();
        }
        if (got instanceof PromqlResult.Text t) {
            return "string \"" + t.value() + "\"";
        }
        StringBuilder out = new StringBuilder();
        if (got instanceof PromqlResult.Vector v) {
            v.samples().forEach(s -> out.append(out.length() == 0 ? "" : "; ").append(labels(s.labels()))
                    .append(' ').append(s.value()));
            return out.length() == 0 ? "empty vector" : out.toString();
        }
        ((PromqlResult.Matrix) got).series().forEach(s -> out.append(out.length() == 0 ? "" : "; ")
                .append(labels(s.labels())).append(' ').append(points(s)));
        return out.length() == 0 ? "empty matrix" : out.toString();
    }
}
