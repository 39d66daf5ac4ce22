package io.sluice.gateway.metrics;

import io.sluice.gateway.metrics.PromQlSelectors.Selector;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The scanner the dashboard test relies on finds metric names, and only metric names. */
class PromQlSelectorsTest {

    @Test
    void aggregationsFunctionsVariablesAndRangesAreNotMetrics() {
        assertThat(PromQlSelectors.of("sum by (reason, transport) (rate(sluice_ingest_rejected_total"
                + "{job=~\"$job\", instance=~\"$instance\"}[$__rate_interval]))"))
                .containsExactly(new Selector("sluice_ingest_rejected_total", "job=~\"$job\", instance=~\"$instance\""));
    }

    @Test
    void bothSidesOfABinaryOperationWithMatchingAndNumbers() {
        assertThat(PromQlSelectors.of("1 - sum without (result) (rate(a_total[5m] offset 1h)) / ignoring (x) "
                + "group_left(y) sum(rate(b_total{c=\"d\"}[1m:30s])) * 1e-3 > bool 0.5 or vector(0)"))
                .extracting(Selector::metric).containsExactly("a_total", "b_total");
    }

    @Test
    void bracesInsideQuotedLabelValuesDoNotEndTheMatchers() {
        assertThat(PromQlSelectors.of("max(x_seconds_max{route=\"/{code}\", y='}'})"))
                .containsExactly(new Selector("x_seconds_max", "route=\"/{code}\", y='}'"));
    }

    @Test
    void aBareMetricAndAColonNameAreMetrics() {
        assertThat(PromQlSelectors.of("up + job:requests:rate5m"))
                .extracting(Selector::metric).containsExactly("up", "job:requests:rate5m");
    }

    @Test
    void aBrokenExpressionIsAnErrorNotAnEmptyAnswer() {
        assertThatThrownBy(() -> PromQlSelectors.of("rate(a_total{job=\"x\"[5m])"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
