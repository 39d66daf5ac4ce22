package io.sluice.protocol.frame;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The hex dumps in SPEC.md are the published fixtures: every fenced block opened with
 * {@code ```hex golden/v1/<name>.hex} must hold exactly that fixture's bytes (comments after {@code #}
 * aside), and every fixture under {@code golden/} must be shown in SPEC.md, so the spec's examples and the
 * bytes the tests pin cannot drift apart.
 */
class SpecExamplesTest {

    private static final Path SPEC = Path.of("SPEC.md");
    private static final Path GOLDEN = Path.of("golden");
    private static final Pattern EXAMPLE = Pattern.compile("(?ms)^```hex[ \\t]+(\\S+)[ \\t]*\\n(.*?)^```[ \\t]*$");

    record Example(String fixture, String hex) {
    }

    static List<Example> examples() throws IOException {
        String spec = Files.readString(SPEC, StandardCharsets.UTF_8);
        List<Example> found = new ArrayList<>();
        Matcher m = EXAMPLE.matcher(spec);
        while (m.find()) {
            found.add(new Example(m.group(1), m.group(2)));
        }
        return found;
    }

    @Test
    void everyHexExampleInTheSpecEqualsItsFixture() throws IOException {
        List<Example> examples = examples();
        assertThat(examples).as("hex examples in SPEC.md").isNotEmpty();
        for (Example e : examples) {
            Path fixture = Path.of(e.fixture());
            assertThat(fixture).as("SPEC.md names %s", e.fixture()).startsWith(GOLDEN).isRegularFile();
            byte[] inSpec = GoldenFramesTest.parseHex(e.hex());
            byte[] pinned = GoldenFramesTest.parseHex(Files.readString(fixture, StandardCharsets.UTF_8));
            assertThat(HexFormat.of().formatHex(inSpec)).as("SPEC.md example %s", e.fixture())
                    .isEqualTo(HexFormat.of().formatHex(pinned));
        }
    }

    @Test
    void everyFixtureIsShownInTheSpec() throws IOException {
        Set<String> shown = examples().stream().map(Example::fixture).collect(Collectors.toCollection(TreeSet::new));
        Set<String> fixtures;
        try (Stream<Path> files = Files.walk(GOLDEN)) {
            fixtures = files.filter(p -> p.toString().endsWith(".hex")).map(p -> p.toString().replace('\\', '/'))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        assertThat(fixtures).isNotEmpty();
        assertThat(shown).isEqualTo(fixtures);
    }
}
