package io.sluice.gateway.links;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LinkRulesTest {

    private final LinkRules rules = new LinkRules("http://sho.rt:8080");

    @ParameterizedTest
    @ValueSource(strings = {"https://example.com/a\r\nSet-Cookie: x=1", "https://example.com/a b", "javascript:alert(1)",
            "/relative/path", "ftp://example.com/file", "http://sho.rt:8080/loop", "http://user:pw@example.com/",
            "https://exa mple.com", "http:///nohost", "https://example.com/\u0000", "https://example.com/\t"})
    void badDestinationsAreRefused(String url) {
        assertThatThrownBy(() -> rules.checkTarget(url)).isInstanceOf(LinkRules.InvalidLinkException.class)
                .hasMessageStartingWith("url:");
    }

    @Test
    void goodDestinationsAreKeptInAsciiForm() {
        assertThat(rules.checkTarget("https://example.com/path?q=1#f")).isEqualTo("https://example.com/path?q=1#f");
        assertThat(rules.checkTarget("https://example.com/caf\u00e9")).isEqualTo("https://example.com/caf%C3%A9");
        assertThat(rules.checkTarget("http://sho.rt:9090/other-port")).startsWith("http://sho.rt:9090");
        assertThatThrownBy(() -> rules.checkTarget("https://example.com/" + "a".repeat(2100)))
                .hasMessageContaining("2048");
    }

    @Test
    void whatCheckTargetReturnsIsALocationValueAndNothingWithSpacesControlsOrNonAsciiIs() {
        assertThat(LinkRules.isLocationValue(rules.checkTarget("https://example.com/caf\u00e9?q=1"))).isTrue();
        assertThat(LinkRules.isLocationValue("https://example.com/a b")).isFalse();
        assertThat(LinkRules.isLocationValue("https://example.com/a\r\nSet-Cookie: x=1")).isFalse();
        assertThat(LinkRules.isLocationValue("https://example.com/caf\u00e9")).isFalse();
        assertThat(LinkRules.isLocationValue("")).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ab", "api", "Health", "metrics", "has space", "abcdefg", "Abc1234x", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "a/b"})
    void badAliasesAreRefused(String alias) {
        assertThatThrownBy(() -> rules.checkAlias(alias)).isInstanceOf(LinkRules.InvalidLinkException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sale", "summer-24", "my_link", "abcdef", "abcdefghi"})
    void goodAliasesPass(String alias) {
        rules.checkAlias(alias);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "ab", "a b", "a/b", "caf\u00e9", "a.b", "a%20", "{}x", "abc\u0000"})
    void onlyCodeShapedPathsAreLookedUp(String path) {
        assertThat(LinkRules.isCode(path)).isFalse();
    }

    @Test
    void codesAreThreeToSixtyFourOfLettersDigitsUnderscoreAndDash() {
        assertThat(LinkRules.isCode("aZ0")).isTrue();
        assertThat(LinkRules.isCode("Az09_-" + "x".repeat(58))).isTrue();
        assertThat(LinkRules.isCode("x".repeat(65))).isFalse();
        assertThat(LinkRules.isCode("PfCRd6J")).isTrue();
    }
}
