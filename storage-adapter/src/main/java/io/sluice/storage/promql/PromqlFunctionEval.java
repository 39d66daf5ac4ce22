package io.sluice.storage.promql;

import io.sluice.storage.promql.Expr.Call;
import io.sluice.storage.promql.Expr.MatrixSel;
import io.sluice.storage.promql.Expr.Paren;
import io.sluice.storage.promql.Expr.VectorSel;
import io.sluice.storage.promql.Values.MatrixV;
import io.sluice.storage.promql.Values.Points;
import io.sluice.storage.promql.Values.Sample;
import io.sluice.storage.promql.Values.ScalarV;
import io.sluice.storage.promql.Values.StringV;
import io.sluice.storage.promql.Values.Value;
import io.sluice.storage.promql.Values.VectorV;
import io.sluice.storage.query.Matcher;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.DoubleUnaryOperator;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** PromQL's functions, as Prometheus computes them. */
final class PromqlFunctionEval {

    private PromqlFunctionEval() {
    }

    static Value call(PromqlEvaluator ev, Call c, long t) {
        String name = c.function().name();
        List<Expr> args = c.args();
        switch (name) {
            case "time":
                return new ScalarV(t / 1000.0);
            case "pi":
                return new ScalarV(Math.PI);
            case "start":
                return new ScalarV(ev.queryStart / 1000.0);
            case "end":
                return new ScalarV(ev.queryEnd / 1000.0);
            case "range":
                return new ScalarV((ev.queryEnd - ev.queryStart) / 1000.0);
            case "step":
                return new ScalarV(ev.queryStep / 1000.0);
            case "min_of":
                return new ScalarV(Math.min(scalar(ev, args.get(0), t), scalar(ev, args.get(1), t)));
            case "max_of":
                return new ScalarV(Math.max(scalar(ev, args.get(0), t), scalar(ev, args.get(1), t)));
            case "vector":
                return new VectorV(List.of(new Sample(Values.EMPTY, scalar(ev, args.get(0), t), t)));
            case "scalar": {
                List<Sample> v = vector(ev, args.get(0), t);
                return new ScalarV(v.size() == 1 ? v.get(0).value() : Double.NaN);
            }
            default:
                break;
        }
        if (args.size() >= 1 && args.get(0).type() == Expr.Type.MATRIX
                || name.equals("quantile_over_time")) {
            PromqlRollups.Pushed pushed = ev.pushed(c);
            return ev.unique(c, pushed != null ? PromqlRollups.eval(ev, pushed, t) : rangeFunction(ev, c, t));
        }
        return switch (name) {
            case "abs" -> math(ev, args, t, Math::abs);
            case "ceil" -> math(ev, args, t, Math::ceil);
            case "floor" -> math(ev, args, t, Math::floor);
            case "exp" -> math(ev, args, t, Math::exp);
            case "ln" -> math(ev, args, t, Math::log);
            case "log2" -> math(ev, args, t, PromqlFunctionEval::log2);
            case "log10" -> math(ev, args, t, Math::log10);
            case "sqrt" -> math(ev, args, t, Math::sqrt);
            case "sgn" -> math(ev, args, t, Math::signum);
            case "acos" -> math(ev, args, t, Math::acos);
            case "asin" -> math(ev, args, t, Math::asin);
            case "atan" -> math(ev, args, t, Math::atan);
            case "cos" -> math(ev, args, t, Math::cos);
            case "sin" -> math(ev, args, t, Math::sin);
            case "tan" -> math(ev, args, t, Math::tan);
            case "cosh" -> math(ev, args, t, Math::cosh);
            case "sinh" -> math(ev, args, t, Math::sinh);
            case "tanh" -> math(ev, args, t, Math::tanh);
            case "acosh" -> math(ev, args, t, x -> Math.log(x + Math.sqrt(x * x - 1)));
            case "asinh" -> math(ev, args, t, PromqlFunctionEval::asinh);
            case "atanh" -> math(ev, args, t, x -> 0.5 * Math.log((1 + x) / (1 - x)));
            case "deg" -> math(ev, args, t, x -> x * 180 / Math.PI);
            case "rad" -> math(ev, args, t, x -> x * Math.PI / 180);
            case "round" -> {
                double toNearest = args.size() > 1 ? scalar(ev, args.get(1), t) : 1;
                double inverse = 1.0 / toNearest;
                yield math(ev, args, t, x -> Math.floor(x * inverse + 0.5) / inverse);
            }
            case "clamp" -> {
                double min = scalar(ev, args.get(1), t);
                double max = scalar(ev, args.get(2), t);
                if (max < min) {
                    yield new VectorV(List.of());
                }
                yield math(ev, args, t, x -> Math.max(min, Math.min(max, x)));
            }
            case "clamp_min" -> {
                double min = scalar(ev, args.get(1), t);
                yield math(ev, args, t, x -> Math.max(min, x));
            }
            case "clamp_max" -> {
                double max = scalar(ev, args.get(1), t);
                yield math(ev, args, t, x -> Math.min(max, x));
            }
            case "timestamp" -> timestamp(ev, args.get(0), t);
            case "sort", "sort_desc" -> sort(vector(ev, args.get(0), t), name.equals("sort_desc"));
            case "sort_by_label", "sort_by_label_desc" -> sortByLabel(ev, args, t, name.endsWith("_desc"));
            case "absent" -> {
                List<Sample> v = vector(ev, args.get(0), t);
                yield v.isEmpty() ? new VectorV(List.of(new Sample(absentLabels(args.get(0)), 1, t)))
                        : new VectorV(List.of());
            }
            case "histogram_quantile" -> PromqlHistograms.quantile(scalar(ev, args.get(0), t),
                    vector(ev, args.get(1), t), t);
            case "label_replace" -> labelReplace(ev, args, t);
            case "label_join" -> labelJoin(ev, args, t);
            case "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year" ->
                    date(ev, name, args, t);
            default -> throw new UnsupportedPromqlException("function " + name);
        };
    }

