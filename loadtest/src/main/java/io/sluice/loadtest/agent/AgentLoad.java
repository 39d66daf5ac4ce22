package io.sluice.loadtest.agent;

import io.sluice.loadtest.Endpoints;
import io.sluice.protocol.client.BufferFullPolicy;
import io.sluice.protocol.client.RecordBatch;
import io.sluice.protocol.client.SluiceClient;
import io.sluice.protocol.record.Series;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The binary agent load generator: N connections of the protocol's {@link SluiceClient} sending samples
 * over a set of series, at a target rate or as fast as acknowledgements allow. Prints acknowledged
 * samples/s and ack-latency percentiles (paced: from when each batch was due) every second and writes a JSON
 * summary at the end (percentiles and acknowledged samples/s over {@code --duration}, after {@code --warmup}).
 * Every run is bounded by {@code --warmup} plus {@code --duration} and by {@code --max-samples}. A connection's
 * timestamps per series strictly
 * increase (the wall clock, or one millisecond after its previous batch), so a connection never repeats a
 * sample; with {@code --series-per-connection=true} each connection also has its own {@code --series}
 * series, as agents do, so that no two connections write the same series.
 *
 * <pre>
 * AgentLoad [--target=127.0.0.1:8080] [--key=KEY] [--connections=4] [--rate=max|SAMPLES_PER_S]
 *           [--duration=30s] [--warmup=0s] [--series=1000] [--labels=5] [--batch=1000] [--max-samples=100000000]
 *           [--buffer=32] [--series-per-connection=false]
 *           [--summary=loadtest/target/agent-load.json] [--endpoints=.sluice/dev/endpoints.env]
 * </pre>
 * Without {@code --target}/{@code --key}, {@code HTTP_URL} and {@code DEV_API_KEY} come from the
 * endpoints file that {@code bin/sluice dev} writes.
 */
public final class AgentLoad {

    private AgentLoad() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = parse(args);
        Endpoints env = Endpoints.read(Path.of(opts.getOrDefault("endpoints", Endpoints.DEFAULT.toString())));
        String target = opts.getOrDefault("target", env.httpHostPort("127.0.0.1:8080"));
        String key = opts.getOrDefault("key", env.get("DEV_API_KEY", null));
        if (key == null) {
            System.err.println("--key: missing (expected: an API key, or .sluice/dev/endpoints.env from bin/sluice dev)");
            System.exit(2);
        }
        int connections = Integer.parseInt(opts.getOrDefault("connections", "4"));
        String rateArg = opts.getOrDefault("rate", "max");
        double rate = rateArg.equals("max") ? 0 : Double.parseDouble(rateArg);
        Duration duration = io.sluice.config.Values.duration(opts.getOrDefault("duration", "30s"));
        Duration warmup = io.sluice.config.Values.duration(opts.getOrDefault("warmup", "0s"));
        int seriesCount = Integer.parseInt(opts.getOrDefault("series", "1000"));
        int labels = Integer.parseInt(opts.getOrDefault("labels", "5"));
        int batchSize = Integer.parseInt(opts.getOrDefault("batch", "1000"));
        long maxSamples = Long.parseLong(opts.getOrDefault("max-samples", "100000000"));
        // batches a connection holds unacknowledged: a little over the in-flight window, so that "as fast
        // as acks allow" measures the gateway rather than a queue in this client
        int buffer = Integer.parseInt(opts.getOrDefault("buffer", "32"));
        boolean ownSeries = Boolean.parseBoolean(opts.getOrDefault("series-per-connection", "false"));
        Path summary = Path.of(opts.getOrDefault("summary", "loadtest/target/agent-load.json"));
        String host = target.substring(0, target.lastIndexOf(':'));
        int port = Integer.parseInt(target.substring(target.lastIndexOf(':') + 1));

        Series[][] seriesOf = new Series[ownSeries ? connections : 1][];
        for (int c = 0; c < seriesOf.length; c++) {
            seriesOf[c] = new Series[seriesCount];
            for (int s = 0; s < seriesCount; s++) {
                String[] kv = new String[labels * 2];
                for (int l = 0; l < labels; l++) {
                    kv[2 * l] = "label" + l;
                    kv[2 * l + 1] = l == 0 ? (ownSeries ? "c" + c + "s" : "s") + s : "v" + (s % (l + 3));
                }
                seriesOf[c][s] = Series.of("agent.load", kv);
            }
        }

