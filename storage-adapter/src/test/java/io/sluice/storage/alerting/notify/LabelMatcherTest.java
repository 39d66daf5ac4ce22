package io.sluice.storage.alerting.notify;

import io.sluice.storage.query.QueryException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LabelMatcherTest {

    private static final Map<String, String> LABELS = Map.of("severity", "critical", "host", "db-1");

    @Test
    void equalityAndRegexesAnchoredWithAMissingLabelAsEmpty() {
        assertThat(LabelMatcher.of("severity", "=", "critical").matches(LABELS)).isTrue();
        assertThat(LabelMatcher.of("severity", "!=", "critical").matches(LABELS)).isFalse();
        assertThat(LabelMatcher.of("host", "=~", "db-.*").matches(LABELS)).isTrue();
        assertThat(LabelMatcher.of("host", "=~", "db").matches(LABELS)).as("anchored").isFalse();
        assertThat(LabelMatcher.of("host", "=~", "b-1").matches(LABELS)).as("anchored at the start").isFalse();
        assertThat(LabelMatcher.of("host", "!~", "web-.*").matches(LABELS)).isTrue();
        assertThat(LabelMatcher.of("team", "=", "").matches(LABELS)).as("missing is \"\"").isTrue();
        assertThat(LabelMatcher.of("team", "!~", ".+").matches(LABELS)).isTrue();
        assertThat(LabelMatcher.of("team", "=~", "a|").matches(LABELS)).isTrue();
        assertThat(LabelMatcher.all(List.of(), LABELS)).isTrue();
        assertThat(LabelMatcher.all(List.of(LabelMatcher.of("severity", "=", "critical"),
                LabelMatcher.of("host", "=", "db-2")), LABELS)).isFalse();
        assertThat(LabelMatcher.of("host", "=~", "db-\"1").toString()).isEqualTo("host=~\"db-\\\"1\"");
    }

    @Test
    void invalidMatchersNameTheProblem() {
        assertThatThrownBy(() -> LabelMatcher.of("host", "=~", "(["))
                .isInstanceOf(LabelMatcher.InvalidMatcherException.class).hasMessageStartingWith("value: ([ is not a "
                        + "valid regex");
        assertThatThrownBy(() -> LabelMatcher.of("host", "~", "a")).hasMessageStartingWith("op: ~");
        assertThatThrownBy(() -> LabelMatcher.of("1host", "=", "a")).hasMessageStartingWith("name: 1host");
        assertThatThrownBy(() -> JsonTree.matchers(JsonTree.parse("[{\"name\":\"a\",\"op\":\"=~\",\"value\":\"(\"}]"),
                "routes[2].matchers")).hasMessageStartingWith("routes[2].matchers[0].value: ( is not a valid regex");
    }

    @Test
    void aCatastrophicRegexEndsAtItsDeadline() {
        // java.util.regex cannot prune (.*a){20}: seconds on 26 characters, far longer on 41
        LabelMatcher evil = LabelMatcher.of("host", "=~", "(.*a){20}");
        Map<String, String> labels = Map.of("host", "a".repeat(40) + "!");
        long start = System.nanoTime();
        assertThatThrownBy(() -> evil.matches(labels, start + 200_000_000L)).isInstanceOf(QueryException.class);
        assertThat(System.nanoTime() - start).isLessThan(5_000_000_000L);
    }
}
