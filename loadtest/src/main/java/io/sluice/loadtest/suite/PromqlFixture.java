package io.sluice.loadtest.suite;

import java.nio.charset.StandardCharsets;

/**
 * The data of the {@code P4-promql} row: {@link #SERIES} counters {@code bench_requests_total{instance="i000".."i099",
 * job}}, one sample every 15 s from {@code firstMs} to {@code lastMs}, as scraped from 100 instances. Series {@code s}
 * counts {@link #ratePerSecond(int)} a second and restarts from zero every {@link #RESET_EVERY} samples, each series
 * at its own phase; after a restart it has counted one interval's worth again, so {@code rate()} over any window sees
 * exactly the series' rate, and the sum over every series is {@link #TOTAL_RATE}: a fast empty or wrong answer cannot
 * pass for a right one. Sent as JSON ingest bodies ({@code POST /api/v1/ingest/metrics}), in time order.
 */
final class PromqlFixture {

    static final String METRIC = "bench_requests_total";
    static final int SERIES = 100;
    static final long INTERVAL_MS = 15_000;
    /** Samples between two restarts of one counter (8 h 20 min): every series restarts about three times a day. */
    static final int RESET_EVERY = 2_000;
    /** The sum of {@link #ratePerSecond(int)} over every series. */
    static final double TOTAL_RATE = 550;

    private final String job;
    private final long firstMs;
    private final int samplesPerSeries;

    /**
     * @param job    the {@code job} label of every series (one per run, so that data of an earlier run in the same
     *               data directory is not mixed in)
     * @param lastMs the newest sample's time; the oldest is {@code spanMs} before it (rounded down to whole intervals)
     */
    PromqlFixture(String job, long lastMs, long spanMs) {
        this.job = job;
        this.samplesPerSeries = (int) (spanMs / INTERVAL_MS) + 1;
        this.firstMs = lastMs - (samplesPerSeries - 1) * INTERVAL_MS;
    }

    String job() {
        return job;
    }

    long firstMs() {
        return firstMs;
    }

    long lastMs() {
        return firstMs + (samplesPerSeries - 1) * INTERVAL_MS;
    }

    long samples() {
        return (long) samplesPerSeries * SERIES;
    }

    /** Per second, what series {@code s} counts: 1 to 10. */
    static double ratePerSecond(int s) {
        return 1 + s % 10;
    }

    static String instance(int s) {
        return String.format(java.util.Locale.ROOT, "i%03d", s);
    }

    /** The {@code k}-th sample of series {@code s} (at {@code firstMs + k * 15 s}). */
    static double value(int s, int k) {
        long sinceRestart = (k + 37L * s) % RESET_EVERY + 1;
        return sinceRestart * ratePerSecond(s) * (INTERVAL_MS / 1000);
    }

    /** How many bodies of {@code perBody} samples carry every sample. */
    int bodies(int perBody) {
        return (int) ((samples() + perBody - 1) / perBody);
    }

    /** The {@code index}-th JSON ingest body of {@code perBody} samples (the last one may have fewer), in time order. */
    byte[] jsonBody(int index, int perBody) {
        long from = (long) index * perBody;
        long to = Math.min(samples(), from + perBody);
        StringBuilder b = new StringBuilder((int) (to - from) * 110).append("{\"samples\":[");
        for (long j = from; j < to; j++) {
            int k = (int) (j / SERIES);
            int s = (int) (j % SERIES);
            b.append(j == from ? "" : ",").append("{\"name\":\"").append(METRIC).append("\",\"labels\":{\"instance\":\"")
                    .append(instance(s)).append("\",\"job\":\"").append(job).append("\"},\"timestamp\":")
                    .append(firstMs + k * INTERVAL_MS).append(",\"value\":").append((long) value(s, k)).append('}');
        }
        return b.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    }
}
