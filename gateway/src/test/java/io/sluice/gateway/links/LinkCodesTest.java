package io.sluice.gateway.links;

import io.sluice.storage.links.LinkCodes;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class LinkCodesTest {

    @Test
    void codesAreDistinctLongEnoughAndNotSequential() {
        LinkCodes codes = new LinkCodes("secret");
        Set<String> seen = new HashSet<>();
        String previous = null;
        int sharedPrefixes = 0;
        for (long id = 64; id < 64 + 200_000; id++) {
            String code = codes.code(id);
            assertThat(code).hasSizeBetween(7, 8).matches("[0-9A-Za-z]+");
            assertThat(seen.add(code)).as("collision at id " + id).isTrue();
            if (previous != null && previous.regionMatches(0, code, 0, 4)) {
                sharedPrefixes++;
            }
            previous = code;
        }
        assertThat(sharedPrefixes).as("consecutive ids give unrelated codes").isLessThan(200);
        assertThat(codes.code(LinkCodes.MAX_ID - 1)).hasSizeBetween(7, 8);
    }

    @Test
    void anotherKeyGivesOtherCodes() {
        assertThat(new LinkCodes("a").code(1000)).isNotEqualTo(new LinkCodes("b").code(1000));
        assertThat(new LinkCodes("a").code(1000)).isEqualTo(new LinkCodes("a").code(1000));
    }
}
