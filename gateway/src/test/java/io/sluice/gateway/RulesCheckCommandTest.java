package io.sluice.gateway;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code sluice rules check FILE...}: Prometheus rule files validated without a database. */
class RulesCheckCommandTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    @TempDir
    Path dir;

    private int run(String... args) {
        return Main.run(new ArrayList<>(List.of(args)), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String stdout() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aGoodFileIsOk() throws Exception {
        Path good = Files.writeString(dir.resolve("good.yml"), """
                groups:
                  - name: node
                    interval: 15s
                    rules:
                      - alert: InstanceDown
                        expr: up == 0
                        for: 5m
                        annotations:
                          summary: "{{ $labels.instance }} down for {{ $value | humanizeDuration }}"
                      - alert: DiskFull
                        expr: disk_free < 0.1
                  - name: empty
                """);
        assertThat(run("rules", "check", good.toString())).isZero();
        assertThat(stdout()).isEqualTo(good + ": 2 rules in 2 groups: OK\n");
    }

    @Test
    void aBadFileListsEveryProblemAndExits1() throws Exception {
        Path good = Files.writeString(dir.resolve("good.yml"), "groups: []\n");
        Path bad = Files.writeString(dir.resolve("bad.yml"), """
                groups:
                  - name: node
                    rules:
                      - record: x
                        expr: sum(up)
                      - alert: Y
                        expr: nope(up)
                        annotations:
                          d: "{{ range }}"
                """);
        assertThat(run("rules", "check", good.toString(), bad.toString(), dir.resolve("missing.yml").toString()))
                .isEqualTo(1);
        assertThat(stdout()).contains(good + ": 0 rules in 0 groups: OK",
                bad + ": 3 problems",
                "  groups[0].rules[0].record: recording rules are not supported",
                "  groups[0].rules[1].expr: ",
                "unknown function with name \"nope\"",
                "  groups[0].rules[1].annotations.d: invalid template: \"range\" is not supported",
                dir.resolve("missing.yml") + ": no such file");
    }

    @Test
    void theMinimumIntervalComesFromTheConfiguration() throws Exception {
        Path file = Files.writeString(dir.resolve("r.yml"), """
                groups:
                  - name: g
                    interval: 10s
                    rules:
                      - alert: A
                        expr: up
                """);
        assertThat(run("rules", "check", file.toString())).isZero();
        out.reset();
        assertThat(run("--alerting.enterprise.min-interval=1m", "rules", "check", file.toString())).isEqualTo(1);
        assertThat(stdout()).contains("groups[0].interval: 10s is below the minimum interval of the enterprise tier, "
                + "1m (alerting.enterprise.min-interval)");
    }

    @Test
    void usageErrorsExit2AndHelpListsTheCommand() {
        assertThat(run("rules")).isEqualTo(2);
        assertThat(run("rules", "lint", "x")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("expected rules check FILE...");
        assertThat(run("help")).isZero();
        assertThat(stdout()).contains("rules check FILE...", "alerting.enterprise.min-interval");
    }
}
