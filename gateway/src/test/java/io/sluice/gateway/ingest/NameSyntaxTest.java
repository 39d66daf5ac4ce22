package io.sluice.gateway.ingest;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The character checks of each name syntax accept exactly what its regular expression accepts. */
class NameSyntaxTest {

    /** Every class boundary of the syntaxes, and what lies just outside them, plus non-ASCII and a surrogate. */
    private static final String ALPHABET = "aAzZ09_:.-@`[{/ \t\u00e9\u0430\ud83d\u212a";

    @Test
    void eachSyntaxAcceptsWhatItsRegularExpressionAccepts() {
        SplittableRandom random = new SplittableRandom(42);
        for (NameSyntax syntax : NameSyntax.values()) {
            Pattern regex = Pattern.compile(syntax.pattern());
            int accepted = 0;
            for (int i = 0; i < 100_000; i++) {
                StringBuilder name = new StringBuilder();
                int length = random.nextInt(0, 6);
                for (int j = 0; j < length; j++) {
                    name.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
                }
                boolean expected = regex.matcher(name).matches();
                assertThat(syntax.matches(name.toString())).as("%s %s", syntax, name).isEqualTo(expected);
                accepted += expected ? 1 : 0;
            }
            assertThat(accepted).as("names %s accepts among the random ones", syntax).isGreaterThan(1_000);
        }
        assertThat(NameSyntax.METRIC.matches("http_requests_total:rate5m")).isTrue();
        assertThat(NameSyntax.LABEL.matches("host.name")).isFalse();
        assertThat(NameSyntax.EVENT_TYPE.matches("deploy.finished-ok")).isTrue();
        assertThat(NameSyntax.LABEL.matches("")).isFalse();
    }
}
