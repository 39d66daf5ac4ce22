package io.sluice.storage.promql;

/**
 * Checks an expression without evaluating it, for what stores expressions to run later (alert rules): it parses,
 * type-checks, and stays inside Sluice's PromQL subset, or the {@link PromqlException} says why not.
 */
public final class PromqlExpressions {

    private PromqlExpressions() {
    }

    /**
     * Parses and type-checks {@code expr}.
     *
     * @return the expression's type as Prometheus names it: {@code scalar}, {@code instant vector},
     *         {@code range vector} or {@code string}
     * @throws PromqlException a {@code bad_data} one naming the problem and its position, or an
     *                         {@link UnsupportedPromqlException} naming what Sluice does not support
     */
    public static String check(String expr) {
        return PromqlParser.parse(expr).type().label;
    }
}