    private static double scalar(PromqlEvaluator ev, Expr e, long t) {
        return ((ScalarV) ev.eval(e, t)).value();
    }

    private static List<Sample> vector(PromqlEvaluator ev, Expr e, long t) {
        return ((VectorV) ev.eval(e, t)).samples();
    }

    private static String string(PromqlEvaluator ev, Expr e, long t) {
        return ((StringV) ev.eval(e, t)).value();
    }

    private static VectorV math(PromqlEvaluator ev, List<Expr> args, long t, DoubleUnaryOperator f) {
        List<Sample> out = new ArrayList<>();
        for (Sample s : vector(ev, args.get(0), t)) {
            out.add(new Sample(ev.dropName(s.labels()), f.applyAsDouble(s.value()), t));
        }
        return PromqlEvaluator.checkDuplicates(new VectorV(out));
    }

    static double log2(double x) {
        if (x > 0 && !Double.isInfinite(x) && x == Math.scalb(1.0, Math.getExponent(x))) {
            return Math.getExponent(x);
        }
        return Math.log(x) / Math.log(2);
    }

    private static double asinh(double x) {
        if (Double.isInfinite(x)) {
            return x;
        }
        double a = Math.abs(x);
        double r = Math.log(a + Math.sqrt(a * a + 1));
        return x < 0 ? -r : r;
    }

    private static Expr unwrap(Expr e) {
        while (e instanceof Paren p) {
            e = p.expr();
        }
        return e;
    }

    private static VectorV timestamp(PromqlEvaluator ev, Expr arg, long t) {
        boolean selector = unwrap(arg) instanceof VectorSel;
        List<Sample> out = new ArrayList<>();
        for (Sample s : vector(ev, arg, t)) {
            double ts = (selector ? s.timeMs() : t) / 1000.0;
            out.add(new Sample(ev.dropName(s.labels()), ts, t));
        }
        return PromqlEvaluator.checkDuplicates(new VectorV(out));
    }

    private static VectorV sort(List<Sample> in, boolean desc) {
        List<Sample> out = new ArrayList<>(in);
        Comparator<Sample> byValue = (x, y) -> {
            boolean xn = Double.isNaN(x.value());
            boolean yn = Double.isNaN(y.value());
            if (xn || yn) {
                return Boolean.compare(xn, yn);
            }
            return desc ? Double.compare(y.value(), x.value()) : Double.compare(x.value(), y.value());
        };
        out.sort(byValue.thenComparing(Sample::labels, Values.LABEL_ORDER));
        return new VectorV(out);
    }

