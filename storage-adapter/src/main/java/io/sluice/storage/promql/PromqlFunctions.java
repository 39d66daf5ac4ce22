package io.sluice.storage.promql;

import io.sluice.storage.promql.Expr.Type;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every function PromQL knows, with its signature, and whether Sluice's subset evaluates it. A known function
 * outside the subset parses and type-checks, then fails with {@link UnsupportedPromqlException}; an unknown name
 * is a parse error, as in Prometheus.
 */
final class PromqlFunctions {

    /**
     * A function's signature.
     *
     * @param args     argument types; with {@code variadic} != 0 the last one is optional and repeats
     * @param variadic 0 for a fixed arity, n for up to n more (optional) arguments, -1 for any number
     */
    record Function(String name, List<Type> args, int variadic, Type returns, boolean supported) {
    }

    /** Aggregation operators and whether the subset evaluates them. */
    static final Map<String, Boolean> AGGREGATIONS = Map.ofEntries(Map.entry("sum", true), Map.entry("avg", true),
            Map.entry("min", true), Map.entry("max", true), Map.entry("count", true), Map.entry("group", true),
            Map.entry("stddev", true), Map.entry("stdvar", true), Map.entry("topk", true),
            Map.entry("bottomk", true), Map.entry("quantile", true), Map.entry("count_values", true),
            Map.entry("limitk", false), Map.entry("limit_ratio", false));

    /** Aggregations that take a parameter before the vector. */
    static final Set<String> PARAMETERISED = Set.of("topk", "bottomk", "quantile", "count_values", "limitk",
            "limit_ratio");

    private static final Map<String, Function> FUNCTIONS = new HashMap<>();

    private static final Type S = Type.SCALAR;
    private static final Type V = Type.VECTOR;
    private static final Type M = Type.MATRIX;
    private static final Type STR = Type.STRING;

    private static void add(boolean supported, String name, Type returns, int variadic, Type... args) {
        FUNCTIONS.put(name, new Function(name, List.of(args), variadic, returns, supported));
    }

    static {
        for (String f : List.of("abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn", "acos", "acosh",
                "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh", "deg", "rad",
                "timestamp", "sort", "sort_desc", "absent")) {
            add(true, f, V, 0, V);
        }
        for (String f : List.of("avg_over_time", "count_over_time", "last_over_time", "max_over_time",
                "min_over_time", "sum_over_time", "stddev_over_time", "stdvar_over_time", "present_over_time",
                "absent_over_time", "changes", "resets", "delta", "deriv", "idelta", "increase", "irate", "rate")) {
            add(true, f, V, 0, M);
        }
        for (String f : List.of("first_over_time", "mad_over_time", "ts_of_first_over_time", "ts_of_last_over_time",
                "ts_of_max_over_time", "ts_of_min_over_time")) {
            add(true, f, V, 0, M);
        }
        add(true, "quantile_over_time", V, 0, S, M);
        add(true, "predict_linear", V, 0, M, S);
        add(true, "clamp", V, 0, V, S, S);
        add(true, "clamp_max", V, 0, V, S);
        add(true, "clamp_min", V, 0, V, S);
        for (String f : List.of("day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute",
                "month", "year")) {
            add(true, f, V, 1, V);
        }
        add(true, "histogram_quantile", V, 0, S, V);
        for (String f : List.of("histogram_avg", "histogram_count", "histogram_sum", "histogram_stddev",
                "histogram_stdvar")) {
            add(false, f, V, 0, V);
        }
        add(false, "histogram_fraction", V, 0, S, S, V);
        add(true, "double_exponential_smoothing", V, 0, M, S, S);
        add(true, "label_join", V, -1, V, STR, STR, STR);
        add(true, "label_replace", V, 0, V, STR, STR, STR, STR);
        add(true, "pi", S, 0);
        add(true, "scalar", S, 0, V);
        add(true, "time", S, 0);
        add(true, "vector", V, 0, S);
        add(true, "round", V, 1, V, S);
        add(true, "sort_by_label", V, -1, V, STR);
        add(true, "sort_by_label_desc", V, -1, V, STR);
        add(false, "info", V, 1, V, V);
        add(true, "step", S, 0);
        add(true, "range", S, 0);
        add(true, "start", S, 0);
        add(true, "end", S, 0);
        add(true, "min_of", S, 0, S, S);
        add(true, "max_of", S, 0, S, S);
    }

    private PromqlFunctions() {
    }

    /** The function of that name, or null when PromQL has none. */
    static Function get(String name) {
        return FUNCTIONS.get(name);
    }
}
