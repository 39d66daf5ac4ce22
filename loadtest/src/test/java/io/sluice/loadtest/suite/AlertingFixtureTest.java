package io.sluice.loadtest.suite;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.storage.alerting.AlertRule;
import io.sluice.storage.alerting.RuleDocument;
import io.sluice.storage.alerting.RuleValidator;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The P7 row's rules and data under the settings the suite's {@code bin/sluice dev} runs with: every rule file is
 * taken by Sluice's own rule-file validator for the enterprise {@code dev} tenant, and the gauges fit the tenant's
 * active-series limit.
 */
class AlertingFixtureTest {

    private static final SluiceConfig BENCH = ConfigLoader.load(Path.of("sluice-loadtest.properties"), Map.of(), Map.of());

    private final AlertingFixture fixture = new AlertingFixture("alert-test");

    @Test
    void everyRuleFileIsValidAndHoldsItsShareOfTheRules() {
        RuleValidator validator = new RuleValidator(BENCH.alerting());
        Set<String> expressions = new HashSet<>();
        int rules = 0;
        for (int g = 0; g < AlertingFixture.GROUPS; g++) {
            RuleValidator.RuleFile file = validator.ruleFile(yaml(fixture.ruleFile(g)), "dev", Tier.ENTERPRISE);
            assertThat(file.groups()).containsExactly(AlertingFixture.groupName(g));
            assertThat(file.rules()).hasSize(AlertingFixture.RULES / AlertingFixture.GROUPS);
            for (AlertRule rule : file.rules()) {
                assertThat(rule.interval()).isEqualTo(Duration.ofSeconds(AlertingFixture.INTERVAL_SECONDS));
                assertThat(rule.promql()).contains("job=\"alert-test\"");
                expressions.add(rule.promql());
            }
            rules += file.rules().size();
        }
        assertThat(fixture.ruleFile(0))
                .contains("max by (shard) (bench_alert_load{job=\"alert-test\",shard=\"s0000\"}) > 90")
                .contains("avg_over_time(bench_alert_load{job=\"alert-test\",shard=\"s0001\"}[5m]) > 95")
                .contains("bench_alert_load{job=\"alert-test\",shard=\"s0002\"} > 98");
        assertThat(rules).isEqualTo(AlertingFixture.RULES).isLessThanOrEqualTo(BENCH.alerting().maxRulesPerTenant());
        assertThat(expressions).as("no two rules share an answer").hasSize(AlertingFixture.RULES);
    }

    @Test
    void anEmptyGroupIsValid() {
        RuleValidator.RuleFile file = new RuleValidator(BENCH.alerting())
                .ruleFile(yaml(AlertingFixture.emptyGroup(3)), "dev", Tier.ENTERPRISE);
        assertThat(file.groups()).containsExactly("bench-alert-3");
        assertThat(file.rules()).isEmpty();
    }

    @Test
    void theGaugesFitTheBenchSettingsAndTheExpectedAlertsCanBeListed() {
        assertThat(AlertingFixture.series()).isEqualTo(100_000)
                .isLessThanOrEqualTo(BENCH.ingest().maxActiveSeries() - 10_000); // room for the other rows' series
        int perBody = 10_000;
        long bytes = fixture.jsonBody(AlertingFixture.bodies(perBody) - 1, perBody, 1_700_000_000_000L).length;
        assertThat(bytes).isLessThanOrEqualTo(BENCH.server().maxBodyBytes());
        assertThat(perBody).isLessThanOrEqualTo(BENCH.ingest().maxItemsPerRequest());
        // the row counts firing alerts through GET /prometheus/api/v1/rules, which lists at most 10,000
        assertThat(AlertingFixture.expectedFiring()).isBetween(1_000, 9_999);
    }

    private static Object yaml(String text) {
        return RuleDocument.readYaml(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)));
    }
}
