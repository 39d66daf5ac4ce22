package io.sluice.dev.promql;

import io.sluice.dev.promql.Script.Clear;
import io.sluice.dev.promql.Script.Command;
import io.sluice.dev.promql.Script.Eval;
import io.sluice.dev.promql.Script.Expectation;
import io.sluice.dev.promql.Script.Expected;
import io.sluice.dev.promql.Script.ExpectedSeries;
import io.sluice.dev.promql.Script.Load;
import io.sluice.dev.promql.Script.LoadedSeries;
import io.sluice.dev.promql.Script.ScalarValue;
import io.sluice.dev.promql.Script.ScriptError;
import io.sluice.dev.promql.Script.SeriesList;
import io.sluice.dev.promql.Script.StringValue;
import io.sluice.storage.promql.Series;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads PromQL test scripts in the format of Prometheus' engine tests ({@code promqltest}). Each command starts a
 * line: {@code clear} stands alone; {@code load <interval>} ({@code load_with_nhcb}) and {@code eval …} (and the
 * {@code eval_fail}/{@code eval_ordered}/{@code eval_warn}/{@code eval_info} forms) take the lines after them up to
 * the next empty line. Lines are trimmed; a line starting with {@code #} is a comment and, like an empty line, ends a
 * block. A line it cannot read is an error of the script (its block is dropped and the error reported), never
 * skipped silently.
 */
public final class ScriptParser {

    private static final Pattern LOAD = Pattern.compile("^load(_with_nhcb)?\\s+(\\S+)$", Pattern.CASE_INSENSITIVE);
    private static final Pattern INSTANT = Pattern.compile(
            "^eval(?:_(fail|warn|ordered|info))?\\s+instant\\s+at\\s+(\\S+)\\s+(.+)$", Pattern.CASE_INSENSITIVE);
    private static final Pattern RANGE = Pattern.compile(
            "^eval(?:_(fail|warn|info))?\\s+range\\s+from\\s+(\\S+)\\s+to\\s+(\\S+)\\s+step\\s+(\\S+)\\s+(.+)$",
            Pattern.CASE_INSENSITIVE);
    /** Prometheus' duration notation (units from years down to milliseconds, largest first), or a bare 0. */
    private static final Pattern DURATION = Pattern.compile(
            "^(?:(\\d+)y)?(?:(\\d+)w)?(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?(?:(\\d+)ms)?$");
    private static final long[] UNIT_MS = {365L * 86_400_000, 7L * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000, 1};
    private static final String UNSIGNED = "(?:0[xX][0-9a-fA-F]+|\\d+\\.?\\d*(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?"
            + "|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])";
    private static final Pattern NUMBER = Pattern.compile("[+-]?" + UNSIGNED);
    /** As UNSIGNED without hex: in a series' values {@code 0x59} is 0 repeated (Prometheus lexes x as "times"). */
    private static final String UNSIGNED_DECIMAL = "(?:\\d+\\.?\\d*(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?"
            + "|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])";
    /** One value item of a series line: a number or {@code stale}, optionally {@code [+-]delta} and {@code xN}. */
    private static final Pattern ITEM = Pattern.compile(
            "^([+-]?" + UNSIGNED_DECIMAL + "|stale)(?:([+-]" + UNSIGNED_DECIMAL + ")?x(\\d+))?$");
    private static final Pattern BLANKS = Pattern.compile("^_(?:x(\\d+))?$");
    private static final Pattern METRIC_NAME = Pattern.compile("^[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL_NAME = Pattern.compile("^[a-zA-Z_][a-zA-Z0-9_]*");

    private ScriptParser() {
    }

    /** A line that cannot be read. */
    static final class ParseException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int line;

        ParseException(int line, String message) {
            super(message, null, false, false);
            this.line = line;
        }
    }

    public static Script parse(String name, String text) {
        String[] raw = text.split("\n", -1);
        String[] lines = new String[raw.length];
        for (int i = 0; i < raw.length; i++) {
            String l = raw[i].strip();
            lines[i] = l.startsWith("#") ? "" : l;
        }
        List<Command> commands = new ArrayList<>();
        List<ScriptError> errors = new ArrayList<>();
        int i = 0;
        while (i < lines.length) {
            if (lines[i].isEmpty()) {
                i++;
                continue;
            }
            int end = i + 1;
            // clear is a line of its own; load and eval take the lines up to the next empty one
            if (!lines[i].split("\\s+", 2)[0].equalsIgnoreCase("clear")) {
                while (end < lines.length && !lines[end].isEmpty()) {
                    end++;
                }
            }
            try {
                commands.add(block(lines, i, end));
            } catch (ParseException e) {
                errors.add(new ScriptError(e.line, e.getMessage()));
            }
            i = end;
        }
        return new Script(name, commands, errors);
    }

    /** The command of lines {@code [from, to)} (0-based indices). */
    private static Command block(String[] lines, int from, int to) {
        String first = lines[from];
        int line = from + 1;
        String command = first.split("\\s+", 2)[0].toLowerCase(Locale.ROOT);
        if (command.equals("clear")) {
            if (!first.equalsIgnoreCase("clear")) {
                throw new ParseException(line, "clear takes no argument: " + first);
            }
            return new Clear(line);
        }
        if (command.startsWith("load")) {
            return load(lines, from, to);
        }
        if (command.startsWith("eval")) {
            return eval(lines, from, to);
        }
        throw new ParseException(line, "invalid command: " + first);
    }

    private static Load load(String[] lines, int from, int to) {
        int line = from + 1;
        Matcher m = LOAD.matcher(lines[from]);
        if (!m.matches()) {
            throw new ParseException(line, "expected 'load <interval>': " + lines[from]);
        }
        long interval = duration(m.group(2), line);
        // a later line for the same series replaces the earlier one within a block (as promqltest keeps them by labels)
        java.util.Map<SortedMap<String, String>, LoadedSeries> series = new java.util.LinkedHashMap<>();
        for (int i = from + 1; i < to; i++) {
            SeriesLine parsed = seriesLine(lines[i], i + 1);
            if (parsed.histogram) {
                series.remove(parsed.labels);
                series.put(parsed.labels, new LoadedSeries(i + 1, parsed.labels, new long[0], new double[0], true));
                continue;
            }
            List<Double> values = parsed.values;
            int points = 0;
            for (Double v : values) {
                points += v == null ? 0 : 1;
            }
            long[] ts = new long[points];
            double[] vs = new double[points];
            int k = 0;
            for (int step = 0; step < values.size(); step++) {
                if (values.get(step) != null) {
                    ts[k] = step * interval;
                    vs[k] = values.get(step);
                    k++;
                }
            }
            series.remove(parsed.labels);
            series.put(parsed.labels, new LoadedSeries(i + 1, parsed.labels, ts, vs, false));
        }
        return new Load(line, interval, new ArrayList<>(series.values()), m.group(1) != null);
    }

    private static Eval eval(String[] lines, int from, int to) {
        int line = from + 1;
        String first = lines[from];
        Matcher instant = INSTANT.matcher(first);
        Matcher range = RANGE.matcher(first);
        String form;
        String expr;
        boolean isRange;
        long start;
        long end;
        long step;
        if (instant.matches()) {
            form = instant.group(1);
            isRange = false;
            start = duration(instant.group(2), line);
            end = start;
            step = 0;
            expr = instant.group(3).strip();
        } else if (range.matches()) {
            form = range.group(1);
            isRange = true;
            start = duration(range.group(2), line);
            end = duration(range.group(3), line);
            step = duration(range.group(4), line);
            expr = range.group(5).strip();
            if (step <= 0 || end < start) {
                throw new ParseException(line, "range eval needs start <= end and a positive step: " + first);
            }
        } else {
            throw new ParseException(line, "expected 'eval instant at <time> <expr>' or "
                    + "'eval range from <start> to <end> step <step> <expr>': " + first);
        }
        boolean fail = false;
        String failMessage = null;
        boolean ordered = false;
        List<String> annotations = new ArrayList<>();
        if (form != null) {
            switch (form.toLowerCase(Locale.ROOT)) {
                case "fail" -> fail = true;
                case "ordered" -> ordered = true;
                default -> annotations.add(form.toLowerCase(Locale.ROOT));
            }
        }
        Expected result = null;
        List<ExpectedSeries> series = new ArrayList<>();
        boolean histogram = false;
        for (int i = from + 1; i < to; i++) {
            String l = lines[i];
            int at = i + 1;
            String[] words = l.split("\\s+", 2);
            if (words[0].equals("expect")) {
                String rest = words.length > 1 ? words[1].strip() : "";
                String kind = rest.split("[\\s:]", 2)[0];
                String detail = rest.substring(kind.length()).strip();
                switch (kind) {
                    case "fail" -> {
                        fail = true;
                        failMessage = detail.isEmpty() ? null : detail;
                        checkMessageForm(detail, at, l);
                    }
                    case "ordered" -> {
                        noDetail(detail, at, l);
                        ordered = true;
                    }
                    case "warn", "info" -> {
                        checkMessageForm(detail, at, l);
                        annotations.add(rest);
                    }
                    case "no_warn", "no_info" -> {
                        noDetail(detail, at, l);
                        annotations.add(kind);
                    }
                    case "string" -> {
                        if (result != null || !series.isEmpty()) {
                            throw new ParseException(at, "a string result must be the only result: " + l);
                        }
                        result = new StringValue(unquote(detail, at));
                    }
                    default -> throw new ParseException(at, "unknown expectation: " + l);
                }
                continue;
            }
            if (result != null) {
                throw new ParseException(at, "nothing may follow a scalar or string result: " + l);
            }
            if (NUMBER.matcher(l).matches()) {
                if (!series.isEmpty()) {
                    throw new ParseException(at, "a scalar result must be the only result: " + l);
                }
                result = new ScalarValue(number(l, at));
                continue;
            }
            SeriesLine parsed = seriesLine(l, at);
            if (parsed.histogram) {
                histogram = true;
                series.add(new ExpectedSeries(at, parsed.labels, series.size() + 1, List.of()));
                continue;
            }
            if (!isRange && parsed.values.size() != 1) {
                throw new ParseException(at, "an instant eval expects one value per series, got "
                        + parsed.values.size() + ": " + l);
            }
            series.add(new ExpectedSeries(at, parsed.labels, series.size() + 1, parsed.values));
        }
        if (fail && (result != null || !series.isEmpty())) {
            throw new ParseException(line, "an eval expected to fail lists no result");
        }
        if (ordered && isRange) {
            throw new ParseException(line, "expect ordered applies to instant evals only");
        }
        if (!fail && result == null) {
            result = new SeriesList(series);
        }
        return new Eval(line, expr, isRange, start, end, step,
                new Expectation(fail, failMessage, ordered, annotations, result, histogram));
    }

    private static void noDetail(String detail, int line, String text) {
        if (!detail.isEmpty()) {
            throw new ParseException(line, "unexpected text after the expectation: " + text);
        }
    }

    /** {@code msg: …} or {@code regex: …} (a valid regular expression), or nothing. */
    private static void checkMessageForm(String detail, int line, String text) {
        if (detail.isEmpty()) {
            return;
        }
        if (detail.startsWith("msg:")) {
            return;
        }
        if (detail.startsWith("regex:")) {
            try {
                Pattern.compile(detail.substring("regex:".length()).strip());
                return;
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new ParseException(line, "invalid regex: " + text);
            }
        }
        throw new ParseException(line, "expected 'msg: …' or 'regex: …' after the expectation: " + text);
    }

    /** A series line: {@code name{labels} values}, {@code {labels} values} or a bare name with values. */
    record SeriesLine(SortedMap<String, String> labels, List<Double> values, boolean histogram) {
    }

    static SeriesLine seriesLine(String text, int line) {
        SortedMap<String, String> labels = new TreeMap<>();
        int pos = 0;
        Matcher name = METRIC_NAME.matcher(text);
        if (name.find()) {
            labels.put("__name__", name.group());
            pos = name.end();
        }
        if (pos < text.length() && text.charAt(pos) == '{') {
            pos = labels(text, pos + 1, line, labels);
        } else if (pos == 0) {
            throw new ParseException(line, "expected a series (name{labels} values): " + text);
        }
        if (pos < text.length() && !Character.isWhitespace(text.charAt(pos))) {
            throw new ParseException(line, "expected values after the series: " + text);
        }
        String values = text.substring(pos).strip();
        if (values.contains("{{")) {
            return new SeriesLine(labels, List.of(), true);
        }
        return new SeriesLine(labels, values(values, line), false);
    }

    /** Reads {@code a="b", c='d'} up to the closing brace (a bare quoted string is the metric name); returns past it. */
    private static int labels(String text, int pos, int line, SortedMap<String, String> into) {
        while (true) {
            pos = skipSpaces(text, pos);
            if (pos >= text.length()) {
                throw new ParseException(line, "unclosed '{': " + text);
            }
            char c = text.charAt(pos);
            if (c == '}') {
                return pos + 1;
            }
            String key;
            if (c == '"' || c == '\'' || c == '`') {
                int close = closingQuote(text, pos, line);
                key = unquote(text.substring(pos, close + 1), line);
                pos = close + 1;
            } else {
                Matcher m = LABEL_NAME.matcher(text.substring(pos));
                if (!m.find()) {
                    throw new ParseException(line, "expected a label name at column " + (pos + 1) + ": " + text);
                }
                key = m.group();
                pos += m.end();
            }
            pos = skipSpaces(text, pos);
            if (pos < text.length() && (text.charAt(pos) == ',' || text.charAt(pos) == '}')
                    && c == '"' && !into.containsKey("__name__")) {
                into.put("__name__", key); // {"metric.name", a="b"}
            } else {
                if (pos >= text.length() || text.charAt(pos) != '=') {
                    throw new ParseException(line, "expected '=' after label " + key + ": " + text);
                }
                pos = skipSpaces(text, pos + 1);
                if (pos >= text.length() || "\"'`".indexOf(text.charAt(pos)) < 0) {
                    throw new ParseException(line, "expected a quoted value for label " + key + ": " + text);
                }
                int close = closingQuote(text, pos, line);
                if (into.put(key, unquote(text.substring(pos, close + 1), line)) != null) {
                    throw new ParseException(line, "label " + key + " given twice: " + text);
                }
                pos = skipSpaces(text, close + 1);
            }
            if (pos < text.length() && text.charAt(pos) == ',') {
                pos++;
            } else if (pos >= text.length() || text.charAt(pos) != '}') {
                throw new ParseException(line, "expected ',' or '}': " + text);
            }
        }
    }

    private static int skipSpaces(String text, int pos) {
        while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
            pos++;
        }
        return pos;
    }

    private static int closingQuote(String text, int open, int line) {
        char q = text.charAt(open);
        for (int i = open + 1; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\\' && q != '`') {
                i++;
            } else if (c == q) {
                return i;
            }
        }
        throw new ParseException(line, "unclosed quote: " + text);
    }

    /** A Go-style quoted string: {@code "…"} or {@code '…'} with backslash escapes, or raw {@code `…`}. */
    static String unquote(String quoted, int line) {
        if (quoted.length() < 2 || quoted.charAt(0) != quoted.charAt(quoted.length() - 1)
                || "\"'`".indexOf(quoted.charAt(0)) < 0) {
            throw new ParseException(line, "expected a quoted string: " + quoted);
        }
        String body = quoted.substring(1, quoted.length() - 1);
        if (quoted.charAt(0) == '`') {
            return body;
        }
        StringBuilder out = new StringBuilder(body.length());
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (++i >= body.length()) {
                throw new ParseException(line, "dangling backslash: " + quoted);
            }
            char e = body.charAt(i);
            switch (e) {
                case 'n' -> out.append('\n');
                case 't' -> out.append('\t');
                case 'r' -> out.append('\r');
                case '\\', '"', '\'' -> out.append(e);
                case 'u' -> {
                    if (i + 4 >= body.length()) {
                        throw new ParseException(line, "short \\u escape: " + quoted);
                    }
                    out.append((char) Integer.parseInt(body.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                default -> throw new ParseException(line, "unsupported escape \\" + e + ": " + quoted);
            }
        }
        return out.toString();
    }

    /** The values of a series line, expanded; null stands for a missing point ({@code _}). */
    static List<Double> values(String text, int line) {
        List<Double> out = new ArrayList<>();
        if (text.isEmpty()) {
            return out;
        }
        for (String item : text.split("\\s+")) {
            Matcher blanks = BLANKS.matcher(item);
            if (blanks.matches()) {
                int n = blanks.group(1) == null ? 1 : count(blanks.group(1), line);
                for (int j = 0; j < n; j++) {
                    out.add(null);
                }
                continue;
            }
            Matcher m = ITEM.matcher(item);
            if (!m.matches()) {
                throw new ParseException(line, "invalid value '" + item + "'");
            }
            double value = m.group(1).equals("stale") ? Double.longBitsToDouble(Series.STALE_NAN_BITS)
                    : number(m.group(1), line);
            if (m.group(3) == null) {
                out.add(value);
                continue;
            }
            int times = count(m.group(3), line);
            double delta = m.group(2) == null ? 0 : number(m.group(2), line);
            out.add(value);
            for (int j = 1; j <= times; j++) {
                if (m.group(2) != null) {
                    value += delta; // step by step, as Prometheus expands it: float sums depend on it
                }
                out.add(value);
            }
        }
        return out;
    }

    private static int count(String digits, int line) {
        try {
            return Integer.parseInt(digits);
        } catch (NumberFormatException e) {
            throw new ParseException(line, "repeat count too large: " + digits);
        }
    }

    /** A number as Go's strconv reads one: integers (decimal, 0x hex, 0 octal), floats, Inf/Infinity and NaN. */
    static double number(String text, int line) {
        if (!NUMBER.matcher(text).matches()) {
            throw new ParseException(line, "invalid number '" + text + "'");
        }
        boolean negative = text.startsWith("-");
        String body = text.startsWith("-") || text.startsWith("+") ? text.substring(1) : text;
        String lower = body.toLowerCase(Locale.ROOT);
        double magnitude;
        if (lower.equals("inf") || lower.equals("infinity")) {
            magnitude = Double.POSITIVE_INFINITY;
        } else if (lower.equals("nan")) {
            return Double.NaN;
        } else if (lower.startsWith("0x")) {
            magnitude = new java.math.BigInteger(body.substring(2), 16).doubleValue();
        } else if (body.length() > 1 && body.startsWith("0") && body.chars().allMatch(ch -> ch >= '0' && ch <= '7')) {
            magnitude = new java.math.BigInteger(body.substring(1), 8).doubleValue();
        } else {
            magnitude = Double.parseDouble(body);
        }
        return negative ? -magnitude : magnitude;
    }

    /** A duration in Prometheus' notation, in milliseconds. */
    static long duration(String text, int line) {
        if (text.equals("0")) {
            return 0;
        }
        Matcher m = DURATION.matcher(text);
        if (text.isEmpty() || !m.matches()) {
            throw new ParseException(line, "invalid duration '" + text + "'");
        }
        long ms = 0;
        for (int g = 1; g <= UNIT_MS.length; g++) {
            if (m.group(g) != null) {
                ms = Math.addExact(ms, Math.multiplyExact(Long.parseLong(m.group(g)), UNIT_MS[g - 1]));
            }
        }
        return ms;
    }
}
