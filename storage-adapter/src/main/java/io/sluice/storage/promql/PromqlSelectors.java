package io.sluice.storage.promql;

import io.sluice.storage.query.Matcher;

import java.util.List;

/**
 * Prometheus' series selectors ({@code match[]} of {@code /series}, {@code /labels} and
 * {@code /label/{name}/values}): {@code up}, {@code up{job="api"}}, {@code {__name__=~"http_.+"}}, parsed by the
 * PromQL parser and refused as Prometheus refuses them (bad_data: not a plain selector, or one whose matchers all
 * match the empty label value).
 */
public final class PromqlSelectors {

    private PromqlSelectors() {
    }

    /**
     * The selector's matchers, the metric name as a {@value Matcher#NAME} matcher.
     *
     * @throws PromqlException bad_data when it is not a selector Prometheus accepts
     */
    public static List<Matcher> parse(String selector) {
        return PromqlParser.parseSelector(selector);
    }
}
