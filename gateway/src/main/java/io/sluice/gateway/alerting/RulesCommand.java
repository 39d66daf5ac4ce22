package io.sluice.gateway.alerting;

import io.sluice.config.AlertingConfig;
import io.sluice.config.Tier;
import io.sluice.storage.alerting.InvalidRuleException;
import io.sluice.storage.alerting.RuleDocument;
import io.sluice.storage.alerting.RuleValidator;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code sluice rules check FILE…}: validates Prometheus rule files as the import API would, without a database,
 * against the configuration's minimum interval of the enterprise tier (the least strict). Prints
 * {@code FILE: N rules in M groups: OK} or each problem with its path; exit 0 when every file is valid, 1 when one
 * is not (or cannot be read), 2 for a usage error.
 */
public final class RulesCommand {

    public static final String USAGE = """
              rules check FILE... Validate Prometheus rule files (alerting rules) without a database:
                                  prints FILE: N rules in M groups: OK, or each problem with its
                                  path (groups[0].rules[2].expr: ...). Intervals are checked against
                                  alerting.enterprise.min-interval of the configuration (--config).
                                  Exit 0 if all are valid, 1 if not.
            """;

    private RulesCommand() {
    }

    public static int run(List<String> args, AlertingConfig config, PrintStream out, PrintStream err) {
        if (args.isEmpty() || !args.get(0).equals("check") || args.size() < 2) {
            err.println("sluice rules: expected rules check FILE...\n\n" + USAGE);
            return 2;
        }
        RuleValidator validator = new RuleValidator(config);
        boolean ok = true;
        for (String name : args.subList(1, args.size())) {
            Path file = Path.of(name);
            try (InputStream in = Files.newInputStream(file)) {
                RuleValidator.RuleFile rules = validator.ruleFile(RuleDocument.readYaml(in), "check", Tier.ENTERPRISE);
                out.println(name + ": " + rules.rules().size() + " rules in " + rules.groups().size()
                        + " groups: OK");
            } catch (InvalidRuleException e) {
                ok = false;
                out.println(name + ": " + e.problems().size() + (e.problems().size() == 1 ? " problem" : " problems"));
                for (String p : e.problems()) {
                    out.println("  " + p);
                }
            } catch (NoSuchFileException e) {
                ok = false;
                out.println(name + ": no such file");
            } catch (IOException e) {
                ok = false;
                out.println(name + ": cannot be read (" + e.getMessage() + ")");
            }
        }
        return ok ? 0 : 1;
    }
}
