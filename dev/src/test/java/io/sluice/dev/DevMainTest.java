package io.sluice.dev;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class DevMainTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return DevMain.run(List.of(args), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void helpListsTheDevCommandsBeforeTheProductionOnes() {
        assertThat(run("help")).isZero();
        String help = out.toString(StandardCharsets.UTF_8);
        assertThat(help).contains("dev [--reset-key]", "serve --config FILE", "keys create");
        assertThat(help.indexOf("dev [--reset-key]")).isLessThan(help.indexOf("serve --config FILE"));
    }

    @Test
    void promqlConformanceIsListedAndNeedsDirectoriesOfScripts() {
        assertThat(run("help")).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("promql-conformance [DIR...]");
        assertThat(run("promql-conformance", "no-such-directory-here")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("sluice promql-conformance: no-such-directory-here "
                + "is not a directory");
    }

    @Test
    void devTakesOnlyResetKey() {
        assertThat(run("dev", "--frobnicate")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("sluice dev: unexpected argument --frobnicate");
    }
}