    private static VectorV sortByLabel(PromqlEvaluator ev, List<Expr> args, long t, boolean desc) {
        List<String> names = new ArrayList<>();
        for (int i = 1; i < args.size(); i++) {
            names.add(string(ev, args.get(i), t));
        }
        Comparator<Sample> order = (x, y) -> {
            for (String n : names) {
                int c = naturalCompare(x.labels().getOrDefault(n, ""), y.labels().getOrDefault(n, ""));
                if (c != 0) {
                    return c;
                }
            }
            return Values.LABEL_ORDER.compare(x.labels(), y.labels());
        };
        List<Sample> out = new ArrayList<>(vector(ev, args.get(0), t));
        out.sort(desc ? order.reversed() : order);
        return new VectorV(out);
    }

    /** Natural order: runs of digits compare as numbers, everything else as text ({@code 4m5 < 4m600 < 4m1000}). */
    static int naturalCompare(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            char ca = a.charAt(i);
            char cb = b.charAt(j);
            if (Character.isDigit(ca) && Character.isDigit(cb)) {
                int si = i;
                int sj = j;
                while (i < a.length() && Character.isDigit(a.charAt(i))) {
                    i++;
                }
                while (j < b.length() && Character.isDigit(b.charAt(j))) {
                    j++;
                }
                String na = a.substring(si, i).replaceFirst("^0+(?=.)", "");
                String nb = b.substring(sj, j).replaceFirst("^0+(?=.)", "");
                int c = na.length() != nb.length() ? Integer.compare(na.length(), nb.length()) : na.compareTo(nb);
                if (c != 0) {
                    return c;
                }
            } else {
                if (ca != cb) {
                    return Character.compare(ca, cb);
                }
                i++;
                j++;
            }
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    /** The labels {@code absent} and {@code absent_over_time} answer: a selector's equality matchers. */
    private static SortedMap<String, String> absentLabels(Expr arg) {
        Expr e = unwrap(arg);
        if (e instanceof MatrixSel ms) {
            e = ms.selector();
        }
        if (!(e instanceof VectorSel vs)) {
            return Values.EMPTY;
        }
        TreeMap<String, String> out = new TreeMap<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Matcher m : vs.matchers()) {
            if (m.label().equals("__name__")) {
                continue;
            }
            if (m.op() == Matcher.Op.EQ && seen.add(m.label())) {
                out.put(m.label(), m.value());
            } else {
                out.remove(m.label());
            }
        }
        return Values.freeze(out);
    }

    private static VectorV labelReplace(PromqlEvaluator ev, List<Expr> args, long t) {
        String dst = string(ev, args.get(1), t);
        String replacement = string(ev, args.get(2), t);
        String src = string(ev, args.get(3), t);
        String regex = string(ev, args.get(4), t);
        Pattern pattern;
        try {
            pattern = PromqlParser.compileRegex(regex);
        } catch (PatternSyntaxException e) {
            throw PromqlEvaluator.execution("invalid regular expression in label_replace(): " + regex);
        }
        if (!PromqlAggregations.isLabelName(dst)) {
            throw PromqlEvaluator.execution("invalid destination label name in label_replace(): " + dst);
        }
        List<Sample> out = new ArrayList<>();
        for (Sample s : vector(ev, args.get(0), t)) {
            String value = s.labels().getOrDefault(src, "");
            java.util.regex.Matcher m = pattern.matcher(new io.sluice.storage.query.DeadlineText(value, ev.deadlineNanos));
            if (!m.matches()) {
                out.add(new Sample(s.labels(), s.value(), t));
                continue;
            }
            String res = expand(replacement, m);
            TreeMap<String, String> labels = new TreeMap<>(s.labels());
            if (res.isEmpty()) {
                labels.remove(dst);
            } else {
                labels.put(dst, res);
            }
            out.add(new Sample(Values.freeze(labels), s.value(), t));
        }
        return PromqlEvaluator.checkDuplicates(new VectorV(out));
    }

