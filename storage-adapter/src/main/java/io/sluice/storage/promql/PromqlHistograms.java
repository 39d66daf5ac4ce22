package io.sluice.storage.promql;

import io.sluice.storage.promql.Values.Sample;
import io.sluice.storage.promql.Values.VectorV;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** {@code histogram_quantile} over classic histograms (cumulative {@code _bucket} series with an {@code le} label). */
final class PromqlHistograms {

    private static final double SMALL_DELTA = 1e-12;

    private PromqlHistograms() {
    }

    private record Bucket(double upper, double count) {
    }

    static VectorV quantile(double q, List<Sample> in, long t) {
        Map<SortedMap<String, String>, List<Bucket>> groups = new LinkedHashMap<>();
        for (Sample s : in) {
            String le = s.labels().get("le");
            Double upper = le == null ? null : parseFloat(le);
            if (upper == null) {
                continue;
            }
            TreeMap<String, String> labels = new TreeMap<>(s.labels());
            labels.remove("le");
            labels.remove("__name__");
            groups.computeIfAbsent(Values.freeze(labels), k -> new ArrayList<>()).add(new Bucket(upper, s.value()));
        }
        List<Sample> out = new ArrayList<>();
        for (Map.Entry<SortedMap<String, String>, List<Bucket>> e : groups.entrySet()) {
            out.add(new Sample(e.getKey(), bucketQuantile(q, e.getValue()), t));
        }
        return new VectorV(out);
    }

    /** A float as Go's {@code strconv.ParseFloat} reads it, or null. */
    static Double parseFloat(String s) {
        String l = s.toLowerCase(Locale.ROOT);
        switch (l) {
            case "+inf", "inf", "+infinity", "infinity":
                return Double.POSITIVE_INFINITY;
            case "-inf", "-infinity":
                return Double.NEGATIVE_INFINITY;
            case "nan":
                return Double.NaN;
            default:
                break;
        }
        if (l.isEmpty() || l.endsWith("d") || l.endsWith("f") || l.contains("infinity") || l.contains("nan")) {
            return null;
        }
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    static double bucketQuantile(double q, List<Bucket> in) {
        if (Double.isNaN(q)) {
            return Double.NaN;
        }
        if (q < 0) {
            return Double.NEGATIVE_INFINITY;
        }
        if (q > 1) {
            return Double.POSITIVE_INFINITY;
        }
        List<Bucket> sorted = new ArrayList<>(in);
        sorted.sort((a, b) -> Double.compare(a.upper(), b.upper()));
        if (sorted.isEmpty() || sorted.get(sorted.size() - 1).upper() != Double.POSITIVE_INFINITY) {
            return Double.NaN;
        }
        List<Bucket> buckets = new ArrayList<>();
        for (Bucket b : sorted) {
            int last = buckets.size() - 1;
            if (last >= 0 && buckets.get(last).upper() == b.upper()) {
                buckets.set(last, new Bucket(b.upper(), buckets.get(last).count() + b.count()));
            } else {
                buckets.add(b);
            }
        }
        int size = buckets.size();
        double[] upper = new double[size];
        double[] count = new double[size];
        for (int i = 0; i < size; i++) {
            upper[i] = buckets.get(i).upper();
            count[i] = buckets.get(i).count();
        }
        double prev = count[0];
        for (int i = 1; i < size; i++) {
            double curr = count[i];
            if (curr == prev) {
                continue;
            }
            if (almostEqual(prev, curr, SMALL_DELTA)) {
                count[i] = prev;
                continue;
            }
            if (curr < prev) {
                count[i] = prev;
                continue;
            }
            prev = curr;
        }
        if (size < 2) {
            return Double.NaN;
        }
        double observations = count[size - 1];
        if (observations == 0) {
            return Double.NaN;
        }
        double rank = q * observations;
        int b = 0;
        while (b < size - 1 && !(count[b] >= rank)) {
            b++;
        }
        if (b == size - 1) {
            return upper[size - 2];
        }
        if (b == 0 && upper[0] <= 0) {
            return upper[0];
        }
        double bucketStart = 0;
        double bucketEnd = upper[b];
        double c = count[b];
        if (b > 0) {
            bucketStart = upper[b - 1];
            c -= count[b - 1];
            rank -= count[b - 1];
        }
        return bucketStart + (bucketEnd - bucketStart) * (rank / c);
    }

    static boolean almostEqual(double a, double b, double epsilon) {
        if (a == b) {
            return true;
        }
        double absSum = Math.abs(a) + Math.abs(b);
        double diff = Math.abs(a - b);
        if (a == 0 || b == 0 || absSum < Double.MIN_NORMAL) {
            return diff < epsilon * Double.MIN_NORMAL;
        }
        return diff / Math.min(absSum, Double.MAX_VALUE) < epsilon;
    }
}
