package io.sluice.gateway;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class MainTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Main.run(List.of(args), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void helpListsTheCommands() {
        assertThat(run("help")).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("serve --config FILE", "--roles=writer", "help")
                .as("dev needs the embedded Kafka and PostgreSQL this distribution does not carry")
                .doesNotContain("dev [--reset-key]");
    }

    @Test
    void devAndClusterSayWhereTheyLive() {
        assertThat(run("dev")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("sluice dev: not part of this distribution",
                "bin/sluice dev");
    }

    @Test
    void unknownCommandIsAUsageError() {
        assertThat(run("frobnicate")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown command 'frobnicate'", "Usage:");
    }

    @Test
    void keysAndTenantsExplainTheirUsageWithoutTouchingADatabase() {
        assertThat(run("keys")).isEqualTo(2);
        assertThat(run("keys", "create", "--tenant", "acme")).isEqualTo(2);
        assertThat(run("keys", "create", "--tenant", "acme", "--tier", "gold")).isEqualTo(2);
        assertThat(run("tenants", "set-tier", "--tenant", "acme")).isEqualTo(2);
        assertThat(run("tenants", "promote")).isEqualTo(2);
        assertThat(run("keys", "create", "--tenant", "acme", "--tier", "free", "--all")).isEqualTo(2);
        assertThat(out.toString(StandardCharsets.UTF_8)).isEmpty();
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("usage: sluice keys create",
                "--tier: gold (expected: free, paid or enterprise)", "usage: sluice tenants set-tier",
                "unknown subcommand 'promote'", "keys create does not take --all");
    }

    @Test
    void invalidSettingStopsStartWithTheSettingNamed() {
        assertThat(run("serve", "--server.port=70000")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8))
                .contains("server.port: 70000 (expected: 0..65535) [from command line --server.port]");
    }
}
