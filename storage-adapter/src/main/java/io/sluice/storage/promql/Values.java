package io.sluice.storage.promql;

import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** What an expression evaluates to at one time, inside the engine. */
final class Values {

    private Values() {
    }

    /** Label sets compare as Prometheus orders them: label by label, name then value; a prefix sorts first. */
    static final Comparator<SortedMap<String, String>> LABEL_ORDER = (a, b) -> {
        Iterator<Map.Entry<String, String>> ia = a.entrySet().iterator();
        Iterator<Map.Entry<String, String>> ib = b.entrySet().iterator();
        while (ia.hasNext() && ib.hasNext()) {
            Map.Entry<String, String> ea = ia.next();
            Map.Entry<String, String> eb = ib.next();
            int c = ea.getKey().compareTo(eb.getKey());
            if (c != 0) {
                return c;
            }
            c = ea.getValue().compareTo(eb.getValue());
            if (c != 0) {
                return c;
            }
        }
        return Boolean.compare(ia.hasNext(), ib.hasNext());
    };

    static final SortedMap<String, String> EMPTY = Collections.unmodifiableSortedMap(new TreeMap<>());

    static SortedMap<String, String> freeze(TreeMap<String, String> labels) {
        return Collections.unmodifiableSortedMap(labels);
    }

    static SortedMap<String, String> withoutName(SortedMap<String, String> labels) {
        if (!labels.containsKey("__name__")) {
            return labels;
        }
        TreeMap<String, String> copy = new TreeMap<>(labels);
        copy.remove("__name__");
        return freeze(copy);
    }

    sealed interface Value {
    }

    record ScalarV(double value) implements Value {
    }

    record StringV(String value) implements Value {
    }

    /** One series' value; {@code timeMs} is the sample's own time for a selector's samples, else the step's. */
    record Sample(SortedMap<String, String> labels, double value, long timeMs) {
    }

    record VectorV(List<Sample> samples) implements Value {
    }

    /**
     * One series' points inside a range: {@code [from, to)} of the arrays, which a range selector's points share with
     * the series they were selected from (a window onto its samples, not a copy). Never changes what it holds,
     * except the one window {@link PromqlEvaluator#eachWindow} moves from series to series (see there).
     */
    static final class Points {
        private SortedMap<String, String> labels;
        private long[] ts;
        private double[] vs;
        private int from;
        private int to;

        /** All of the arrays' points. */
        Points(SortedMap<String, String> labels, long[] ts, double[] vs) {
            this(labels, ts, vs, 0, ts.length);
        }

        Points(SortedMap<String, String> labels, long[] ts, double[] vs, int from, int to) {
            if (from < 0 || to < from || to > ts.length || ts.length != vs.length) {
                throw new IllegalArgumentException("points [" + from + ", " + to + ") of " + ts.length + "/"
                        + vs.length);
            }
            this.labels = labels;
            this.ts = ts;
            this.vs = vs;
            this.from = from;
            this.to = to;
        }

        /** Makes this the window {@code [from, to)} of these arrays (the window {@code eachWindow} moves). */
        Points reset(SortedMap<String, String> labels, long[] ts, double[] vs, int from, int to) {
            this.labels = labels;
            this.ts = ts;
            this.vs = vs;
            this.from = from;
            this.to = to;
            return this;
        }

        SortedMap<String, String> labels() {
            return labels;
        }

        int size() {
            return to - from;
        }

        /** The i-th point's time. */
        long t(int i) {
            return ts[from + i];
        }

        /** The i-th point's value. */
        double v(int i) {
            return vs[from + i];
        }

        /** The points' times (a copy). */
        long[] timestamps() {
            return Arrays.copyOfRange(ts, from, to);
        }

        /** The points' values (a copy). */
        double[] values() {
            return Arrays.copyOfRange(vs, from, to);
        }
    }

    /** A range vector: the points in {@code (windowStart, windowEnd]} per series. */
    record MatrixV(List<Points> series, long windowStart, long windowEnd) implements Value {
        long rangeMs() {
            return windowEnd - windowStart;
        }
    }
}
