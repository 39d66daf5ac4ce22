package io.sluice.storage.promql;

import java.util.List;
import java.util.Objects;
import java.util.SortedMap;

/** What a PromQL expression evaluates to, by Prometheus' result types. */
public sealed interface PromqlResult {

    /** Prometheus' {@code resultType}: {@code scalar}, {@code string}, {@code vector} or {@code matrix}. */
    String resultType();

    /** A number at one time. */
    record Scalar(long timeMs, double value) implements PromqlResult {
        @Override
        public String resultType() {
            return "scalar";
        }
    }

    /** A string at one time (a string literal). */
    record Text(long timeMs, String value) implements PromqlResult {
        public Text {
            Objects.requireNonNull(value);
        }

        @Override
        public String resultType() {
            return "string";
        }
    }

    /** One value per series at one time: an instant query's answer. */
    record Vector(List<Sample> samples) implements PromqlResult {
        public Vector {
            samples = List.copyOf(samples);
        }

        @Override
        public String resultType() {
            return "vector";
        }
    }

    /** Series with their points: a range query's answer, or an instant query of a range selector. */
    record Matrix(List<Series> series) implements PromqlResult {
        public Matrix {
            series = List.copyOf(series);
        }

        @Override
        public String resultType() {
            return "matrix";
        }
    }

    /** One series' value at one time. */
    record Sample(SortedMap<String, String> labels, long timeMs, double value) {
        public Sample {
            Objects.requireNonNull(labels);
        }
    }
}
