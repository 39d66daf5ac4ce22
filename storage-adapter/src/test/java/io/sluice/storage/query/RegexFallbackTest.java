package io.sluice.storage.query;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The regular expressions PostgreSQL refuses, applied in Java ({@link QueryRepository#filter}): PromQL's meaning, and
 * a pattern that backtracks exponentially ends at its deadline as a timeout instead of holding a thread.
 */
class RegexFallbackTest {

    private static final List<SeriesInfo> SERIES = List.of(
            new SeriesInfo(1, "cpu", Map.of("host", "H1")),
            new SeriesInfo(2, "cpu", Map.of("host", "h2")),
            new SeriesInfo(3, "mem", Map.of()),
            new SeriesInfo(4, "cpu", Map.of("host", "a".repeat(40) + "!")));

    private static long in(Duration d) {
        return System.nanoTime() + d.toNanos();
    }

    @Test
    void patternsMatchWholeValuesAMissingLabelIsEmptyAndTheLimitHolds() {
        Map<Matcher, Pattern> hostH = Map.of(new Matcher("host", Matcher.Op.REGEX, "(?i:h)\\d"),
                Pattern.compile("(?:(?i:h)\\d)"));
        assertThat(QueryRepository.filter(SERIES, hostH, 10, in(Duration.ofSeconds(10))))
                .extracting(SeriesInfo::id).containsExactly(1L, 2L);
        assertThat(QueryRepository.filter(SERIES, hostH, 1, in(Duration.ofSeconds(10))))
                .extracting(SeriesInfo::id).containsExactly(1L);
        Map<Matcher, Pattern> noHost = Map.of(new Matcher("host", Matcher.Op.NOT_REGEX, ".+"), Pattern.compile("(?:.+)"));
        assertThat(QueryRepository.filter(SERIES, noHost, 10, in(Duration.ofSeconds(10))))
                .extracting(SeriesInfo::id).containsExactly(3L);
        Map<Matcher, Pattern> name = Map.of(new Matcher(Matcher.NAME, Matcher.Op.REGEX, "(?i:MEM)"),
                Pattern.compile("(?:(?i:MEM))"));
        assertThat(QueryRepository.filter(SERIES, name, 10, in(Duration.ofSeconds(10))))
                .extracting(SeriesInfo::id).containsExactly(3L);
    }

    @Test
    void aPatternThatBacktracksExponentiallyEndsAtTheDeadlineAsATimeout() {
        // seconds on 26 characters, far longer on 41: java.util.regex cannot prune (.*a){20}
        Map<Matcher, Pattern> evil = Map.of(new Matcher("host", Matcher.Op.REGEX, "(?i:(.*a){20})"),
                Pattern.compile("(?:(?i:(.*a){20}))"));
        long start = System.nanoTime();
        assertThatThrownBy(() -> QueryRepository.filter(SERIES, evil, 10, in(Duration.ofMillis(200))))
                .isInstanceOfSatisfying(QueryException.class, e -> {
                    assertThat(e.kind()).isEqualTo(QueryException.Kind.TIMEOUT);
                    assertThat(e.getMessage()).contains("query.statement-timeout");
                });
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }
}