    /** Go's {@code regexp.Expand}: {@code $1}, {@code ${1}}, {@code $name}, {@code ${name}}, {@code $$}. */
    static String expand(String template, java.util.regex.Matcher m) {
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (i < template.length()) {
            char c = template.charAt(i);
            if (c != '$' || i + 1 >= template.length()) {
                out.append(c);
                i++;
                continue;
            }
            char n = template.charAt(i + 1);
            if (n == '$') {
                out.append('$');
                i += 2;
                continue;
            }
            String name;
            int end;
            if (n == '{') {
                int close = template.indexOf('}', i + 2);
                if (close < 0 || !isWordName(template.substring(i + 2, close))) {
                    out.append(c);
                    i++;
                    continue;
                }
                name = template.substring(i + 2, close);
                end = close + 1;
            } else {
                end = i + 1;
                while (end < template.length() && isWordChar(template.charAt(end))) {
                    end++;
                }
                if (end == i + 1) {
                    out.append(c);
                    i++;
                    continue;
                }
                name = template.substring(i + 1, end);
            }
            out.append(group(m, name));
            i = end;
        }
        return out.toString();
    }

    private static boolean isWordName(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (!isWordChar(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    private static boolean isWordChar(char c) {
        return c == '_' || Character.isLetterOrDigit(c);
    }

    private static String group(java.util.regex.Matcher m, String name) {
        String g = null;
        boolean numeric = name.chars().allMatch(ch -> ch >= '0' && ch <= '9');
        if (numeric) {
            try {
                int idx = Integer.parseInt(name);
                if (idx <= m.groupCount()) {
                    g = m.group(idx);
                }
            } catch (NumberFormatException e) {
                g = null;
            }
        } else {
            try {
                g = m.group(name);
            } catch (IllegalArgumentException e) {
                g = null;
            }
        }
        return g == null ? "" : g;
    }

    private static VectorV labelJoin(PromqlEvaluator ev, List<Expr> args, long t) {
        String dst = string(ev, args.get(1), t);
        String sep = string(ev, args.get(2), t);
        List<String> srcs = new ArrayList<>();
        for (int i = 3; i < args.size(); i++) {
            srcs.add(string(ev, args.get(i), t));
        }
        if (!PromqlAggregations.isLabelName(dst)) {
            throw PromqlEvaluator.execution("invalid destination label name in label_join(): " + dst);
        }
        List<Sample> out = new ArrayList<>();
        for (Sample s : vector(ev, args.get(0), t)) {
            StringBuilder joined = new StringBuilder();
            for (int i = 0; i < srcs.size(); i++) {
                joined.append(i == 0 ? "" : sep).append(s.labels().getOrDefault(srcs.get(i), ""));
            }
            TreeMap<String, String> labels = new TreeMap<>(s.labels());
            if (joined.length() == 0) {
                labels.remove(dst);
            } else {
                labels.put(dst, joined.toString());
            }
            out.add(new Sample(Values.freeze(labels), s.value(), t));
        }
        return PromqlEvaluator.checkDuplicates(new VectorV(out));
    }

    private static VectorV date(PromqlEvaluator ev, String name, List<Expr> args, long t) {
        List<Sample> in = args.isEmpty() ? List.of(new Sample(Values.EMPTY, t / 1000.0, t))
                : vector(ev, args.get(0), t);
        List<Sample> out = new ArrayList<>();
        for (Sample s : in) {
            double v = s.value();
            double r;
            if (Double.isNaN(v) || Double.isInfinite(v)) {
                r = Double.NaN;
            } else {
                ZonedDateTime d = Instant.ofEpochSecond((long) v).atZone(ZoneOffset.UTC);
                r = switch (name) {
                    case "day_of_month" -> d.getDayOfMonth();
                    case "day_of_week" -> d.getDayOfWeek().getValue() % 7;
                    case "day_of_year" -> d.getDayOfYear();
                    case "days_in_month" -> d.toLocalDate().lengthOfMonth();
                    case "hour" -> d.getHour();
                    case "minute" -> d.getMinute();
                    case "month" -> d.getMonthValue();
                    default -> d.getYear();
                };
            }
            out.add(new Sample(ev.dropName(s.labels()), r, t));
        }
        return PromqlEvaluator.checkDuplicates(new VectorV(out));
    }

    // ---- functions over range vectors ----

    private static VectorV rangeFunction(PromqlEvaluator ev, Call c, long t) {
        String name = c.function().name();
        List<Expr> args = c.args();
        double param = Double.NaN;
        MatrixV m;
        Expr matrix = args.get(name.equals("quantile_over_time") ? 1 : 0);
        if (matrix instanceof MatrixSel ms && !name.equals("double_exponential_smoothing")
                && !name.equals("absent_over_time")) {
            if (name.equals("quantile_over_time")) {
                param = scalar(ev, args.get(0), t);
            } else if (name.equals("predict_linear")) {
                param = scalar(ev, args.get(1), t);
            }
            return overWindows(ev, name, ms, param, t);
        }
        if (name.equals("quantile_over_time")) {
            param = scalar(ev, args.get(0), t);
            m = (MatrixV) ev.eval(args.get(1), t);
        } else {
            m = (MatrixV) ev.eval(args.get(0), t);
            if (name.equals("predict_linear")) {
                param = scalar(ev, args.get(1), t);
            }
        }
        if (name.equals("double_exponential_smoothing")) {
            double sf = scalar(ev, args.get(1), t);
            double tf = scalar(ev, args.get(2), t);
            if (!(sf > 0 && sf < 1)) {
                throw PromqlEvaluator.execution("invalid smoothing factor. Expected: 0 < sf < 1, got: " + sf);
            }
            if (!(tf > 0 && tf < 1)) {
                throw PromqlEvaluator.execution("invalid trend factor. Expected: 0 < tf < 1, got: " + tf);
            }
            List<Sample> out = new ArrayList<>();
            for (Points p : m.series()) {
                if (p.size() >= 2) {
                    out.add(new Sample(ev.dropName(p.labels()),
                            PromqlRangeFunctions.doubleExponentialSmoothing(p.values(), sf, tf), t));
                }
            }
            return new VectorV(out);
        }
        if (name.equals("absent_over_time")) {
            return m.series().isEmpty() ? new VectorV(List.of(new Sample(absentLabels(args.get(0)), 1, t)))
                    : new VectorV(List.of());
        }
        List<Sample> out = new ArrayList<>();
        m.series().forEach(valuesInto(out, ev, name, m.windowStart(), m.windowEnd(), param, t));
        return new VectorV(out);
    }

    /**
     * A range function over a range selector's windows as {@link PromqlEvaluator#eachWindow} hands them over, one
     * reused object for every series: what {@link #rangeFunction} computes, without a matrix made at each step.
     */
    private static VectorV overWindows(PromqlEvaluator ev, String name, MatrixSel ms, double param, long t) {
        List<Sample> out = new ArrayList<>();
        long end = ev.windowEnd(ms, t);
        ev.eachWindow(ms, t, new Points(Values.EMPTY, new long[0], new double[0]),
                valuesInto(out, ev, name, end - ms.rangeMs(), end, param, t));
        return new VectorV(out);
    }

    /**
     * Adds the function's value over each series' points it is handed (in the window {@code (start, end]}) to
     * {@code out}, where there is one; the series keeps its metric name only for {@code last_over_time} and
     * {@code first_over_time}, as in Prometheus.
     */
    /** Whether a range function's values keep the metric name ({@code first_over_time}, {@code last_over_time}). */
    static boolean keepsName(String name) {
        return name.equals("last_over_time") || name.equals("first_over_time");
    }

    private static java.util.function.Consumer<Points> valuesInto(List<Sample> out, PromqlEvaluator ev, String name,
                                                                 long start, long end, double param, long t) {
        boolean keepName = keepsName(name);
        double[] value = new double[1];
        return p -> {
            if (PromqlRangeFunctions.apply(name, p, start, end, param, t, value)) {
                out.add(new Sample(keepName ? p.labels() : ev.dropName(p.labels()), value[0], t));
            }
        };
    }
}