        Recorder latency = new Recorder(3);
        Histogram total = new Histogram(3);
        AtomicLong acked = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicLong sent = new AtomicLong();
        long started = System.nanoTime();
        long measureFrom = started + warmup.toNanos();
        long deadline = measureFrom + duration.toNanos();
        List<Thread> workers = new ArrayList<>();
        List<SluiceClient> clients = new ArrayList<>();
        for (int c = 0; c < connections; c++) {
            SluiceClient client = SluiceClient.builder().address(host, port).apiKey(key).agentId("agent-load-" + c)
                    .maxBufferedBatches(buffer).bufferFullPolicy(BufferFullPolicy.BLOCK).bufferFullTimeout(Duration.ofSeconds(30))
                    .build();
            clients.add(client);
            int worker = c;
            double perConnection = rate / connections;
            Series[] series = seriesOf[ownSeries ? c : 0];
            Thread t = new Thread(() -> {
                long next = System.nanoTime();
                int cursor = worker;
                long lastTs = 0;
                while (System.nanoTime() < deadline && sent.get() < maxSamples) {
                    long ts = Math.max(System.currentTimeMillis(), lastTs + 1);
                    RecordBatch batch = client.newBatch();
                    for (int i = 0; i < batchSize; i++) {
                        cursor = (cursor + 1) % seriesCount;
                        // a batch longer than the series list visits a series again one millisecond later
                        batch.addSample(series[cursor], ts + i / seriesCount, i);
                    }
                    lastTs = ts + (batchSize - 1) / seriesCount;
                    sent.addAndGet(batchSize);
                    // paced: from when the batch was due, so that a late send counts (no coordinated omission)
                    long sentAt = perConnection > 0 ? next : System.nanoTime();
                    client.send(batch).whenComplete((ok, error) -> {
                        if (error != null) {
                            failed.addAndGet(batchSize);
                        } else {
                            acked.addAndGet(batchSize);
                            latency.recordValue(Math.max(1, (System.nanoTime() - sentAt) / 1000));
                        }
                    });
                    if (perConnection > 0) {
                        next += (long) (batchSize / perConnection * 1e9);
                        long wait = next - System.nanoTime();
                        if (wait > 0) {
                            LockSupport.parkNanos(wait);
                        }
                    }
                }
            }, "agent-load-" + c);
            workers.add(t);
            t.start();
        }
        System.out.printf(Locale.ROOT, "%-6s %14s %10s %10s %10s %10s%n", "sec", "acked/s", "p50 ms", "p99 ms",
                "p999 ms", "failed");
        long lastAcked = 0;
        long intervalStart = started;
        long measuredFrom = -1; // the start of the first second after the warm-up
        long ackedBefore = 0;
        for (int sec = 1; System.nanoTime() < deadline + 2_000_000_000L && workers.stream().anyMatch(Thread::isAlive)
                || sec == 1; sec++) {
            LockSupport.parkNanos(1_000_000_000L);
            Histogram interval = latency.getIntervalHistogram();
            if (intervalStart >= measureFrom) { // seconds of the warm-up count in neither percentiles nor rate
                if (measuredFrom < 0) {
                    measuredFrom = intervalStart;
                    ackedBefore = lastAcked;
                }
                total.add(interval);
            }
            intervalStart = System.nanoTime();
            long now = acked.get();
            System.out.printf(Locale.ROOT, "%-6d %14d %10.2f %10.2f %10.2f %10d%n", sec, now - lastAcked,
                    interval.getValueAtPercentile(50) / 1000.0, interval.getValueAtPercentile(99) / 1000.0,
                    interval.getValueAtPercentile(99.9) / 1000.0, failed.get());
            lastAcked = now;
        }
        for (Thread t : workers) {
            t.join();
        }
        CompletableFuture.allOf(clients.stream().map(SluiceClient::flush).toArray(CompletableFuture[]::new))
                .exceptionally(e -> null).get();
        total.add(latency.getIntervalHistogram());
        if (measuredFrom < 0) {
            measuredFrom = started;
        }
        double seconds = (System.nanoTime() - measuredFrom) / 1e9;
        clients.forEach(SluiceClient::close);
        String json = String.format(Locale.ROOT, "{\"target\":\"%s\",\"connections\":%d,\"rate\":\"%s\",\"batch\":%d,"
                        + "\"series\":%d,\"series_per_connection\":%b,\"labels\":%d,\"seconds\":%.2f,\"sent\":%d,\"acked\":%d,\"failed\":%d,"
                        + "\"acked_per_second\":%.0f,\"ack_latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}}",
                target, connections, rateArg, batchSize, seriesCount, ownSeries, labels, seconds, sent.get(), acked.get(),
                failed.get(), (acked.get() - ackedBefore) / seconds, total.getValueAtPercentile(50) / 1000.0,
                total.getValueAtPercentile(99) / 1000.0, total.getValueAtPercentile(99.9) / 1000.0,
                total.getMaxValue() / 1000.0);
        Files.createDirectories(summary.toAbsolutePath().getParent());
        Files.writeString(summary, json + "\n", StandardCharsets.UTF_8);
        System.out.println(json);
        System.exit(failed.get() == 0 ? 0 : 1);
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> opts = new HashMap<>();
        for (String a : args) {
            if (!a.startsWith("--") || !a.contains("=")) {
                throw new IllegalArgumentException(a + " (expected: --name=value)");
            }
            opts.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
        }
        return opts;
    }

}
