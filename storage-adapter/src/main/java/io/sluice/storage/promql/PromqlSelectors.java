package io.sluice.storage.promql;

import io.sluice.storage.query.Matcher;

import java.util.List;

/**
 * Series selectors as the Prometheus API takes them in {@code match[]} ({@code /series}, {@code /labels},
 * {@code /label/{name}/values}): {@code up}, {@code up{job="api"}}, {@code {__name__=~"http_.*"}}, parsed by the
 * PromQL grammar.
 */
public final class PromqlSelectors {

    private PromqlSelectors() {
    }

    /**
     * The matchers of one selector; the metric name is a {@code __name__} matcher.
     *
     * @throws PromqlException ({@code bad_data}) when the text is not a single instant vector selector without
     *                         modifiers, or has no matcher that excludes the empty value
     */
    public static List<Matcher> parse(String selector) {
        return PromqlParser.parseSelector(selector);
    }
}
