package io.sluice.loadtest.suite;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The data and rules of the {@code P7} row: {@link #RULES} alert rules over {@link #RULES} x {@link #HOSTS} gauges
 * {@code bench_alert_load{job, shard="s0000".."s9999", host="h0".."h9"}}, one rule per shard, in {@link #GROUPS}
 * Prometheus rule groups evaluated every {@link #INTERVAL_SECONDS} s. Every gauge holds one value for the whole run
 * ({@link #value}), so which alerts fire is known in advance ({@link #expectedFiring()}) and a fast wrong evaluation
 * cannot pass for a right one. Three kinds of rule, by shard:
 * <ul>
 *   <li>{@code max by (shard) (...) > 90}, {@code for: 0s}: one alert per shard whose largest value is over 90;</li>
 *   <li>{@code avg_over_time(...[5m]) > 95}, {@code for: 1m}: one alert per gauge over 95;</li>
 *   <li>{@code ... > 98}, {@code for: 0s}: one alert per gauge over 98.</li>
 * </ul>
 * Every rule's expression is its own (its shard's selector), so no two rules share a cached answer.
 */
final class AlertingFixture {

    static final String METRIC = "bench_alert_load";
    static final int RULES = 10_000;
    static final int HOSTS = 10;
    static final int GROUPS = 100;
    static final int INTERVAL_SECONDS = 30;
    /** The longest {@code for} of a rule: after it (and an interval) every alert that fires has fired. */
    static final int LONGEST_FOR_SECONDS = 60;

    private final String job;

    /** @param job the {@code job} label of every gauge and rule (one per run, so earlier runs' data stays out) */
    AlertingFixture(String job) {
        this.job = job;
    }

    String job() {
        return job;
    }

    static int series() {
        return RULES * HOSTS;
    }

    /** What gauge (shard, host) holds: 0 to 99. */
    static int value(int shard, int host) {
        return (shard * 7 + host * 13) % 100;
    }

    /** Firing alerts once every rule has been evaluated after its {@code for}. */
    static int expectedFiring() {
        int firing = 0;
        for (int shard = 0; shard < RULES; shard++) {
            int max = 0;
            int over95 = 0;
            int over98 = 0;
            for (int host = 0; host < HOSTS; host++) {
                int v = value(shard, host);
                max = Math.max(max, v);
                over95 += v > 95 ? 1 : 0;
                over98 += v > 98 ? 1 : 0;
            }
            firing += switch (shard % 3) {
                case 0 -> max > 90 ? 1 : 0;
                case 1 -> over95;
                default -> over98;
            };
        }
        return firing;
    }

    static String groupName(int group) {
        return "bench-alert-" + group;
    }

    /** Rule group {@code group} (shards {@code group * RULES / GROUPS} on) as a Prometheus rule file. */
    String ruleFile(int group) {
        int per = RULES / GROUPS;
        StringBuilder y = new StringBuilder(per * 200).append("groups:\n- name: ").append(groupName(group))
                .append("\n  interval: ").append(INTERVAL_SECONDS).append("s\n  rules:\n");
        for (int shard = group * per; shard < (group + 1) * per; shard++) {
            String selector = METRIC + "{job=\"" + job + "\",shard=\"" + shard(shard) + "\"}";
            String expr = switch (shard % 3) {
                case 0 -> "max by (shard) (" + selector + ") > 90";
                case 1 -> "avg_over_time(" + selector + "[5m]) > 95";
                default -> selector + " > 98";
            };
            y.append("  - alert: Load").append(shard(shard)).append("\n    expr: '").append(expr)
                    .append("'\n    for: ").append(shard % 3 == 1 ? LONGEST_FOR_SECONDS : 0)
                    .append("s\n    labels:\n      severity: ").append(shard % 2 == 0 ? "warning" : "critical")
                    .append("\n    annotations:\n      summary: '{{ $labels.shard }} at {{ $value }}'\n");
        }
        return y.toString();
    }

    /** A rule file that empties group {@code group} (importing a group without rules deletes its rules). */
    static String emptyGroup(int group) {
        return "groups:\n- name: " + groupName(group) + "\n  interval: " + INTERVAL_SECONDS + "s\n";
    }

    /** How many JSON ingest bodies of {@code perBody} samples carry one scrape of every gauge. */
    static int bodies(int perBody) {
        return (series() + perBody - 1) / perBody;
    }

    /** The {@code index}-th JSON ingest body of one scrape at {@code timestampMs}. */
    byte[] jsonBody(int index, int perBody, long timestampMs) {
        int from = index * perBody;
        int to = Math.min(series(), from + perBody);
        StringBuilder b = new StringBuilder((to - from) * 120).append("{\"samples\":[");
        for (int j = from; j < to; j++) {
            int shard = j / HOSTS;
            int host = j % HOSTS;
            b.append(j == from ? "" : ",").append("{\"name\":\"").append(METRIC).append("\",\"labels\":{\"job\":\"")
                    .append(job).append("\",\"shard\":\"").append(shard(shard)).append("\",\"host\":\"h").append(host)
                    .append("\"},\"timestamp\":").append(timestampMs).append(",\"value\":").append(value(shard, host))
                    .append('}');
        }
        return b.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    }

    private static String shard(int shard) {
        return String.format(Locale.ROOT, "s%04d", shard);
    }
}
