package io.sluice.loadtest.suite;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sluice.embedded.FrozenProcesses;
import io.sluice.loadtest.Endpoints;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The benchmark suite: starts {@code bin/sluice dev} (with {@code loadtest/sluice-loadtest.properties}, a
 * 256 MB heap, its own port and data directory), measures each performance target of
 * {@code PERFORMANCE.md} side by side with its reference in this one run, and prints one table of
 * ratios, with the gateway's heap and RSS at the peak of each phase.
 *
 * <ul>
 *   <li>P1: cached {@code GET /{code}} over 1,000 links vs a bare Netty server answering a fixed 302 (child
 *       JVM, 2 event loops), same client ({@link Wrk} when wrk is installed, else {@link HttpLoad}),
 *       connections and duration; then Sluice's p99 at half its measured rate (paced by {@link HttpLoad}), and
 *       the bare server's at the same rate beside it.</li>
 *   <li>P4: query latency over one connection, the same query again and again (cached) vs a distinct
 *       1 h / 1 series / 1 m query every time (uncached), checked by the {@code X-Sluice-Cache} header.</li>
 *   <li>P4-promql: the same over the Prometheus API, {@code rate(...[5m])} summed and per series over 100 counters
 *       ({@link PromqlFixture}) for 24 h at a 1 m step once compaction has merged their finished hours, each answer
 *       checked once against the counters' rates; and
 *       {@code rate(...[1m])} summed at a 6 h step, read from the 1-minute rollups, against the same windows read
 *       from raw samples.</li>
 *   <li>P2: {@code AgentLoad} (binary protocol, acknowledged samples) vs Kafka's
 *       {@code ProducerPerformance} sending as many records of the gateway's average record size, with the
 *       gateway's producer settings, to the same broker; MiB/s of record payload on both sides; then {@code AgentLoad}
 *       paced at half the acknowledged rate after {@code --ingest-warmup} ({@code P2-binary}).</li>
 *   <li>P2 over HTTP ({@code P2-json}, {@code P2-remote-write}, {@code P2-influx}): the same 1,000-series x 5-label
 *       bodies ({@link IngestBodies}) as JSON, Prometheus remote_write 1.0 and Influx line protocol, sent by
 *       {@link HttpLoad} over {@code --ingest-connections} connections as fast as answers come (acknowledged
 *       samples/s, checked against the gateway's accepted count), then paced at half that rate (ack p50/p99 from when
 *       each body was due); remote_write and line protocol with JSON's rate as their reference. JSON once more as
 *       fast as answers come with the {@code dev}'s PostgreSQL frozen ({@link FrozenProcesses}): the gateway without
 *       storage sharing the machine, reported beside the row with it.</li>
 *   <li>P3: {@link WriterVsCopy} on the same Kafka and PostgreSQL: the storage writer vs {@code psql \copy}
 *       of the same samples as one row each into the old {@code samples} table, and bytes per sample of both.</li>
 *   <li>P6, sustained end to end: {@code AgentLoad} at fixed rates for {@code --sustained-duration} each against
 *       this {@code dev} (writer in the same process), after {@code --sustained-warmup} at the lowest rate (not a
 *       trial: the JIT's first minutes), ascending through {@code --sustained-rates} until one
 *       fails (if the lowest fails, halving it at most twice), then {@code --sustained-bisect} bisection steps; a rate holds when the gateway acknowledges it
 *       and the writer's lag at the end (acknowledged samples minus the writer's stored and duplicate samples,
 *       from {@code /metrics}) is under one second of data. Then, at half the highest rate that held, ingest to
 *       queryable, from when the agent keeps its schedule: a probe sample acknowledged by
 *       {@code POST /api/v1/ingest/metrics} every 100 ms, and a
 *       query loop on {@code GET /api/v1/query} (raw samples; 1-minute rollups if raw queries fail) timing each
 *       probe from its ack to the first answer holding it.</li>
 *   <li>P7: {@link AlertingFixture}'s 10,000 alert rules over 100,000 gauges, evaluated every 30 s by the {@code dev}
 *       process's alerter: evaluation lag p99 over {@code --alerting-duration}, and JSON ingest with and without the
 *       rules (see {@link #alerting()}).</li>
 *   <li>P8: what a flood of refused requests costs a tenant within its quota (see {@link #isolation()}).</li>
 * </ul>
 *
 * <pre>
 * BenchmarkSuite [--duration=20s] [--warmup=20s] [--connections=64] [--writer-samples=5000000]
 *                [--heap=256m] [--only=P1,P2,P3,P4,P6,P7,P8] [--http-client=wrk|builtin] [--out=loadtest/target/bench]
 *                [--ingest-connections=8] [--ingest-warmup=60s]
 *                [--sustained-duration=60s] [--sustained-rates=250000,500000,1000000,1500000]
 *                [--sustained-bisect=1] [--sustained-warmup=60s] [--latency-duration=30s] [--alerting-duration=120s]
 *                [--gateway-java-opts="-XX:StartFlightRecording=filename=gateway.jfr"]
 * </pre>
 * {@code --only} takes targets ({@code P2} is every P2 measurement) or single measurements: {@code P2-binary},
 * {@code P2-json}, {@code P2-remote-write}, {@code P2-influx}, {@code P4-promql} ({@code P4} runs it too).
 */
public final class BenchmarkSuite {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, String> opts;
    private final Duration duration;
    private final Duration warmup;
    /**
     * Load before P2's as-fast-as-acks HTTP runs: on 2 cores a fresh gateway's JIT compiles an ingest path for about a
     * minute of load (compilations per 10 s fall from ~9,000 to ~600 by then), and P2 measures the steady state.
     */
    private final Duration ingestWarmup;
    private final int connections;
    private final Path out;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<String[]> rows = new ArrayList<>();
    /** Per phase: peak heap used, peak RSS and peak live heap after GC of the gateway, written by the sampler thread. */
    private final Map<String, long[]> peaks = java.util.Collections.synchronizedMap(new LinkedHashMap<>());
    private final PrintStream log = System.out;
    /** The {@code dev}'s data directory (its PostgreSQL and Kafka live under it). */
    private static final Path DATA_DIR = Path.of(".sluice/bench");

    private Process dev;
    private long gatewayPid;
    private Endpoints endpoints;
    private String host;
    private int port;
    private String key;
    private volatile String phase = "start";
    /** The load average when the measurement whose rows come next started ({@link #measuring()}). */
    private String measuredUnderLoad = "?";
    /** The machine's load average when the suite started: figures from a busy machine say little. */
    private final String loadAtStart = loadAverage();

    private BenchmarkSuite(Map<String, String> opts) {
        this.opts = opts;
        this.duration = io.sluice.config.Values.duration(opts.getOrDefault("duration", "20s"));
        this.warmup = io.sluice.config.Values.duration(opts.getOrDefault("warmup", "20s"));
        this.ingestWarmup = io.sluice.config.Values.duration(opts.getOrDefault("ingest-warmup", "60s"));
        this.connections = Integer.parseInt(opts.getOrDefault("connections", "64"));
        this.out = Path.of(opts.getOrDefault("out", "loadtest/target/bench"));
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new HashMap<>();
        for (String a : args) {
            if (!a.startsWith("--") || !a.contains("=")) {
                System.err.println(a + ": expected --name=value (see the class comment or README)");
                System.exit(2);
            }
            opts.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
        }
        BenchmarkSuite suite = new BenchmarkSuite(opts);
        // stopped by a signal (Ctrl-C, kill): the dev and its Kafka and PostgreSQL go too, as at the end of a run, and so
        // do the suite's other children (the bare Netty server, load generators), so that none is left to take CPU
        // from the next run
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                suite.stopSluice();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ProcessHandle.current().descendants().forEach(ProcessHandle::destroy);
        }, "stop-sluice"));
        int status;
        try {
            suite.startSluice();
            Thread sampler = new Thread(suite::sampleMemory, "memory-sampler");
            sampler.setDaemon(true);
            sampler.start();
            if (suite.selected("P1")) {
                suite.redirects();
            }
            if (suite.selected("P4")) {
                suite.queries();
            }
            if (suite.selected("P4-promql")) {
                suite.promqlQueries();
            }
            if (suite.selected("P2-binary")) {
                suite.binaryIngest();
            }
            suite.httpIngest();
            if (suite.selected("P3")) {
                suite.writer();
            }
            if (suite.selected("P6")) {
                suite.sustained();
            }
            if (suite.selected("P7")) {
                suite.alerting();
            }
            if (suite.selected("P8")) {
                suite.isolation();
            }
            status = suite.report();
        } finally {
            suite.stopSluice();
        }
        System.exit(status);
    }

    /** Whether {@code --only} names this measurement, or its target ({@code P2} runs {@code P2-binary}, {@code P2-json}, ...). */
    private boolean selected(String id) {
        List<String> only = List.of(opts.getOrDefault("only", "P1,P2,P3,P4,P6,P7,P8").split(","));
        return only.contains(id) || id.contains("-") && only.contains(id.substring(0, id.indexOf('-')));
    }

    // ---- Sluice under test

    private void startSluice() throws Exception {
        Files.createDirectories(out);
        Path dataDir = DATA_DIR;
        Path envFile = dataDir.resolve("endpoints.env");
        Files.deleteIfExists(envFile);
        int httpPort = freePort();
        ProcessBuilder pb = new ProcessBuilder("bin/sluice", "dev", "--config", "loadtest/sluice-loadtest.properties",
                "--server.port=" + httpPort, "--links.base-url=http://127.0.0.1:" + httpPort,
                "--dev.data-dir=" + dataDir)
                .redirectErrorStream(true).redirectOutput(out.resolve("sluice-dev.log").toFile());
        String heap = opts.getOrDefault("heap", "256m");
        pb.environment().put("SLUICE_JAVA_OPTS", "-Xmx" + heap + " -XX:+ExitOnOutOfMemoryError "
                + opts.getOrDefault("gateway-java-opts", ""));
        log.printf("starting bin/sluice dev (heap %s, port %d, log %s) ...%n", heap, httpPort,
                out.resolve("sluice-dev.log"));
        dev = pb.start();
        gatewayPid = dev.pid(); // bin/sluice execs the JVM, so this is the gateway's pid
        await("bin/sluice dev to write " + envFile, Duration.ofMinutes(5), () -> {
            if (!dev.isAlive()) {
                throw new IllegalStateException("bin/sluice dev exited with " + dev.exitValue() + "; see "
                        + out.resolve("sluice-dev.log"));
            }
            return Files.isRegularFile(envFile);
        });
        endpoints = Endpoints.read(envFile);
        String[] hp = endpoints.httpHostPort("127.0.0.1:" + httpPort).split(":");
        host = hp[0];
        port = Integer.parseInt(hp[1]);
        key = endpoints.get("DEV_API_KEY", null);
        await("GET /health/ready to answer 200", Duration.ofMinutes(2), () -> get("/health/ready").statusCode() == 200);
        log.printf("Sluice is ready at %s:%d (pid %d)%n", host, port, gatewayPid);
    }

    private void stopSluice() throws InterruptedException {
        if (dev != null && dev.isAlive()) {
            dev.destroy();
            if (!dev.waitFor(60, TimeUnit.SECONDS)) {
                dev.destroyForcibly();
            }
        }
    }

    /** Peak RSS (from /proc) and heap used (from /metrics) of the gateway, per phase. */
    private void sampleMemory() {
        long lastHeap = 0;
        while (true) {
            try {
                long rss = rssBytes();
                long heap = -1;
                long live = -1;
                if (System.nanoTime() - lastHeap > 1_000_000_000L) {
                    lastHeap = System.nanoTime();
                    String text = metrics();
                    heap = (long) metricSum(text, "jvm_memory_used_bytes", "area=\"heap\"");
                    live = text.contains("jvm_gc_live_data_size_bytes ")
                            ? (long) metricSum(text, "jvm_gc_live_data_size_bytes", "") : -1;
                }
                synchronized (peaks) {
                    long[] p = peaks.computeIfAbsent(phase, x -> new long[3]);
                    p[0] = Math.max(p[0], heap);
                    p[1] = Math.max(p[1], rss);
                    p[2] = Math.max(p[2], live);
                }
                TimeUnit.MILLISECONDS.sleep(250);
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                // the gateway is busy or gone; the next sample tries again
                try {
                    TimeUnit.MILLISECONDS.sleep(250);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    private long rssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + gatewayPid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return 0;
    }

    // ---- P1 redirects

    private void redirects() throws Exception {
        phase = "P1 redirects";
        measuring();
        log.println("\n== P1: cached redirects vs bare Netty fixed 302");
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            HttpResponse<String> r = post("/api/v1/links", "{\"url\":\"https://example.com/landing/" + i + "\"}");
            require(r.statusCode() == 201, "POST /api/v1/links answered " + r.statusCode() + ": " + r.body());
            paths.add("/" + JSON.readTree(r.body()).get("code").asText());
        }
        // every link once, so the measured run reads them from the cache
        for (String p : paths) {
            require(get(p).statusCode() == 302, "GET " + p + " did not redirect");
        }
        Process bare = javaProcess(BareNettyRedirectServer.class.getName(), List.of("-Xmx256m"), List.of("0"));
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(bare.getInputStream(), StandardCharsets.UTF_8));
            String first = lines.readLine();
            require(first != null && first.contains("127.0.0.1:"), "the bare Netty server did not start: " + first);
            int barePort = Integer.parseInt(first.substring(first.lastIndexOf(':') + 1).trim());
            java.util.Optional<Wrk> wrk = opts.getOrDefault("http-client", "wrk").equals("wrk")
                    ? Wrk.find(paths, out) : java.util.Optional.empty();
            double[] references; // measured before and after Sluice
            double sluiceRate;
            boolean clean;
            String client;
            Allocation redirectsBefore;
            Allocation redirectsAfter;
            if (wrk.isPresent()) {
                client = "wrk -t1";
                Wrk.Result reference = wrk.get().run("127.0.0.1", barePort, connections, warmup, duration);
                log.printf(Locale.ROOT, "bare Netty (wrk)       %10s req/s  p50 %7s ms  p99 %7s ms  bad %d  errors %d%n",
                        fmt(reference.perSecond()), ms(reference.p50Millis()), ms(reference.p99Millis()),
                        reference.badResponses(), reference.socketErrors());
                redirectsBefore = allocation(REDIRECTS, REDIRECTED);
                Wrk.Result sluice = wrk.get().run(host, port, connections, warmup, duration);
                redirectsAfter = allocation(REDIRECTS, REDIRECTED);
                log.printf(Locale.ROOT, "Sluice (wrk)           %10s req/s  p50 %7s ms  p99 %7s ms  bad %d  errors %d%n",
                        fmt(sluice.perSecond()), ms(sluice.p50Millis()), ms(sluice.p99Millis()), sluice.badResponses(),
                        sluice.socketErrors());
                Wrk.Result again = wrk.get().run("127.0.0.1", barePort, connections, warmup, duration);
                log.printf(Locale.ROOT, "bare Netty again (wrk) %10s req/s  p50 %7s ms  p99 %7s ms  bad %d  errors %d%n",
                        fmt(again.perSecond()), ms(again.p50Millis()), ms(again.p99Millis()), again.badResponses(),
                        again.socketErrors());
                references = new double[] {reference.perSecond(), again.perSecond()};
                sluiceRate = sluice.perSecond();
                clean = reference.clean() && sluice.clean() && again.clean();
            } else {
                client = "built-in client";
                HttpLoad.Result reference = new HttpLoad("127.0.0.1", barePort, connections, warmup, duration, 0, 302,
                        HttpLoad.gets("127.0.0.1", barePort, paths, "")).run();
                printLoad("bare Netty", reference);
                redirectsBefore = allocation(REDIRECTS, REDIRECTED);
                HttpLoad.Result sluice = new HttpLoad(host, port, connections, warmup, duration, 0, 302,
                        HttpLoad.gets(host, port, paths, "")).run();
                redirectsAfter = allocation(REDIRECTS, REDIRECTED);
                printLoad("Sluice", sluice);
                HttpLoad.Result again = new HttpLoad("127.0.0.1", barePort, connections, warmup, duration, 0, 302,
                        HttpLoad.gets("127.0.0.1", barePort, paths, "")).run();
                printLoad("bare Netty again", again);
                references = new double[] {reference.perSecond(), again.perSecond()};
                sluiceRate = sluice.perSecond();
                clean = clean(reference) && clean(sluice) && clean(again);
            }
            // the clicks of the run above are still on their way to PostgreSQL: measure latency once they are in
            awaitWriter();
            double half = sluiceRate / 2;
            HttpLoad.Result paced = new HttpLoad(host, port, connections, warmup, duration, half, 302,
                    HttpLoad.gets(host, port, paths, "")).run();
            printLoad("Sluice at half rate", paced);
            // the same paced load on the bare server: what this machine's p99 is at that rate without Sluice
            HttpLoad.Result barePaced = new HttpLoad("127.0.0.1", barePort, connections, warmup, duration, half, 302,
                    HttpLoad.gets("127.0.0.1", barePort, paths, "")).run();
            printLoad("bare Netty at half rate", barePaced);
            double referenceRate = (references[0] + references[1]) / 2;
            referenceRow("P1", "GET /{code} from cache, " + connections + " connections (" + client + "), req/s",
                    fmt(sluiceRate), "bare Netty 302: " + fmt(referenceRate) + " (" + fmt(references[0]) + " before, "
                            + fmt(references[1]) + " after)", ratio(sluiceRate / referenceRate),
                    ">= 0.90", sluiceRate / referenceRate >= 0.9 && clean, references);
            row("P1", "p99 at half that rate (" + fmt(half) + " req/s), ms", ms(paced.percentileMillis(99)),
                    "p50 " + ms(paced.percentileMillis(50)) + "; bare Netty at that rate: p99 "
                            + ms(barePaced.percentileMillis(99)) + ", p50 " + ms(barePaced.percentileMillis(50)), "",
                    "< 2 ms", paced.percentileMillis(99) < 2 && clean(paced));
            allocationRow("P1", "redirect", redirectsBefore, redirectsAfter);
        } finally {
            bare.destroy();
            bare.waitFor(10, TimeUnit.SECONDS);
        }
    }

    // ---- P4 queries

    private void queries() throws Exception {
        phase = "P4 queries";
        measuring();
        log.println("\n== P4: query latency, cached vs uncached");
        int series = 2_000;
        String metric = "bench.query." + Long.toString(System.currentTimeMillis(), 36);
        Instant to = Instant.now().truncatedTo(ChronoUnit.MINUTES);
        Instant from = to.minus(Duration.ofHours(1));
        // one sample a minute over the last hour of every series, but the first minutes: the late window
        // accepts samples up to 1 h old, and the fixture takes a while to send
        StringBuilder batch = new StringBuilder();
        int inBatch = 0;
        for (int s = 0; s < series; s++) {
            for (int m = 5; m <= 59; m++) {
                batch.append(inBatch++ == 0 ? "" : ",").append("{\"name\":\"").append(metric)
                        .append("\",\"labels\":{\"host\":\"h").append(s).append("\"},\"timestamp\":")
                        .append(from.plus(Duration.ofMinutes(m)).toEpochMilli() + 1_000).append(",\"value\":")
                        .append(s + m).append('}');
                if (inBatch == 10_000) {
                    ingest(batch);
                    batch.setLength(0);
                    inBatch = 0;
                }
            }
        }
        if (inBatch > 0) {
            ingest(batch);
        }
        String range = "&from=" + from.toEpochMilli() + "&to=" + to.toEpochMilli() + "&step=1m";
        String last = "/api/v1/query?metric=" + metric + "&match=host=h" + (series - 1) + range;
        // polled with group_by, so that the probe is not one of the queries measured as uncached
        String probe = last + "&group_by=host";
        await("the query fixture to be queryable", Duration.ofMinutes(2), () -> {
            HttpResponse<String> r = get(probe);
            return r.statusCode() == 200 && r.body().contains("[" + from.plus(Duration.ofMinutes(59)).toEpochMilli());
        });
        awaitWriter();
        String auth = "Authorization: Bearer " + key + "\r\n";
        String[] aggs = {"avg", "max", "min", "sum", "count"};
        // each series and aggregate over the hour, and over the hour that ends 1 to 9 minutes earlier: 100,000 distinct
        // queries, so that a fast run does not come round to the first ones again and measure them cached
        int shifts = 10;
        List<String> distinct = HttpLoad.gets(host, port, series * aggs.length * shifts, i -> {
            Duration back = Duration.ofMinutes(i / (series * aggs.length));
            return "/api/v1/query?metric=" + metric + "&match=host=h" + (i % series) + "&from="
                    + from.minus(back).toEpochMilli() + "&to=" + to.minus(back).toEpochMilli() + "&step=1m&agg="
                    + aggs[i / series % aggs.length];
        }, auth);
        HttpLoad.Result uncached = new HttpLoad(host, port, 1, Duration.ZERO, duration, 0, 200, distinct)
                .tally("X-Sluice-Cache").run();
        printLoad("uncached", uncached);
        HttpLoad.Result cached = new HttpLoad(host, port, 1, Duration.ofSeconds(2), duration, 0, 200,
                HttpLoad.gets(host, port, List.of(last), auth)).tally("X-Sluice-Cache").run();
        printLoad("cached", cached);
        long misses = uncached.tally().getOrDefault("miss", 0L);
        long hits = cached.tally().getOrDefault("hit", 0L);
        row("P4", "query p99 cached (1 h, 1 series, 1 m step), ms", ms(cached.percentileMillis(99)),
                "p50 " + ms(cached.percentileMillis(50)) + ", " + hits + "/" + cached.responses() + " hits", "", "< 1 ms",
                cached.percentileMillis(99) < 1 && clean(cached) && hits == cached.responses());
        row("P4", "query p99 uncached (1 h, 1 series, 1 m step), ms", ms(uncached.percentileMillis(99)),
                "p50 " + ms(uncached.percentileMillis(50)) + ", " + misses + "/" + uncached.responses() + " misses",
                ratio(uncached.percentileMillis(99) / cached.percentileMillis(99)) + "x cached", "< 20 ms",
                uncached.percentileMillis(99) < 20 && clean(uncached) && misses == uncached.responses());
    }

    // ---- P4-promql: the Prometheus API

    /**
     * {@code rate(...[5m])} over {@link PromqlFixture}'s 100 counters for 24 h at a 1 m step, through
     * {@code /prometheus/api/v1/query_range}, once compaction has merged their finished hours (as in a running
     * deployment): summed by job (1 series out) and per series (100 out), each uncached (a
     * distinct range every request, shifted by a millisecond) and cached (the same request again and again), checked
     * by {@code X-Sluice-Cache}; both answers checked once against the counters' known rates. Requests carry
     * {@code Accept-Encoding: gzip}, as Grafana's Go client sends it, so cached answers come compressed (checked once
     * against the plain answer); the cached query is also measured without it. Then the summed
     * {@code rate(...[1m])} at a 6 h step, which PromQL reads from the rollups, uncached, against raw samples.
     */
    private void promqlQueries() throws Exception {
        phase = "P4-promql queries";
        measuring();
        log.println("\n== P4-promql: PromQL rate(...[5m]) over 100 series, 24 h at a 1 m step, cached vs uncached");
        long end = Instant.now().truncatedTo(ChronoUnit.MINUTES).toEpochMilli();
        long start = end - Duration.ofHours(24).toMillis();
        // 5 minutes more than the range, so that the first step's window is full too; the newest sample 8 s before the
        // end: every sample 7 s past a quarter minute, as scrape times are spread (none on a minute's start)
        PromqlFixture data = new PromqlFixture("bench-" + Long.toString(System.currentTimeMillis(), 36), end - 8_000,
                end - start + Duration.ofMinutes(5).toMillis());
        long sendStart = System.nanoTime();
        int perBody = 10_000;
        for (int b = 0; b < data.bodies(perBody); b++) {
            HttpResponse<String> r = post("/api/v1/ingest/metrics", data.jsonBody(b, perBody));
            require(r.statusCode() == 202 && JSON.readTree(r.body()).path("rejected").isEmpty(),
                    "POST /api/v1/ingest/metrics answered " + r.statusCode() + ": " + abbreviate(r.body())
                            + (r.body().contains("too_old") ? " (ingest.late-window in loadtest/sluice-loadtest.properties "
                            + "must accept data 24 h old)" : ""));
        }
        log.printf(Locale.ROOT, "sent %,d samples (%d series, every 15 s from %s to %s) in %.1f s%n", data.samples(),
                PromqlFixture.SERIES, Instant.ofEpochMilli(data.firstMs()), Instant.ofEpochMilli(data.lastMs()),
                (System.nanoTime() - sendStart) / 1e9);
        String selector = PromqlFixture.METRIC + "{job=\"" + data.job() + "\"}";
        // the stored count, asked at the newest sample over a window that holds every sample
        String stored = "/prometheus/api/v1/query?query=" + encode("sum(count_over_time(" + selector + "["
                + ((data.lastMs() - data.firstMs()) / 60_000 + 2) + "m]))") + "&time=" + seconds(data.lastMs());
        long waitStart = System.nanoTime();
        await("the storage writer to store all " + data.samples() + " samples", Duration.ofMinutes(10), () -> {
            HttpResponse<String> r = get(stored);
            JsonNode result = JSON.readTree(r.body()).path("data").path("result");
            return r.statusCode() == 200 && result.size() == 1
                    && result.get(0).path("value").get(1).asLong() == data.samples();
        });
        log.printf(Locale.ROOT, "(all stored %.1f s after the last body)%n", (System.nanoTime() - waitStart) / 1e9);
        awaitWriter();
        String auth = "Authorization: Bearer " + key + "\r\n";
        String grafana = auth + "Accept-Encoding: gzip\r\n"; // Go's HTTP client asks for gzip by itself: Grafana's does
        String[][] queries = {
                {"sum by (job) (rate(" + selector + "[5m]))", "sum by (job) (rate(...[5m])), 1 series out"},
                {"rate(" + selector + "[5m])", "rate(...[5m]), 100 series out"}};
        // measured with the fixture's finished hours compacted, as every hour but the newest of a 24 h dashboard is in
        // a running deployment (before, the writer's chunks are one per series, hour and batch)
        awaitCompacted(data);
        for (String[] q : queries) {
            String expr = q[0];
            java.util.function.LongFunction<String> path = shift -> "/prometheus/api/v1/query_range?query=" + encode(expr)
                    + "&start=" + seconds(start + shift) + "&end=" + seconds(end + shift) + "&step=60";
            checkRates(expr, get(path.apply(0)), start, end, 60_000);
            // every request of the uncached run a range of its own: more than the run can send
            List<String> distinct = HttpLoad.gets(host, port, 20_000, i -> path.apply(i + 1), grafana);
            HttpLoad.Result uncached = new HttpLoad(host, port, 1, warmup, duration, 0, 200, distinct)
                    .tally("X-Sluice-Cache").run();
            printLoad("uncached " + (q == queries[0] ? "sum" : "per series"), uncached);
            checkCompressed(expr, path.apply(0));
            HttpLoad.Result cached = new HttpLoad(host, port, 1, Duration.ofSeconds(2), duration, 0, 200,
                    HttpLoad.gets(host, port, List.of(path.apply(0)), grafana))
                    .tally("X-Sluice-Cache", "Content-Encoding").run();
            printLoad("cached " + (q == queries[0] ? "sum" : "per series"), cached);
            HttpLoad.Result plain = new HttpLoad(host, port, 1, Duration.ofSeconds(2), duration, 0, 200,
                    HttpLoad.gets(host, port, List.of(path.apply(0)), auth))
                    .tally("X-Sluice-Cache", "Content-Encoding").run();
            printLoad("(no gzip) cached " + (q == queries[0] ? "sum" : "ser."), plain);
            long misses = uncached.tally().getOrDefault("miss", 0L);
            long hits = cached.tally().getOrDefault("hit gzip", 0L);
            String what = "PromQL " + q[1] + ", 24 h at 1 m step (100 series, " + fmt(data.samples())
                    + " samples, finished hours compacted)";
            row("P4-promql", what + ", cached p99 (gzip, as Grafana asks), ms", ms(cached.percentileMillis(99)),
                    "p50 " + ms(cached.percentileMillis(50)) + ", " + hits + "/" + cached.responses()
                            + " gzip hits; a client without gzip: p50 " + ms(plain.percentileMillis(50)) + ", p99 "
                            + ms(plain.percentileMillis(99)), "",
                    "< 1 ms", cached.percentileMillis(99) < 1 && clean(cached) && hits == cached.responses());
            row("P4-promql", what + ", uncached p99, ms", ms(uncached.percentileMillis(99)),
                    "p50 " + ms(uncached.percentileMillis(50)) + ", " + misses + "/" + uncached.responses() + " misses",
                    ratio(uncached.percentileMillis(99) / cached.percentileMillis(99)) + "x cached", "< 50 ms",
                    uncached.percentileMillis(99) < 50 && clean(uncached) && misses == uncached.responses());
        }
        // rate over short windows far apart: 1 m windows at a 6 h step read the 1-minute rollups (fewer rows than the
        // raw chunks); at 5 h 59 min 59 s, not whole minutes, the same windows read raw samples. Uncached: each
        // request adds "+ 0 * i", a distinct expression of the same answer (a shifted range would leave the data)
        String expr = queries[0][0].replace("[5m]", "[1m]");
        HttpLoad.Result[] byStep = new HttpLoad.Result[2];
        long[] steps = {6 * 3_600_000, 6 * 3_600_000 - 1_000};
        for (int k = 0; k < 2; k++) {
            long step = steps[k];
            java.util.function.LongFunction<String> path = i -> "/prometheus/api/v1/query_range?query="
                    + encode(i == 0 ? expr : expr + " + 0 * " + i) + "&start=" + seconds(start) + "&end="
                    + seconds(end) + "&step=" + seconds(step);
            checkRates(expr, get(path.apply(0)), start, end, step);
            byStep[k] = new HttpLoad(host, port, 1, warmup, duration, 0, 200,
                    HttpLoad.gets(host, port, 20_000, i -> path.apply(i + 1), auth)).tally("X-Sluice-Cache").run();
            printLoad("uncached sum at " + seconds(step) + " s", byStep[k]);
        }
        long misses = byStep[0].tally().getOrDefault("miss", 0L);
        row("P4-promql", "PromQL sum by (job) (rate(...[1m])), 24 h at 6 h step, from the 1-minute rollups, uncached "
                        + "p99, ms", ms(byStep[0].percentileMillis(99)), "p50 " + ms(byStep[0].percentileMillis(50))
                        + ", " + misses + "/" + byStep[0].responses() + " misses; raw samples (step 5h59m59s): p50 "
                        + ms(byStep[1].percentileMillis(50)) + ", p99 " + ms(byStep[1].percentileMillis(99)),
                ratio(byStep[1].percentileMillis(99) / byStep[0].percentileMillis(99)) + "x raw's speed",
                "faster than raw", clean(byStep[0]) && misses == byStep[0].responses()
                        && byStep[0].percentileMillis(99) < byStep[1].percentileMillis(99));
    }

    /**
     * Once an answer is cached, a client that takes gzip gets it compressed (the gateway compresses a kept answer in
     * the background), and the compressed body is the plain one's bytes.
     */
    private void checkCompressed(String expr, String path) throws Exception {
        String plain = get(path).body();
        await("a gzip-compressed answer to " + expr, Duration.ofSeconds(30), () -> {
            HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + path))
                    .header("Authorization", "Bearer " + key).header("Accept-Encoding", "gzip")
                    .timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            if (!r.headers().firstValue("Content-Encoding").orElse("").equals("gzip")) {
                return false;
            }
            try (java.util.zip.GZIPInputStream in = new java.util.zip.GZIPInputStream(
                    new java.io.ByteArrayInputStream(r.body()))) {
                require(new String(in.readAllBytes(), StandardCharsets.UTF_8).equals(plain),
                        "the gzip-compressed answer to " + expr + " is not the plain one");
            }
            log.printf(Locale.ROOT, "checked: gzip answer %,d bytes for %,d plain%n", r.body().length, plain.length());
            return true;
        });
    }

    /**
     * The answer to {@code expr} over [start, end] at a step is the fixture's: a point at every step, and
     * per job the known total rate, per series its own rate (within 0.5 %), so that a fast wrong answer fails the run.
     */
    private void checkRates(String expr, HttpResponse<String> r, long start, long end, long step) throws IOException {
        require(r.statusCode() == 200, "query_range " + expr + " answered " + r.statusCode() + ": " + abbreviate(r.body()));
        JsonNode result = JSON.readTree(r.body()).path("data").path("result");
        boolean summed = expr.startsWith("sum");
        require(result.size() == (summed ? 1 : PromqlFixture.SERIES), "query_range " + expr + " answered "
                + result.size() + " series: " + abbreviate(r.body()));
        int points = (int) ((end - start) / step) + 1;
        for (JsonNode series : result) {
            double expected = summed ? PromqlFixture.TOTAL_RATE
                    : PromqlFixture.ratePerSecond(Integer.parseInt(series.path("metric").path("instance").asText().substring(1)));
            JsonNode values = series.path("values");
            require(values.size() == points, "query_range " + expr + ": " + values.size() + " points in "
                    + series.path("metric") + ", expected " + points);
            for (JsonNode v : values) {
                double rate = Double.parseDouble(v.get(1).asText());
                require(Math.abs(rate - expected) <= expected * 0.005, "query_range " + expr + ": " + rate + " at "
                        + v.get(0).asText() + " in " + series.path("metric") + ", expected " + expected);
            }
        }
        log.printf(Locale.ROOT, "checked: %s answers %d series x %d points at the counters' rates%n", expr, result.size(),
                points);
    }

    private static String encode(String s) {
        return java.net.URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** Epoch milliseconds as Prometheus' API takes a time: seconds with a fraction. */
    private static String seconds(long ms) {
        return String.format(Locale.ROOT, "%d.%03d", Math.floorDiv(ms, 1000), Math.floorMod(ms, 1000));
    }

    /**
     * Waits until the dev storage writer has applied everything now in Kafka (its offsets in PostgreSQL reach
     * the topics' end offsets), so that the next measurement has the machine to itself.
     */
    private void awaitWriter() throws Exception {
        long start = System.nanoTime();
        List<String> topics = List.of("sluice.metrics", "sluice.events", "sluice.clicks");
        Map<TopicPartition, Long> ends = new HashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(endpoints.get("KAFKA_BOOTSTRAP", null))) {
            for (String t : topics) {
                ends.putAll(consumer.endOffsets(partitions(consumer, t)));
            }
        }
        io.r2dbc.pool.ConnectionPool pool = postgresPool();
        try {
            await("the storage writer to catch up", Duration.ofMinutes(10), () -> {
                Map<TopicPartition, Long> applied = reactor.core.publisher.Mono.usingWhen(pool.create(),
                        c -> reactor.core.publisher.Flux.from(c.createStatement(
                                "SELECT topic, partition, next_offset FROM writer_offsets").execute())
                                .flatMap(r -> r.map((row, meta) -> Map.entry(new TopicPartition(row.get(0, String.class),
                                        row.get(1, Integer.class)), row.get(2, Long.class))))
                                .collectMap(Map.Entry::getKey, Map.Entry::getValue),
                        io.r2dbc.spi.Connection::close).block(Duration.ofSeconds(30));
                return ends.entrySet().stream().allMatch(e -> e.getValue() == 0
                        || applied.getOrDefault(e.getKey(), 0L) >= e.getValue());
            });
        } finally {
            pool.dispose();
        }
        log.printf(Locale.ROOT, "(the storage writer caught up in %.1f s)%n", (System.nanoTime() - start) / 1e9);
    }

    /**
     * Waits until the writer's compaction has merged the chunks of every hour of the fixture it compacts: those that
     * ended {@code writer.compaction-delay} (15 min) ago, each then one chunk (240 samples an hour, within
     * {@code writer.chunk-max-samples}). Its runs come every {@code writer.compaction-interval}
     * ({@code loadtest/sluice-loadtest.properties}).
     */
    private void awaitCompacted(PromqlFixture data) throws Exception {
        long waitStart = System.nanoTime();
        io.r2dbc.pool.ConnectionPool pool = postgresPool();
        // the hours compaction merges: after the fixture's first (partly before it), ended 15 min ago or more
        String merged = "c.hour > date_trunc('hour', to_timestamp($3 / 1000.0))"
                + " AND c.hour < date_trunc('hour', now() - interval '15 minutes')";
        String sql = "SELECT count(*), count(*) FILTER (WHERE " + merged + "), count(DISTINCT c.hour) FILTER (WHERE "
                + merged + ") FROM sample_chunks c JOIN series s ON s.id = c.series_id"
                + " WHERE s.name = $1 AND s.labels ->> 'job' = $2 AND c.hour >= date_trunc('hour', to_timestamp($3 / 1000.0))";
        long[][] counts = new long[2][];
        try {
            java.util.concurrent.Callable<long[]> count = () -> reactor.core.publisher.Mono.usingWhen(pool.create(),
                    c -> reactor.core.publisher.Mono.from(c.createStatement(sql).bind("$1", PromqlFixture.METRIC)
                                    .bind("$2", data.job()).bind("$3", data.firstMs()).execute())
                            .flatMap(r -> reactor.core.publisher.Mono.from(r.map((row, meta) -> new long[] {
                                    row.get(0, Long.class), row.get(1, Long.class), row.get(2, Long.class)}))),
                    io.r2dbc.spi.Connection::close).block(Duration.ofSeconds(30));
            counts[0] = count.call();
            // each hour merged: one chunk a series (240 samples, within writer.chunk-max-samples)
            await("compaction to merge the fixture's chunks", Duration.ofMinutes(15), () -> {
                counts[1] = count.call();
                return counts[1][2] > 0 && counts[1][1] == PromqlFixture.SERIES * counts[1][2];
            });
        } finally {
            pool.dispose();
        }
        log.printf(Locale.ROOT, "(compaction merged the fixture's %,d chunks into %,d, %d hours of them one chunk a "
                        + "series, in %.1f s)%n", counts[0][0], counts[1][0], counts[1][2],
                (System.nanoTime() - waitStart) / 1e9);
    }

    /** One connection to the gateway's PostgreSQL, to read what the writer and compaction have done. */
    private io.r2dbc.pool.ConnectionPool postgresPool() {
        URI pg = endpoints.postgres();
        return io.sluice.storage.postgres.PostgresConnections.pool(io.sluice.config.SluiceConfig.defaults().postgres()
                .withServer(pg.getHost(), pg.getPort(), pg.getPath().substring(1), pg.getUserInfo(), "")
                .withDatabase(pg.getPath().substring(1), 1));
    }

    private void ingest(StringBuilder samples) throws Exception {
        HttpResponse<String> r = post("/api/v1/ingest/metrics", "{\"samples\":[" + samples + "]}");
        require(r.statusCode() == 202 && JSON.readTree(r.body()).path("rejected").isEmpty(),
                "POST /api/v1/ingest/metrics answered " + r.statusCode() + ": " + abbreviate(r.body()));
    }

    // ---- P2 binary ingest vs Kafka's producer tool

    private void binaryIngest() throws Exception {
        phase = "P2 binary ingest";
        measuring();
        log.println("\n== P2: binary ingest (acknowledged) vs Kafka's producer performance tool");
        String bootstrap = endpoints.get("KAFKA_BOOTSTRAP", null);
        String topic = "sluice.metrics";
        Map<TopicPartition, Long> before;
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrap)) {
            before = consumer.endOffsets(partitions(consumer, topic));
        }
        Allocation allocationBefore = allocation(INGESTED, "transport=\"binary\"");
        // after --warmup, as the half-rate run (not --ingest-warmup: at 2M samples/s the agent would spend its
        // --max-samples before the measured window began)
        JsonNode agentResult = agentLoad("agent-load", "max", warmup);
        Allocation allocationAfter = allocation(INGESTED, "transport=\"binary\"");
        double samplesPerSecond = agentResult.get("acked_per_second").asDouble();
        double seconds = agentResult.get("seconds").asDouble();
        long failed = agentResult.get("failed").asLong();
        log.printf(Locale.ROOT, "AgentLoad: %d acked, %d failed in %.1f s: %s samples/s, ack p99 %.1f ms%n",
                agentResult.get("acked").asLong(), failed, seconds, fmt(samplesPerSecond),
                agentResult.get("ack_latency_ms").get("p99").asDouble());

        // what the gateway wrote to Kafka in that window: records and payload bytes, read back
        long records = 0;
        long bytes = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrap)) {
            Set<TopicPartition> tps = partitions(consumer, topic);
            Map<TopicPartition, Long> after = consumer.endOffsets(tps);
            consumer.assign(tps);
            for (TopicPartition tp : tps) {
                consumer.seek(tp, before.get(tp));
            }
            long wanted = tps.stream().mapToLong(tp -> after.get(tp) - before.get(tp)).sum();
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            while (records < wanted && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.offset() < after.get(new TopicPartition(r.topic(), r.partition()))) {
                        records++;
                        bytes += r.serializedValueSize();
                    }
                }
            }
        }
        require(records > 0, "the gateway wrote no records to " + topic);
        int recordSize = (int) (bytes / records);
        // the records hold the warm-up's samples too: bytes per acknowledged sample at the measured rate
        double sluiceMiB = (double) bytes / agentResult.get("acked").asLong() * samplesPerSecond / (1024 * 1024);
        log.printf(Locale.ROOT, "gateway -> Kafka: %d records, average %d bytes, %.2f MiB/s%n", records, recordSize,
                sluiceMiB);

        // the storage writer drains what P2 sent before the next phase measures anything
        phase = "P2 writer drain";
        awaitWriter();

        // the reference twice, one run after the other: a run disturbed by something else on the machine shows
        double[] kafkaRecordsPerSecond = new double[2];
        double[] kafkaMiB = new double[2];
        for (int run = 0; run < 2; run++) {
            double[] tool = producerTool(bootstrap, partitionsOf(bootstrap, topic), records, recordSize, run);
            kafkaRecordsPerSecond[run] = tool[0];
            kafkaMiB[run] = tool[1];
        }
        double meanMiB = (kafkaMiB[0] + kafkaMiB[1]) / 2;

        // ack latency at half the acknowledged rate, from when each batch was due
        phase = "P2 binary half rate";
        awaitWriter();
        double half = samplesPerSecond / 2;
        // after --ingest-warmup, as the HTTP rows' runs: a new agent JVM, at a rate the machine barely has room for,
        // spends its first minute compiling (per-second p99 of 100-300 ms until about 90 s in, 20-35 ms after)
        JsonNode pacedResult = agentLoad("agent-load-half", Long.toString((long) half), ingestWarmup);
        double pacedP99 = pacedResult.get("ack_latency_ms").get("p99").asDouble();
        long pacedFailed = pacedResult.get("failed").asLong();

        row("P2", "binary ingest, acknowledged samples/s (4 connections, batch 1000)", fmt(samplesPerSecond),
                failed + " failed", "", ">= 1,000,000", samplesPerSecond >= 1_000_000 && failed == 0);
        row("P2", "binary ack p99 at half that rate (" + fmt(half) + " samples/s, from when each batch was due), ms",
                ms(pacedP99), "p50 " + ms(pacedResult.get("ack_latency_ms").get("p50").asDouble()) + ", "
                        + fmt(pacedResult.get("acked_per_second").asDouble()) + " samples/s acknowledged, "
                        + pacedFailed + " failed", "", "< 50 ms", pacedP99 < 50 && pacedFailed == 0);
        referenceRow("P2", "gateway -> Kafka MiB/s (records of " + recordSize + " B)",
                String.format(Locale.ROOT, "%.2f", sluiceMiB), String.format(Locale.ROOT,
                        "producer tool: %.2f (%.2f and %.2f; %s records/s)", meanMiB, kafkaMiB[0], kafkaMiB[1],
                        fmt((kafkaRecordsPerSecond[0] + kafkaRecordsPerSecond[1]) / 2)),
                ratio(sluiceMiB / meanMiB), ">= 0.80", sluiceMiB / meanMiB >= 0.8, kafkaMiB);
        allocationRow("P2", "binary ingested sample", allocationBefore, allocationAfter);
    }

    /**
     * P2's {@code AgentLoad} (4 connections of 1,000-sample batches, each over its own 1,000 series of 5 labels, so
     * that no sample repeats another connection's series and timestamp) at {@code rate}
     * ({@code max} or samples/s) for {@code --duration} after {@code warmup}; its log and summary are
     * {@code name}.log and {@code name}.json beside the results. Returns the summary.
     */
    private JsonNode agentLoad(String name, String rate, Duration warmup) throws Exception {
        Path summary = out.resolve(name + ".json");
        Process agent = javaProcess("io.sluice.loadtest.agent.AgentLoad", List.of("-Xmx512m"), List.of(
                "--target=" + host + ":" + port, "--key=" + key, "--connections=4", "--rate=" + rate,
                "--warmup=" + warmup.toSeconds() + "s", "--duration=" + duration.toSeconds() + "s", "--series=1000",
                "--series-per-connection=true", "--labels=5", "--batch=1000", "--summary=" + summary,
                // paced: room for the whole run (the default cap of 100M ends a 1M/s run after 100 s)
                "--max-samples=" + (rate.equals("max") ? 100_000_000L
                        : Math.max(100_000_000L, (long) (Double.parseDouble(rate) * (warmup.toSeconds()
                                + duration.toSeconds()) * 1.2)))));
        try (var agentLog = Files.newOutputStream(out.resolve(name + ".log"))) {
            agent.getInputStream().transferTo(agentLog);
        }
        agent.waitFor();
        return JSON.readTree(Files.readString(summary));
    }

    private int partitionsOf(String bootstrap, String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            return partitions(admin, topic);
        }
    }

    /**
     * Kafka's {@code ProducerPerformance} writing {@code records} records of {@code recordSize} bytes to a new topic
     * of {@code partitions} partitions on the same broker, with the gateway's producer settings: {records/s, MiB/s}.
     */
    private double[] producerTool(String bootstrap, int partitions, long records, int recordSize, int run)
            throws Exception {
        phase = "P2 producer tool";
        String perfTopic = "bench.producer-perf." + Long.toString(System.currentTimeMillis(), 36);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new NewTopic(perfTopic, partitions, (short) 1))).all().get();
        }
        Process perf = javaProcess("org.apache.kafka.tools.ProducerPerformance", List.of("-Xmx512m"), List.of(
                "--topic", perfTopic, "--num-records", Long.toString(records), "--record-size",
                Integer.toString(recordSize), "--throughput", "-1", "--producer-props", "bootstrap.servers=" + bootstrap,
                "acks=all", "enable.idempotence=true", "linger.ms=2", "batch.size=262144", "compression.type=none"));
        String perfOut = new String(perf.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        perf.waitFor();
        Path logFile = out.resolve("producer-perf-" + (run + 1) + ".log");
        Files.writeString(logFile, perfOut);
        String summaryLine = perfOut.lines().filter(l -> l.contains("records sent") && l.contains("99th"))
                .reduce((a, b) -> b).orElseThrow(() -> new IllegalStateException("ProducerPerformance printed no "
                        + "summary; see " + logFile));
        log.println("ProducerPerformance (run " + (run + 1) + "): " + summaryLine.trim());
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("([0-9.]+) records/sec \\(([0-9.]+) MB/sec\\)").matcher(summaryLine);
        require(m.find(), "cannot read ProducerPerformance's summary: " + summaryLine);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.deleteTopics(List.of(perfTopic)).all().get();
        }
        return new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))};
    }

    // ---- P2 HTTP ingest: JSON, Prometheus remote_write, Influx line protocol

    /**
     * The last timestamp any HTTP ingest row sent, by connection: a later row's connection starts after it, so no
     * row repeats a sample an earlier one sent (the formats share their series).
     */
    private final Map<Integer, Long> ingestTimestamps = new HashMap<>();

    /**
     * Each selected HTTP ingest format ({@code P2-json}, {@code P2-remote-write}, {@code P2-influx}) over the same
     * samples ({@link IngestBodies}: 1,000 series of 5 labels a body), measured as P1 is: {@link HttpLoad} with
     * {@code --ingest-connections} keep-alive connections, one body in flight each, as fast as answers come
     * (acknowledged samples/s: answers with the format's success status, times 1,000), then paced at half that
     * rate with each body's latency measured from when it was due. Each connection sends its own series at rising
     * timestamps ({@link IngestBodies.Stream}), so every sample is new to storage; one body is first sent alone and
     * must be taken whole.
     */
    private void httpIngest() throws Exception {
        int conns = Integer.parseInt(opts.getOrDefault("ingest-connections", "8"));
        double jsonRate = 0;
        for (IngestBodies.Format format : IngestBodies.Format.values()) {
            if (!selected("P2-" + format.label().replace('_', '-'))) {
                continue;
            }
            double rate = httpIngest(format, conns, jsonRate);
            if (format == IngestBodies.Format.JSON) {
                jsonRate = rate;
            }
        }
    }

    private double httpIngest(IngestBodies.Format format, int conns, double jsonRate) throws Exception {
        phase = "P2 " + format.label();
        measuring();
        log.printf(Locale.ROOT, "%n== P2: HTTP ingest, %s (POST %s), %,d series x %d labels a body%n", format.label(),
                format.path(), IngestBodies.SERIES, IngestBodies.LABELS);
        // the machine to itself: what earlier phases sent is stored first, and what they set off has finished
        awaitWriter();
        awaitQuiet();
        measuring();
        try (IngestStreams streams = new IngestStreams(format, conns)) {
            return httpIngest(format, conns, jsonRate, streams);
        }
    }

    private double httpIngest(IngestBodies.Format format, int conns, double jsonRate, IngestStreams streams)
            throws Exception {
        IngestRun run = maxIngest(streams);
        HttpLoad.Result max = run.result();
        long acked = run.acked();
        long accepted = run.accepted();
        double samplesPerSecond = run.samplesPerSecond();
        String what = "HTTP ingest, " + format.label() + " (POST " + format.path().replaceAll("\\?.*", "") + "), "
                + conns + " connections, 1,000-sample bodies, acknowledged samples/s";
        String latency = "p50 " + ms(max.percentileMillis(50)) + " ms, p99 " + ms(max.percentileMillis(99)) + " ms";
        boolean reference = format != IngestBodies.Format.JSON && jsonRate > 0;
        row("P2", what, fmt(samplesPerSecond), reference ? latency + "; JSON " + fmt(jsonRate) : latency,
                reference ? ratio(samplesPerSecond / jsonRate) + "x JSON" : "", ">= 1,000,000",
                samplesPerSecond >= 1_000_000 && clean(max) && accepted >= acked);
        allocationRow("P2", format.label() + " ingested sample", run.allocationBefore(), run.allocationAfter());
        double half = samplesPerSecond / 2;
        HttpLoad.Result paced = null;
        if (half >= IngestBodies.SERIES) {
            awaitWriter();
            phase = "P2 " + format.label() + " half rate";
            paced = new HttpLoad(host, port, conns, warmup, duration, half / IngestBodies.SERIES,
                    format.success(), streams::connection).run();
        }
        halfRateRow(format.label(), "Sluice " + format.label() + " at half rate", half, max, paced);
        if (paced == null) {
            return samplesPerSecond;
        }
        storagePaused(streams, samplesPerSecond);
        return samplesPerSecond;
    }

    /**
     * The format again with the {@code dev}'s PostgreSQL frozen throughout ({@link FrozenProcesses}): as fast as
     * answers come ({@code --warmup}, then {@code --duration}), then paced at half that rate, the pair of P2 rows
     * above for the gateway and Kafka alone on the machine. P2 measures ingest acknowledged once Kafka has it; here the
     * writer and PostgreSQL share the two cores with the gateway, in a deployment they need not. The writer waits
     * meanwhile and catches up once PostgreSQL is thawed, before the next row.
     */
    private void storagePaused(IngestStreams streams, double withStorage) throws Exception {
        awaitWriter();
        awaitQuiet();
        IngestBodies.Format format = streams.format;
        phase = "P2 " + format.label() + ", storage paused";
        measuring();
        HttpLoad.Result paused;
        HttpLoad.Result paced = null;
        ProcessHandle postmaster = Cpu.postmaster(DATA_DIR)
                .orElseThrow(() -> new IllegalStateException("no running PostgreSQL under " + DATA_DIR));
        double rate;
        try (FrozenProcesses frozen = FrozenProcesses.freeze(postmaster)) {
            paused = new HttpLoad(host, port, streams.connections(), warmup, duration, 0, format.success(),
                    streams::connection).run();
            rate = acknowledgedSamplesPerSecond(paused);
            if (rate / 2 >= IngestBodies.SERIES) {
                paced = new HttpLoad(host, port, streams.connections(), warmup, duration, rate / 2 / IngestBodies.SERIES,
                        format.success(), streams::connection).run();
            }
        }
        printLoad("Sluice " + format.label() + ", PostgreSQL frozen", paused);
        String what = "HTTP ingest, " + format.label() + ", with storage paused (PostgreSQL frozen for the run: the "
                + "gateway and Kafka alone on the machine, the writer waiting)";
        row("P2", what + ", acknowledged samples/s", fmt(rate), "p50 " + ms(paused.percentileMillis(50)) + " ms, p99 "
                        + ms(paused.percentileMillis(99)) + " ms, " + paused.unexpected() + " unexpected; with storage "
                        + fmt(withStorage), ratio(rate / withStorage) + "x with storage", ">= 1,000,000",
                rate >= 1_000_000 && clean(paused));
        halfRateRow(format.label() + " with storage paused", "Sluice " + format.label()
                + ", PostgreSQL frozen, at half rate", rate / 2, paused, paced);
        awaitWriter();
    }

    /**
     * The P2 row of an HTTP ingest run paced at {@code half} the samples/s {@code max} reached: its ack p99, measured
     * from when each body was due; {@code paced} is null when {@code max} acknowledged too little to pace at half.
     */
    private void halfRateRow(String label, String loadName, double half, HttpLoad.Result max, HttpLoad.Result paced) {
        if (paced == null) {
            row("P2", label + ", ack p99 at half that rate, ms", "-", "nothing acknowledged at full load: "
                    + max.firstUnexpected(), "", "< 50 ms", false);
            return;
        }
        printLoad(loadName, paced);
        row("P2", label + ", ack p99 at half that rate (" + fmt(half) + " samples/s, from when each body was due), ms",
                ms(paced.percentileMillis(99)), "p50 " + ms(paced.percentileMillis(50)) + ", "
                        + fmt(acknowledgedSamplesPerSecond(paced)) + " samples/s acknowledged",
                "", "< 50 ms", paced.percentileMillis(99) < 50 && clean(paced));
    }

    /** Samples/s in the bodies a run had acknowledged with the expected status (each body holds {@link IngestBodies#SERIES}). */
    private static double acknowledgedSamplesPerSecond(HttpLoad.Result run) {
        return (run.responses() - run.unexpected()) * (double) IngestBodies.SERIES / run.seconds();
    }

    /** One run of {@link #maxIngest}: the load's result, and samples acknowledged/accepted. */
    private record IngestRun(HttpLoad.Result result, long acked, long accepted,
                             Allocation allocationBefore, Allocation allocationAfter) {
        double samplesPerSecond() {
            return acked / result.seconds();
        }
    }

    /** One {@link IngestBodies.Stream} per connection of an HTTP ingest row; closing them records where they got to. */
    private final class IngestStreams implements AutoCloseable {
        final IngestBodies.Format format;
        private final IngestBodies.Stream[] streams;

        IngestStreams(IngestBodies.Format format, int conns) {
            this.format = format;
            this.streams = new IngestBodies.Stream[conns];
            for (int c = 0; c < conns; c++) {
                streams[c] = new IngestBodies.Stream(format, c, ingestTimestamps.getOrDefault(c, 0L), host, port, key);
            }
        }

        int connections() {
            return streams.length;
        }

        IngestBodies.Stream connection(int c) {
            return streams[c];
        }

        long requests() {
            return Arrays.stream(streams).mapToLong(IngestBodies.Stream::requests).sum();
        }

        long bodyBytes() {
            return Arrays.stream(streams).mapToLong(IngestBodies.Stream::bodyBytes).sum();
        }

        @Override
        public void close() {
            for (IngestBodies.Stream stream : streams) {
                ingestTimestamps.merge(stream.connection(), stream.last(), Math::max);
                stream.close();
            }
        }
    }

    /**
     * {@link IngestBodies} of {@code format} sent over {@code conns} connections as fast as answers come for
     * {@code --duration} (after {@code --warmup}); acknowledged samples counted by the client and by the gateway.
     */
    private IngestRun maxIngest(IngestBodies.Format format, int conns) throws Exception {
        try (IngestStreams streams = new IngestStreams(format, conns)) {
            return maxIngest(streams);
        }
    }

    private IngestRun maxIngest(IngestStreams streams) throws Exception {
        IngestBodies.Format format = streams.format;
        IngestBodies.Stream first = streams.connection(0);
        first.next();
        preflight(format, first.body());
        long acceptedBefore = acceptedSamples(format.transport());
        Allocation allocationBefore = allocation(INGESTED, "transport=\"" + format.transport() + "\"");
        HttpLoad.Result max = new HttpLoad(host, port, streams.connections(), ingestWarmup, duration, 0,
                format.success(), streams::connection).run();
        Allocation allocationAfter = allocation(INGESTED, "transport=\"" + format.transport() + "\"");
        printLoad("Sluice " + format.label(), max);
        long acked = (max.responses() - max.unexpected()) * IngestBodies.SERIES;
        // the gateway's own count (warm-up included) must cover what the client saw acknowledged in the measured window
        long accepted = acceptedSamples(format.transport()) - acceptedBefore;
        IngestRun run = new IngestRun(max, acked, accepted, allocationBefore, allocationAfter);
        log.printf(Locale.ROOT, "%s: %s acknowledged samples/s (bodies of %,d bytes on average); the gateway counted "
                        + "%,d samples accepted over transport %s in warm-up and run, the client %,d acknowledged in the run%n",
                format.label(), fmt(run.samplesPerSecond()), streams.bodyBytes() / Math.max(1, streams.requests()),
                accepted, format.transport(), acked);
        return run;
    }

    /** {@code sluice_ingest_accepted_total{kind="samples",transport}}: 0 until the first sample of that transport. */
    private long acceptedSamples(String transport) throws IOException, InterruptedException {
        double sum = 0;
        for (String line : metrics().split("\n")) {
            if (line.startsWith("sluice_ingest_accepted_total{") && line.contains("kind=\"samples\"")
                    && line.contains("transport=\"" + transport + "\"")) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return (long) sum;
    }

    /**
     * One body sent alone must be taken whole: all its samples inside the ingest window, its series under the active-series
     * limit, its format as the route reads it. Otherwise the rows would measure refusals.
     */
    private void preflight(IngestBodies.Format format, byte[] body) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + format.path()))
                .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofByteArray(body));
        for (String line : (format.authorization(key) + format.headers()).split("\r\n")) {
            request.header(line.substring(0, line.indexOf(':')), line.substring(line.indexOf(':') + 1).trim());
        }
        HttpResponse<String> r = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        require(r.statusCode() == format.success() && (format != IngestBodies.Format.JSON
                        || JSON.readTree(r.body()).path("rejected").isEmpty()),
                "POST " + format.path() + " answered " + r.statusCode() + ": " + abbreviate(r.body()));
    }

    // ---- P3 storage writer vs psql \copy

    private void writer() throws Exception {
        phase = "P3 writer vs copy";
        measuring();
        log.println("\n== P3: storage writer vs psql \\copy (same PostgreSQL, fresh databases)");
        awaitWriter();
        URI pg = endpoints.postgres();
        int samples = Integer.parseInt(opts.getOrDefault("writer-samples", "5000000"));
        WriterVsCopy.Result r;
        try {
            r = WriterVsCopy.run(endpoints.get("KAFKA_BOOTSTRAP", null), pg.getHost(), pg.getPort(), pg.getUserInfo(),
                    samples, 1_000, Files.createTempDirectory("sluice-bench-"));
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).contains("psql")) {
                row("P3", "storage writer samples/s", "-", "psql not found (Debian: apt-get install postgresql-client)",
                        "-", ">= 3.00", false);
                return;
            }
            throw e;
        }
        log.printf(Locale.ROOT, "writer %d samples in %.2f s after joining its consumer group in %.2f s (%.0f samples/s "
                        + "with the join; its warm-up pass, cold, %.0f samples/s; %d bytes), psql \\copy %d rows in %.2f s "
                        + "(%d bytes)%n", r.writerSamples(), r.writerSeconds(), r.joinSeconds(), r.writerRateWithJoin(),
                r.coldRate(), r.writerBytes(), r.copyRows(), r.copySeconds(), r.copyBytes());
        row("P3", String.format(Locale.ROOT, "storage writer samples/s (chunks + heads + series + rollups + offsets), "
                        + "warm, from its partitions assigned (joining the group took %.2f s before; cold %s)", r.joinSeconds(),
                        fmt(r.coldRate())),
                fmt(r.writerRate()),
                "psql \\copy, one row each into V3 samples: " + fmt(r.copyRate()), ratio(r.writerRate() / r.copyRate()),
                ">= 3.00", r.writerRate() / r.copyRate() >= 3 && r.writerSamples() == r.copyRows());
        row("P3", "bytes per sample on disk (sample_chunks, before compaction)",
                String.format(Locale.ROOT, "%.2f", r.writerBytesPerSample()),
                String.format(Locale.ROOT, "V3 samples: %.2f", r.copyBytesPerSample()),
                ratio(r.writerBytesPerSample() / r.copyBytesPerSample()), "< 1.00",
                r.writerBytesPerSample() < r.copyBytesPerSample());
    }

    // ---- P6 sustained end to end

    /** One fixed-rate run: what the gateway acknowledged and how far behind the writer was at its end. */
    private record Trial(double rate, double ackedPerSecond, long acked, long failed, long lagSamples, long maxLagSamples,
                         double writerPerSecond, Cpu cpu) {
        double lagSeconds() {
            return lagSamples / rate;
        }

        /** CPU microseconds per acknowledged sample, load and drain: the dev JVM's, and with its PostgreSQL and Kafka. */
        String cpuPerSample() {
            return acked == 0 ? "-" : String.format(Locale.ROOT, "%.2f / %s", cpu.devNanos() / 1e3 / acked,
                    cpu.stackNanos() < 0 ? "?" : String.format(Locale.ROOT, "%.2f", cpu.stackNanos() / 1e3 / acked));
        }

        /** The gateway took the rate (95 % of it acknowledged, nothing failed) and the writer kept up. */
        boolean held() {
            return failed == 0 && ackedPerSecond >= 0.95 * rate && lagSeconds() < 1;
        }

        String summary() {
            return String.format(Locale.ROOT, "%s: %s acked/s, lag %.2f s%s", shortRate(rate), shortRate(ackedPerSecond),
                    lagSeconds(), held() ? "" : failed > 0 ? " (" + failed + " failed)" : ackedPerSecond < 0.95 * rate
                            ? " (gateway short)" : " (writer behind)");
        }
    }

    private void sustained() throws Exception {
        log.println("\n== P6: sustained end to end (binary load at fixed rates, writer in the same dev)");
        measuring();
        Duration trialLength = io.sluice.config.Values.duration(opts.getOrDefault("sustained-duration", "60s"));
        Duration latencyLength = io.sluice.config.Values.duration(opts.getOrDefault("latency-duration", "30s"));
        int bisect = Integer.parseInt(opts.getOrDefault("sustained-bisect", "1"));
        List<Double> rates = new ArrayList<>();
        for (String r : opts.getOrDefault("sustained-rates", "250000,500000,1000000,1500000").split(",")) {
            rates.add(Double.parseDouble(r.trim()));
        }
        rates.sort(null);
        // the JIT of a 2-core machine is still compiling a minute into a cold dev's first load (a compiler thread busy
        // all along, about a fifth of the dev's CPU): the trials measure the dev as it runs for days, not that minute
        Duration warmUp = io.sluice.config.Values.duration(opts.getOrDefault("sustained-warmup", "60s"));
        if (!warmUp.isZero()) {
            Trial w = agentRun("P6 warm-up", rates.get(0), warmUp, () -> 0L, () -> { }, () -> { });
            log.printf(Locale.ROOT, "warm-up (not a trial): %s%n", w.summary());
        }
        List<Trial> trials = new ArrayList<>();
        double best = 0;
        double failedAt = 0;
        for (double rate : rates) {
            Trial t = trial(rate, trialLength);
            trials.add(t);
            if (!t.held()) {
                failedAt = rate;
                break;
            }
            best = rate;
        }
        // the lowest rate failed: halve it (twice at most), so that a busy or slow machine still gets a figure
        for (int step = 0; step < 2 && best == 0 && failedAt / 2 >= 10_000; step++) {
            double rate = failedAt / 2;
            Trial t = trial(rate, trialLength);
            trials.add(t);
            if (t.held()) {
                best = rate;
            } else {
                failedAt = rate;
            }
        }
        for (int step = 0; step < bisect && failedAt > 0 && best > 0; step++) {
            double rate = Math.round((best + failedAt) / 2 / 10_000) * 10_000.0;
            if (rate <= best || rate >= failedAt) {
                break;
            }
            Trial t = trial(rate, trialLength);
            trials.add(t);
            if (t.held()) {
                best = rate;
            } else {
                failedAt = rate;
            }
        }
        String tried = trials.stream().map(Trial::summary).collect(Collectors.joining("; "));
        row("P6", "sustained end to end: highest fixed rate whose writer lag after " + trialLength.toSeconds()
                        + " s of binary load is < 1 s of data, samples/s", fmt(best), tried, "", ">= 1,000,000",
                best >= 1_000_000);

        // when no rate held, half the lowest one tried (the row then says the target is not met)
        double half = (best > 0 ? best : failedAt) / 2;
        Latency latency = ingestToQueryable(half, latencyLength);
        row("P6", "ingest -> queryable p99 at half that rate (" + fmt(half) + " samples/s, queried from "
                        + latency.via() + "), ms",
                ms(latency.percentile(99)), String.format(Locale.ROOT, "p50 %s, max %s, %d probes, %d never seen, lag %.2f s; %s",
                        ms(latency.percentile(50)), ms(latency.percentile(100)), latency.probes(), latency.unseen(),
                        latency.trial().lagSeconds(), latency.from()), "", "< 1000 ms",
                best > 0 && latency.unseen() == 0 && latency.probes() > 0 && latency.percentile(99) < 1000);

        row("P6", "CPU per acknowledged sample in each fixed-rate run (load and drain), us: the dev JVM (gateway and "
                        + "writer) / with its PostgreSQL and Kafka",
                trials.stream().map(t -> shortRate(t.rate()) + " " + t.cpuPerSample()).collect(Collectors.joining("; ")),
                "machine: " + Runtime.getRuntime().availableProcessors() + " cores", "", "reported", true);

        long[] peak = new long[3];
        synchronized (peaks) {
            peaks.forEach((p, v) -> {
                if (p.startsWith("P6")) {
                    for (int i = 0; i < 3; i++) {
                        peak[i] = Math.max(peak[i], v[i]);
                    }
                }
            });
        }
        // heap used always stays under -Xmx (the dev runs with ExitOnOutOfMemoryError); what tells a bound is that the
        // gateway survived and what a full collection leaves (Micrometer's live data size, when one ran) stays well under it
        String heapLimit = opts.getOrDefault("heap", "256m");
        long limit = javaSize(heapLimit);
        row("P6", "gateway peak heap used / live heap after GC / RSS in the sustained phases, MB (heap limit "
                        + heapLimit + ")", mb(peak[0]) + " / " + (peak[2] > 0 ? mb(peak[2]) : "-") + " / " + mb(peak[1]),
                dev.isAlive() ? "dev alive" : "dev exited with " + dev.exitValue(), "", "no OOM, live < 75 % of heap",
                dev.isAlive() && peak[0] > 0 && peak[2] < limit * 3 / 4);
    }

    /**
     * Runs {@code AgentLoad} at a fixed rate (4 connections, each with its own 1,000 series of 5 labels, batches
     * of 1,000) and, at each of its per-second lines, compares the samples it has had acknowledged with the
     * samples the writer has stored or found duplicate since the start ({@code /metrics}). The lag is the last
     * comparison; afterwards the writer drains before anything else is measured.
     */
    private Trial trial(double rate, Duration length) throws Exception {
        return agentRun("P6 sustained " + shortRate(rate), rate, length, () -> 0L, () -> { }, () -> { });
    }

    private interface Count {
        long get();
    }

    private interface Step {
        void run() throws Exception;
    }

    /**
     * {@code extraAcked}: samples acknowledged beside the agent's (the probes); {@code loadEnded}: runs once the agent
     * has exited, before the writer drains; {@code onSchedule}: runs once, at the agent's third second in a row on
     * schedule (see {@link #keptSchedule}).
     */
    private Trial agentRun(String name, double rate, Duration length, Count extraAcked, Step loadEnded,
                           Runnable onSchedule) throws Exception {
        awaitWriter();
        phase = name;
        long before = appliedSamples();
        Cpu cpuBefore = Cpu.of(gatewayPid, DATA_DIR);
        Path summary = out.resolve("agent-" + name.replace(' ', '-') + ".json");
        Process agent = javaProcess("io.sluice.loadtest.agent.AgentLoad", List.of("-Xmx512m"), List.of(
                "--target=" + host + ":" + port, "--key=" + key, "--connections=4", "--rate=" + (long) rate,
                "--duration=" + length.toSeconds() + "s", "--series=1000", "--series-per-connection=true",
                "--labels=5", "--batch=1000", "--summary=" + summary));
        long acked = 0;
        long lag = 0;
        long maxLag = 0;
        long applied = 0;
        java.util.regex.Pattern tick = java.util.regex.Pattern.compile("^(\\d+)\\s+(\\d+)\\s+(\\S+)\\s+(\\S+)\\s");
        int secondsOnSchedule = 0;
        boolean scheduled = false;
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(agent.getInputStream(), StandardCharsets.UTF_8));
             PrintStream agentLog = new PrintStream(Files.newOutputStream(out.resolve("agent-" + name.replace(' ', '-')
                     + ".log")), true, StandardCharsets.UTF_8)) {
            for (String line; (line = lines.readLine()) != null; ) {
                java.util.regex.Matcher m = tick.matcher(line);
                if (m.find()) {
                    acked += Long.parseLong(m.group(2));
                    applied = appliedSamples() - before;
                    lag = acked + extraAcked.get() - applied;
                    maxLag = Math.max(maxLag, lag);
                    int sec = Integer.parseInt(m.group(1));
                    secondsOnSchedule = keptSchedule(rate, Long.parseLong(m.group(2)), Double.parseDouble(m.group(4)))
                            ? secondsOnSchedule + 1 : 0;
                    if (secondsOnSchedule == 3 && !scheduled) {
                        scheduled = true;
                        onSchedule.run();
                    }
                    line += String.format(Locale.ROOT, "   writer applied %d, lag %d samples", applied, lag);
                    if (sec % 10 == 0) {
                        log.printf(Locale.ROOT, "  %s s %3d: acked %,d, writer %,d, lag %.2f s%n", name, sec, acked,
                                applied, lag / rate);
                    }
                }
                agentLog.println(line);
            }
        }
        agent.waitFor();
        loadEnded.run();
        JsonNode result = JSON.readTree(Files.readString(summary));
        log.printf(Locale.ROOT, "%s: %,d acked (%s/s), %d failed, writer %s/s, lag at the end %,d samples (%.2f s), "
                        + "at most %.2f s%n", name, result.get("acked").asLong(),
                fmt(result.get("acked_per_second").asDouble()), result.get("failed").asLong(),
                fmt(applied / result.get("seconds").asDouble()), lag, lag / rate, maxLag / rate);
        phase = name + " drain";
        awaitWriter();
        Trial t = new Trial(rate, result.get("acked_per_second").asDouble(), result.get("acked").asLong(),
                result.get("failed").asLong(), lag, maxLag, applied / result.get("seconds").asDouble(),
                Cpu.of(gatewayPid, DATA_DIR).minus(cpuBefore));
        log.printf(Locale.ROOT, "%s: %s; CPU per acknowledged sample (dev / with PostgreSQL and Kafka) %s us%n", name,
                t.held() ? "held" : "NOT held", t.cpuPerSample());
        long stored = appliedSamples() - before;
        long expected = result.get("acked").asLong() + extraAcked.get();
        if (stored != expected) {
            log.printf(Locale.ROOT, "WARNING: %s: %,d samples acknowledged, the writer stored or skipped as duplicate %,d%n",
                    name, expected, stored);
        }
        return t;
    }

    /**
     * Whether a second of {@code AgentLoad} kept to its schedule: within 10 % of the rate, and 99 % of its batches
     * acknowledged within 500 ms of when they were due. A fresh agent JVM does not at first (its JIT, on a machine
     * the load keeps busy): it falls behind for several seconds, then catches up at well over the rate.
     */
    static boolean keptSchedule(double rate, long ackedThisSecond, double p99Ms) {
        return Math.abs(ackedThisSecond - rate) <= rate / 10 && p99Ms < 500;
    }

    /** How long the ingest to queryable run gives its agent to keep to its schedule before the probes start. */
    private static final Duration LATENCY_WARMUP = Duration.ofSeconds(30);

    /** Ingest-to-queryable delays of the probes. */
    private record Latency(Trial trial, org.HdrHistogram.Histogram micros, int probes, int unseen, String via,
                           String from) {
        double percentile(double p) {
            return micros.getTotalCount() == 0 ? Double.NaN : micros.getValueAtPercentile(p) / 1000.0;
        }
    }

    /** One probe sample: its timestamp (unique), when it was acknowledged and when a query first returned it. */
    private static final class Probe {
        final long ts;
        volatile long ackedAt;
        volatile long seenAt;

        Probe(long ts) {
            this.ts = ts;
        }
    }

    /**
     * While {@code AgentLoad} runs at {@code rate}, for {@code length} from when it keeps its schedule (at most
     * {@link #LATENCY_WARMUP} after it started; before that a fresh agent JVM catches up in bursts well over the
     * rate): every 100 ms one sample of a probe series, its timestamp unique and its value its timestamp, through
     * {@code POST /api/v1/ingest/metrics} (202 = acknowledged, durable in Kafka); a query loop asks
     * {@code GET /api/v1/query} (raw samples, 1 ms step, from the oldest probe not yet seen) about every 10 ms and
     * notes when each probe first shows up.
     */
    private Latency ingestToQueryable(double rate, Duration length) throws Exception {
        log.printf(Locale.ROOT, "ingest -> queryable at %s samples/s for %d s%n", fmt(rate), length.toSeconds());
        java.util.concurrent.CountDownLatch scheduled = new java.util.concurrent.CountDownLatch(1);
        long agentStarted = System.nanoTime();
        java.util.concurrent.atomic.AtomicReference<String> probedFrom = new java.util.concurrent.atomic.AtomicReference<>("-");
        String metric = "bench.probe." + Long.toString(System.currentTimeMillis(), 36);
        java.util.concurrent.ConcurrentSkipListMap<Long, Probe> probes = new java.util.concurrent.ConcurrentSkipListMap<>();
        java.util.concurrent.atomic.AtomicLong probesAcked = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicBoolean sending = new java.util.concurrent.atomic.AtomicBoolean(true);
        java.util.concurrent.atomic.AtomicReference<String> trouble = new java.util.concurrent.atomic.AtomicReference<>();
        Thread prober = new Thread(() -> {
            long last = 0;
            try {
                boolean onSchedule = scheduled.await(LATENCY_WARMUP.toMillis(), TimeUnit.MILLISECONDS);
                long from = System.nanoTime();
                probedFrom.set(String.format(Locale.ROOT, "probed from %.0f s into the load%s", (from - agentStarted) / 1e9,
                        onSchedule ? ", once on schedule" : ", still off schedule"));
                log.printf(Locale.ROOT, "%s; probing for %d s%n", probedFrom.get(), length.toSeconds());
                while (sending.get() && System.nanoTime() - from < length.toNanos()) {
                    long began = System.nanoTime();
                    long ts = Math.max(System.currentTimeMillis(), last + 1);
                    last = ts;
                    Probe p = new Probe(ts);
                    probes.put(ts, p);
                    HttpResponse<String> r = post("/api/v1/ingest/metrics", "{\"samples\":[{\"name\":\"" + metric
                            + "\",\"labels\":{\"probe\":\"p\"},\"timestamp\":" + ts + ",\"value\":" + ts + "}]}");
                    if (r.statusCode() == 202) {
                        p.ackedAt = System.nanoTime();
                        probesAcked.incrementAndGet();
                    } else {
                        probes.remove(ts);
                        trouble.compareAndSet(null, "probe answered " + r.statusCode() + ": " + abbreviate(r.body()));
                    }
                    long wait = TimeUnit.MILLISECONDS.toNanos(100) - (System.nanoTime() - began);
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                }
            } catch (Exception e) {
                trouble.compareAndSet(null, "probe: " + e);
            }
        }, "probe");
        java.util.concurrent.atomic.AtomicLong queries = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicLong pollUntil = new java.util.concurrent.atomic.AtomicLong(Long.MAX_VALUE);
        // raw samples at a 1 ms step; should raw queries fail, the 1-minute rollups (written in the same transaction
        // as the chunks): a probe is in when its minute's max reaches its value (the probe series is one series, so
        // the writer stores its probes in the order they were acknowledged)
        java.util.concurrent.atomic.AtomicLong stepMs = new java.util.concurrent.atomic.AtomicLong(1);
        Thread poller = new Thread(() -> {
            try {
                while (System.nanoTime() < pollUntil.get()) {
                    Probe oldest = probes.values().stream().filter(p -> p.seenAt == 0).findFirst().orElse(null);
                    if (oldest == null) {
                        if (!sending.get() && prober.getState() == Thread.State.TERMINATED) {
                            return;
                        }
                        TimeUnit.MILLISECONDS.sleep(10);
                        continue;
                    }
                    long step = stepMs.get();
                    long to = Math.max(oldest.ts + 1, Math.min(System.currentTimeMillis() + 1, oldest.ts + 10_000 * step));
                    // the regex matcher differs every time, so that no answer comes from the query cache
                    long n = queries.incrementAndGet();
                    HttpResponse<String> r = get("/api/v1/query?metric=" + metric + "&match=probe=~p%7Cq" + n + "&from="
                            + oldest.ts + "&to=" + to + "&step=" + step + "ms&agg=max");
                    long at = System.nanoTime();
                    if (r.statusCode() != 200) {
                        trouble.compareAndSet(null, "query (" + step + " ms step) answered " + r.statusCode() + ": "
                                + abbreviate(r.body()));
                        if (step == 1 && r.statusCode() >= 500) {
                            stepMs.set(60_000);
                            log.println("raw queries fail (" + abbreviate(r.body()) + "); probing 1-minute rollups instead");
                        }
                    } else {
                        for (JsonNode series : JSON.readTree(r.body()).path("series")) {
                            for (JsonNode point : series.path("points")) {
                                long bucket = point.get(0).asLong();
                                double max = point.get(1).asDouble();
                                for (Probe p : probes.subMap(bucket, bucket + step).values()) {
                                    if (p.seenAt == 0 && max >= p.ts) {
                                        p.seenAt = at;
                                    }
                                }
                            }
                        }
                    }
                    TimeUnit.MILLISECONDS.sleep(10);
                }
            } catch (Exception e) {
                trouble.compareAndSet(null, "query loop: " + e);
            }
        }, "probe-poller");
        prober.start();
        poller.start();
        Step stopProbes = () -> {
            sending.set(false);
            prober.join();
        };
        Trial trial;
        try {
            trial = agentRun("P6 ingest to queryable", rate, length.plus(LATENCY_WARMUP), probesAcked::get, stopProbes,
                    scheduled::countDown);
        } finally {
            stopProbes.run();
            // the last probes have had the writer's drain; give any probe still unseen 30 s more
            pollUntil.set(System.nanoTime() + TimeUnit.SECONDS.toNanos(30));
            poller.join();
        }
        org.HdrHistogram.Histogram micros = new org.HdrHistogram.Histogram(3);
        int unseen = 0;
        for (Probe p : probes.values()) {
            if (p.ackedAt == 0) {
                continue;
            }
            if (p.seenAt == 0) {
                unseen++;
            } else {
                micros.recordValue(Math.max(1, (p.seenAt - p.ackedAt) / 1000));
            }
        }
        int acked = (int) probesAcked.get();
        Latency latency = new Latency(trial, micros, acked, unseen, stepMs.get() == 1 ? "raw samples" : "1-minute rollups",
                probedFrom.get());
        log.printf(Locale.ROOT, "probes: %d acknowledged, %d never seen, %d queries; ack -> queryable p50 %s ms, "
                        + "p99 %s ms, max %s ms%s%n", acked, unseen, queries.get(), ms(latency.percentile(50)),
                ms(latency.percentile(99)), ms(latency.percentile(100)),
                trouble.get() == null ? "" : "; first trouble: " + trouble.get());
        return latency;
    }

    /** Samples the dev writer has stored or found already stored, from {@code /metrics}. */
    private long appliedSamples() throws IOException, InterruptedException {
        String text = metrics();
        return (long) (metricSum(text, "sluice_writer_rows_total", "table=\"samples\"")
                + metricSum(text, "sluice_writer_duplicates_total", "table=\"samples\""));
    }

    /** A JVM memory size as -Xmx takes it: 256m, 1g, 262144k. */
    private static long javaSize(String raw) {
        char unit = Character.toLowerCase(raw.charAt(raw.length() - 1));
        long shift = unit == 'k' ? 10 : unit == 'm' ? 20 : unit == 'g' ? 30 : 0;
        return Long.parseLong(shift == 0 ? raw : raw.substring(0, raw.length() - 1)) << shift;
    }

    private static String shortRate(double rate) {
        return rate >= 1_000_000 ? String.format(Locale.ROOT, "%.2fM", rate / 1e6).replace(".00M", "M")
                : String.format(Locale.ROOT, "%.0fk", rate / 1e3);
    }

    // ---- P7 alerting

    /**
     * {@link AlertingFixture}'s 10,000 rules over 100,000 gauges, imported as Prometheus rule files through
     * {@code POST /api/v1/alerts/rules/import} and evaluated every 30 s by the {@code dev} process's alerter while the
     * gauges are ingested every 30 s (100,000 samples, JSON). Once every rule has been evaluated and every {@code for}
     * has run out, the evaluation lag over {@code --alerting-duration} (default 120 s): p50/p99 from the buckets of
     * {@code sluice_alert_evaluation_lag_seconds} (the difference over the window), with the evaluations done against
     * those due, missed slots and failures; and the firing alerts checked against the fixture's. Then the effect on
     * ingest: {@link IngestBodies} JSON at full speed with the rules evaluating, against the same without any rule
     * (before the import), with the lag while ingest runs flat out. The rule groups are emptied at the end.
     */
    private void alerting() throws Exception {
        phase = "P7 ingest without rules";
        measuring();
        log.printf(Locale.ROOT, "%n== P7: %,d alert rules over %,d series, every %d s%n", AlertingFixture.RULES,
                AlertingFixture.series(), AlertingFixture.INTERVAL_SECONDS);
        AlertingFixture fixture = new AlertingFixture("alert-" + Long.toString(System.currentTimeMillis(), 36));
        int conns = Integer.parseInt(opts.getOrDefault("ingest-connections", "8"));
        Duration window = io.sluice.config.Values.duration(opts.getOrDefault("alerting-duration", "120s"));
        awaitWriter();
        IngestRun without = maxIngest(IngestBodies.Format.JSON, conns);

        phase = "P7 alerting";
        java.util.concurrent.ScheduledExecutorService scraper = java.util.concurrent.Executors
                .newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "p7-scrapes");
                    t.setDaemon(true);
                    return t;
                });
        java.util.concurrent.atomic.AtomicReference<Exception> scrapeFailure = new java.util.concurrent.atomic.AtomicReference<>();
        try {
            long scrapeStart = System.nanoTime();
            scrape(fixture);
            log.printf(Locale.ROOT, "one scrape of %,d gauges sent in %.1f s%n", AlertingFixture.series(),
                    (System.nanoTime() - scrapeStart) / 1e9);
            awaitWriter(); // the first scrape creates 100,000 series: measured is the steady state, not that

            scraper.scheduleAtFixedRate(() -> {
                try {
                    scrape(fixture);
                } catch (Exception e) {
                    scrapeFailure.compareAndSet(null, e);
                }
            }, AlertingFixture.INTERVAL_SECONDS, AlertingFixture.INTERVAL_SECONDS, TimeUnit.SECONDS);

            double okBefore = metricSumOrZero(metrics(), "sluice_alert_evaluations_total", "result=\"ok\"");
            long imported = System.nanoTime();
            for (int g = 0; g < AlertingFixture.GROUPS; g++) {
                importRules(fixture.ruleFile(g));
            }
            log.printf(Locale.ROOT, "imported %,d rules in %d groups in %.1f s%n", AlertingFixture.RULES,
                    AlertingFixture.GROUPS, (System.nanoTime() - imported) / 1e9);
            try {
                await("every rule to be evaluated once", Duration.ofMinutes(3), () -> metricSumOrZero(metrics(),
                        "sluice_alert_evaluations_total", "result=\"ok\"") - okBefore >= AlertingFixture.RULES);
                log.printf(Locale.ROOT, "every rule evaluated once %.1f s after the import began%n",
                        (System.nanoTime() - imported) / 1e9);
            } catch (IllegalStateException e) {
                // measured all the same: the window shows how far behind the alerter is
                log.printf(Locale.ROOT, "%s; %,.0f evaluations ok since the import began%n", e.getMessage(),
                        metricSumOrZero(metrics(), "sluice_alert_evaluations_total", "result=\"ok\"") - okBefore);
            }
            long settled = imported + TimeUnit.SECONDS.toNanos(AlertingFixture.LONGEST_FOR_SECONDS
                    + 2L * AlertingFixture.INTERVAL_SECONDS);
            TimeUnit.NANOSECONDS.sleep(Math.max(0, settled - System.nanoTime()));

            AlertingWindow idle = alertingWindow(() -> TimeUnit.MILLISECONDS.sleep(window.toMillis()), window);
            int[] states = alertStates(fixture);
            int expected = AlertingFixture.expectedFiring();
            log.printf(Locale.ROOT, "alerts of the fixture's rules: %,d firing, %,d pending (expected %,d firing)%n",
                    states[0], states[1], expected);
            require(scrapeFailure.get() == null, "a scrape failed: " + scrapeFailure.get());

            phase = "P7 ingest with rules";
            IngestRun[] with = new IngestRun[1];
            AlertingWindow busy = alertingWindow(() -> with[0] = maxIngest(IngestBodies.Format.JSON, conns),
                    duration.plus(warmup));
            require(scrapeFailure.get() == null, "a scrape failed: " + scrapeFailure.get());

            String what = fmt(AlertingFixture.RULES) + " rules over " + fmt(AlertingFixture.series())
                    + " series every " + AlertingFixture.INTERVAL_SECONDS + " s";
            row("P7", "alert evaluation lag p99, s (" + what + ", " + window.toSeconds() + " s)",
                    lagSeconds(idle.p99()), idle.describe(), "", "< 5 s; firing as expected",
                    idle.p99() < 5 && idle.complete() && states[0] == expected && states[1] == 0);
            row("P7", "JSON ingest while the rules evaluate, acknowledged samples/s", fmt(with[0].samplesPerSecond()),
                    "without rules " + fmt(without.samplesPerSecond()) + "; lag meanwhile p99 " + lagSeconds(busy.p99())
                            + " s (" + busy.describe() + ")",
                    ratio(with[0].samplesPerSecond() / without.samplesPerSecond()) + "x without", "stated",
                    clean(with[0].result()) && clean(without.result()));
        } finally {
            scraper.shutdownNow();
            for (int g = 0; g < AlertingFixture.GROUPS; g++) {
                try {
                    importRules(AlertingFixture.emptyGroup(g));
                } catch (IllegalStateException e) {
                    log.println("could not empty rule group " + AlertingFixture.groupName(g) + ": " + e.getMessage());
                }
            }
        }
    }

    /** A rule file imported as a client of the API does: a 503 is tried again after its Retry-After, 5 times. */
    private void importRules(String ruleFile) throws Exception {
        for (int attempt = 1; ; attempt++) {
            HttpResponse<String> r = postYaml("/api/v1/alerts/rules/import", ruleFile);
            if (r.statusCode() == 200) {
                return;
            }
            require(r.statusCode() == 503 && attempt < 5, "POST /api/v1/alerts/rules/import answered "
                    + r.statusCode() + " (attempt " + attempt + "): " + abbreviate(r.body()));
            log.println("POST /api/v1/alerts/rules/import answered 503; trying again: " + abbreviate(r.body()));
            TimeUnit.SECONDS.sleep(Long.parseLong(r.headers().firstValue("Retry-After").orElse("5")));
        }
    }

    /** One scrape: every gauge of the fixture at the current time. */
    private void scrape(AlertingFixture fixture) throws Exception {
        long now = System.currentTimeMillis();
        int perBody = 10_000;
        for (int b = 0; b < AlertingFixture.bodies(perBody); b++) {
            HttpResponse<String> r = post("/api/v1/ingest/metrics", fixture.jsonBody(b, perBody, now));
            require(r.statusCode() == 202 && JSON.readTree(r.body()).path("rejected").isEmpty(),
                    "POST /api/v1/ingest/metrics answered " + r.statusCode() + ": " + abbreviate(r.body())
                            + (r.body().contains("cardinality") ? " (ingest.max-active-series in "
                            + "loadtest/sluice-loadtest.properties must hold the fixture's series)" : ""));
        }
    }

    /** How the alerter did over a window: lag buckets, evaluations by result and missed slots, as differences. */
    private record AlertingWindow(double seconds, java.util.NavigableMap<Double, Double> lagBuckets,
                                  Map<String, Double> evaluations, double missed) {
        double total() {
            return evaluations.values().stream().mapToDouble(Double::doubleValue).sum();
        }

        /** The upper bound of the bucket holding the {@code q}-quantile of the lags recorded in the window. */
        double quantile(double q) {
            double count = lagBuckets.isEmpty() ? 0 : lagBuckets.lastEntry().getValue();
            for (Map.Entry<Double, Double> b : lagBuckets.entrySet()) {
                if (count > 0 && b.getValue() >= q * count) {
                    return b.getKey();
                }
            }
            return Double.POSITIVE_INFINITY;
        }

        double p99() {
            return quantile(0.99);
        }

        double due() {
            return AlertingFixture.RULES * seconds / AlertingFixture.INTERVAL_SECONDS;
        }

        /** At least 95 % of the evaluations due in the window done, none failed or timed out. */
        boolean complete() {
            return total() >= 0.95 * due() && evaluations.getOrDefault("error", 0.0) == 0
                    && evaluations.getOrDefault("timeout", 0.0) == 0;
        }

        String describe() {
            return "p50 " + lagSeconds(quantile(0.5)) + " s; " + fmt(total()) + " evaluations in "
                    + Math.round(seconds) + " s (" + fmt(due()) + " due), " + evaluations.entrySet().stream()
                    .filter(e -> !e.getKey().equals("ok") && e.getValue() > 0)
                    .map(e -> fmt(e.getValue()) + " " + e.getKey()).collect(Collectors.joining(", ", "", ""))
                    .replaceAll("^$", "none failed") + ", " + fmt(missed) + " missed slots";
        }
    }

    /** What the alerter did while {@code step} ran (a window of about {@code expected}). */
    private AlertingWindow alertingWindow(Step step, Duration expected) throws Exception {
        String before = metrics();
        long start = System.nanoTime();
        step.run();
        double elapsed = (System.nanoTime() - start) / 1e9;
        String after = metrics();
        java.util.NavigableMap<Double, Double> buckets = new java.util.TreeMap<>();
        Map<Double, Double> first = lagBuckets(before);
        lagBuckets(after).forEach((le, n) -> buckets.put(le, n - first.getOrDefault(le, 0.0)));
        Map<String, Double> evaluations = new LinkedHashMap<>();
        for (String result : List.of("ok", "error", "timeout", "fenced")) {
            String label = "result=\"" + result + "\"";
            evaluations.put(result, metricSumOrZero(after, "sluice_alert_evaluations_total", label)
                    - metricSumOrZero(before, "sluice_alert_evaluations_total", label));
        }
        double missed = metricSumOrZero(after, "sluice_alert_missed_slots_total", "")
                - metricSumOrZero(before, "sluice_alert_missed_slots_total", "");
        log.printf(Locale.ROOT, "alerter over %.0f s (about %d s expected): %s evaluations %s, %s missed slots%n",
                elapsed, expected.toSeconds(), fmt(evaluations.values().stream().mapToDouble(Double::doubleValue).sum()),
                evaluations, fmt(missed));
        return new AlertingWindow(elapsed, buckets, evaluations, missed);
    }

    /** {@code sluice_alert_evaluation_lag_seconds_bucket} by upper bound (cumulative counts). */
    private static Map<Double, Double> lagBuckets(String text) {
        Map<Double, Double> buckets = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("sluice_alert_evaluation_lag_seconds_bucket{")) {
                int at = line.indexOf("le=\"") + 4;
                String le = line.substring(at, line.indexOf('"', at));
                buckets.merge(le.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le),
                        Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)), Double::sum);
            }
        }
        return buckets;
    }

    /** Firing and pending alerts of the fixture's rule groups, from {@code GET /prometheus/api/v1/rules}. */
    private int[] alertStates(AlertingFixture fixture) throws IOException, InterruptedException {
        HttpResponse<String> r = get("/prometheus/api/v1/rules?type=alert");
        require(r.statusCode() == 200, "GET /prometheus/api/v1/rules answered " + r.statusCode() + ": "
                + abbreviate(r.body()));
        int[] states = new int[2];
        for (JsonNode group : JSON.readTree(r.body()).path("data").path("groups")) {
            if (!group.path("name").asText().startsWith("bench-alert-")) {
                continue;
            }
            for (JsonNode rule : group.path("rules")) {
                for (JsonNode alert : rule.path("alerts")) {
                    String state = alert.path("state").asText();
                    states[0] += state.equals("firing") ? 1 : 0;
                    states[1] += state.equals("pending") ? 1 : 0;
                }
            }
        }
        return states;
    }

    private HttpResponse<String> postYaml(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + path))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/yaml")
                .timeout(Duration.ofSeconds(120)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** A lag bucket's upper bound, in seconds. */
    private static String lagSeconds(double s) {
        return Double.isInfinite(s) ? "> 30" : String.format(Locale.ROOT, "%.3f", s);
    }

    // ---- the table

    private int report() throws IOException {
        Map<String, long[]> peaks;
        synchronized (this.peaks) {
            peaks = new LinkedHashMap<>(this.peaks);
        }
        long heapPeak = peaks.values().stream().mapToLong(p -> p[0]).max().orElse(0);
        long rssPeak = peaks.values().stream().mapToLong(p -> p[1]).max().orElse(0);
        measuredUnderLoad = "(over the run)";
        row("P5", "gateway peak heap used / peak RSS, MB (heap limit " + opts.getOrDefault("heap", "256m") + ")",
                mb(heapPeak) + " / " + mb(rssPeak), "", "", "< 256 / < 600",
                heapPeak > 0 && heapPeak < 256L << 20 && rssPeak < 600L << 20);
        StringBuilder table = new StringBuilder();
        table.append(String.format(Locale.ROOT, "Sluice benchmark suite, %s, %d cores, Java %s, %s per measurement; "
                        + "load average at the start %s, at the end %s%n%n",
                Instant.now().truncatedTo(ChronoUnit.SECONDS), Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"), duration.toSeconds() + " s", loadAtStart, loadAverage()));
        table.append("| # | measured | Sluice | reference | ratio | target | met | load before (1, 5, 15 min) |\n"
                + "|---|---|---|---|---|---|---|---|\n");
        for (String[] r : rows) {
            table.append("| ").append(String.join(" | ", r)).append(" |\n");
        }
        table.append("\nPeak heap used / RSS of the gateway per phase (MB):");
        peaks.forEach((p, v) -> table.append(String.format(Locale.ROOT, " %s %s / %s;", p, mb(v[0]), mb(v[1]))));
        table.append('\n');
        log.println();
        log.print(table);
        Files.writeString(out.resolve("results.md"), table.toString());
        log.println("\n(written to " + out.resolve("results.md") + "; logs of each tool beside it)");
        return 0;
    }

    private void row(String id, String what, String sluice, String reference, String ratio, String target, boolean met) {
        rows.add(new String[] {id, what, sluice, reference, ratio, target, met ? "yes" : "no", measuredUnderLoad});
    }

    /**
     * A row whose reference was measured twice in the run ({@code references}): "met" only when the two agree
     * within {@link #REFERENCE_SPREAD} of the larger (otherwise something else took the machine while one of them
     * ran, and the ratio says little).
     */
    private void referenceRow(String id, String what, String sluice, String reference, String ratio, String target,
                              boolean met, double[] references) {
        double spread = spread(references);
        if (spread <= REFERENCE_SPREAD) {
            row(id, what, sluice, reference, ratio, target, met);
        } else {
            rows.add(new String[] {id, what, sluice, reference, ratio, target, String.format(Locale.ROOT,
                    "no: reference disturbed (its two runs %.0f %% apart)", spread * 100), measuredUnderLoad});
        }
    }

    /** How far apart two runs are, as a fraction of the larger. */
    static double spread(double[] runs) {
        return Math.abs(runs[0] - runs[1]) / Math.max(runs[0], runs[1]);
    }

    /** How far apart a reference's two runs may be for its row to count: 15 % of the larger. */
    static final double REFERENCE_SPREAD = 0.15;

    /** Marks the start of a measurement: its rows carry the machine's load average of this moment. */
    private void measuring() {
        measuredUnderLoad = loadAverage();
    }

    // ---- P8 refusals: a tenant within its quota while another floods

    /** Requests a second tenant A sends in P8, and samples in each. */
    private static final double ISOLATION_RATE = 40;
    private static final int ISOLATION_SAMPLES = 100;

    /**
     * P8, a refusal costs less than a service: tenant A (the bench's {@code dev} tenant, enterprise tier) posts
     * {@value #ISOLATION_RATE} JSON bodies of {@value #ISOLATION_SAMPLES} samples a second over 4 connections, first
     * alone, then while tenant B (a key made here, free tier: 100 requests a minute) sends the same bodies from 8
     * connections as fast as answers come, reconnecting whenever the gateway closes one (as wrk does), every
     * answer expected 429. A's ack p99 is measured from when each body was due; target: under the flood within 2x
     * of alone.
     */
    private void isolation() throws Exception {
        phase = "P8 isolation";
        measuring();
        log.println("\n== P8: tenant A's ingest alone, then while free-tier tenant B floods");
        String floodKey = createKey("bench-flood", "free");
        long now = System.currentTimeMillis();
        byte[][] ownRequests = new byte[200][];
        byte[][] floodRequests = new byte[200][];
        for (int i = 0; i < ownRequests.length; i++) {
            StringBuilder body = new StringBuilder("{\"samples\":[");
            for (int j = 0; j < ISOLATION_SAMPLES; j++) {
                body.append(j == 0 ? "" : ",").append("{\"name\":\"bench_isolation\",\"labels\":{\"host\":\"h")
                        .append(j).append("\"},\"timestamp\":").append(now + i).append(",\"value\":").append(i).append('}');
            }
            byte[] bytes = body.append("]}").toString().getBytes(StandardCharsets.UTF_8);
            ownRequests[i] = HttpLoad.post(host, port, "/api/v1/ingest/metrics", "Authorization: Bearer " + key
                    + "\r\nContent-Type: application/json\r\n", bytes);
            floodRequests[i] = HttpLoad.post(host, port, "/api/v1/ingest/metrics", "Authorization: Bearer " + floodKey
                    + "\r\nContent-Type: application/json\r\n", bytes);
        }
        awaitWriter();
        // A's path warmed first (its first seconds in a process are compiled code and connection pools being made)
        new HttpLoad(host, port, 4, warmup, warmup, ISOLATION_RATE * 5, 202, ownRequests).run();
        HttpLoad.Result alone = new HttpLoad(host, port, 4, warmup, duration, ISOLATION_RATE, 202, ownRequests).run();
        printLoad("A alone", alone);

        String before = metrics();
        java.util.concurrent.atomic.AtomicReference<Object> flood = new java.util.concurrent.atomic.AtomicReference<>();
        Thread flooding = new Thread(() -> {
            try {
                flood.set(new HttpLoad(host, port, 8, warmup, duration, 0, 429, floodRequests).reconnecting().run());
            } catch (Exception | Error e) {
                flood.set(e);
            }
        }, "p8-flood");
        flooding.start();
        HttpLoad.Result flooded = new HttpLoad(host, port, 4, warmup, duration, ISOLATION_RATE, 202, ownRequests).run();
        flooding.join();
        String after = metrics();
        if (!(flood.get() instanceof HttpLoad.Result b)) {
            throw new IllegalStateException("the flood failed", (Throwable) flood.get());
        }
        printLoad("A while B floods", flooded);
        printLoad("B flooding", b);
        double early = metricSumOrZero(after, "sluice_http_rejected_total", "reason=\"early_retry\"")
                - metricSumOrZero(before, "sluice_http_rejected_total", "reason=\"early_retry\"");
        double closed = metricSumOrZero(after, "sluice_http_rejected_total", "reason=\"early_retry_closed\"")
                - metricSumOrZero(before, "sluice_http_rejected_total", "reason=\"early_retry_closed\"");
        double ratio = flooded.percentileMillis(99) / alone.percentileMillis(99);
        row("P8", "tenant A's JSON ingest ack p99 (" + fmt(ISOLATION_RATE) + " bodies/s of " + ISOLATION_SAMPLES
                        + " samples) while free-tier tenant B floods from 8 connections, ms",
                ms(flooded.percentileMillis(99)), String.format(Locale.ROOT, "A alone: p99 %s ms (p50 %s); B: %s "
                                + "answers/s, %d of them not 429 (its quota), %d reconnects; gateway: %,.0f early retries, %,.0f "
                                + "connections closed for them", ms(alone.percentileMillis(99)),
                        ms(alone.percentileMillis(50)), fmt(b.perSecond()), b.unexpected(), b.reconnects(), early, closed),
                ratio(ratio) + "x alone", "<= 2x alone", ratio <= 2 && clean(alone) && clean(flooded));
    }

    /** A new API key of {@code tenant} (made with {@code tier} if new), from {@code bin/sluice keys create}. */
    private String createKey(String tenant, String tier) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("bin/sluice", "keys", "create", "--tenant", tenant, "--tier", tier,
                "--dev.data-dir=.sluice/bench").redirectError(out.resolve("keys-create.log").toFile()).start();
        String created = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        require(p.waitFor() == 0 && !created.isEmpty(), "bin/sluice keys create failed; see "
                + out.resolve("keys-create.log"));
        return created;
    }

    // ---- allocation per unit of work (#15's allocation budget)

    static final String REDIRECTS = "sluice_http_server_requests_seconds_count";
    static final String REDIRECTED = "route=\"/{code}\",status=\"302\"";
    static final String INGESTED = "sluice_ingest_accepted_total";

    /**
     * What the gateway's JVM has allocated since it started, and how much of one kind of work it has done, read
     * from one {@code /metrics} answer. Allocated bytes are what its young collections found allocated
     * (Micrometer's {@code jvm_gc_memory_allocated_bytes_total}, counted at each collection) plus what eden holds
     * now (allocated since the last one), so that a reading between two collections is not off by up to a
     * whole young generation.
     */
    record Allocation(double bytes, double work) {
    }

    private Allocation allocation(String counter, String labels) throws IOException, InterruptedException {
        return allocation(metrics(), counter, labels);
    }

    /** {@link #allocation(String, String)} from a {@code /metrics} text. */
    static Allocation allocation(String text, String counter, String labels) {
        double work = 0;
        for (String line : text.split("\n")) {
            if (line.startsWith(counter + "{") && line.contains(labels)
                    && (!counter.equals(INGESTED) || line.contains("kind=\"samples\""))) {
                work += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return new Allocation(metricSum(text, "jvm_gc_memory_allocated_bytes_total", "")
                + metricSumOrZero(text, "jvm_memory_used_bytes", "id=\"G1 Eden Space\""), work);
    }

    /**
     * The row of bytes the gateway allocated per {@code unit} between two readings: the whole process (the
     * storage writer, Kafka clients and click pipeline of {@code dev} included), warm-up and run. Reported, with
     * no target of its own: it is what the speed rows' garbage collections come from.
     */
    private void allocationRow(String id, String unit, Allocation before, Allocation after) {
        double work = after.work() - before.work();
        double bytes = after.bytes() - before.bytes();
        rows.add(new String[] {id, "bytes allocated per " + unit + " (gateway process, writer included)",
                work > 0 ? fmt(bytes / work) : "-", String.format(Locale.ROOT, "%,.0f MB over %s %ss", bytes / 1e6,
                        fmt(work), unit), "", "reported", "-", measuredUnderLoad});
    }

    // ---- helpers

    private void printLoad(String name, HttpLoad.Result r) {
        log.printf(Locale.ROOT, "%-22s %10s req/s  p50 %7s ms  p99 %7s ms  p99.9 %7s ms  unexpected %d  errors %d%s%s%n",
                name, fmt(r.perSecond()), ms(r.percentileMillis(50)), ms(r.percentileMillis(99)),
                ms(r.percentileMillis(99.9)), r.unexpected(), r.errors(),
                r.firstUnexpected() == null ? "" : " (first: " + r.firstUnexpected() + ")",
                r.tally().isEmpty() ? "" : " " + r.tally());
    }

    private static boolean clean(HttpLoad.Result r) {
        return r.unexpected() == 0 && r.errors() == 0 && r.responses() > 0;
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + path))
                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + path))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, byte[] body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + path))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private String metrics() throws IOException, InterruptedException {
        return get("/metrics").body();
    }

    /** The sum of every sample of a Prometheus metric whose labels contain {@code labels}. */
    static double metricSum(String text, String name, String labels) {
        double sum = 0;
        boolean found = false;
        for (String line : text.split("\n")) {
            if ((line.startsWith(name + "{") || line.startsWith(name + " ")) && line.contains(labels)) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                found = true;
            }
        }
        if (!found) {
            throw new IllegalStateException("/metrics has no " + name + " with " + labels);
        }
        return sum;
    }

    /** As {@link #metricSum}, 0 when no such sample exists yet. */
    static double metricSumOrZero(String text, String name, String labels) {
        try {
            return metricSum(text, name, labels);
        } catch (IllegalStateException e) {
            return 0;
        }
    }

    private static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
        return new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false, ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 8 << 20,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class));
    }

    private static Set<TopicPartition> partitions(KafkaConsumer<?, ?> consumer, String topic) {
        return consumer.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition()))
                .collect(Collectors.toSet());
    }

    private static int partitions(Admin admin, String topic) throws Exception {
        return admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
    }

    /** A child JVM with this JVM's class path, its output readable from the process. */
    private static Process javaProcess(String mainClass, List<String> jvmOptions, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    /** Share of the machine's CPU time left idle for the machine to count as quiet. */
    private static final double QUIET_IDLE = 0.85;
    /** Longest wait for a quiet machine before a measurement goes ahead anyway (and says so). */
    private static final Duration QUIET_WAIT = Duration.ofMinutes(2);

    /**
     * Waits until the machine's CPUs are at least {@value #QUIET_IDLE} idle over 3 consecutive seconds (from
     * /proc/stat), at most {@link #QUIET_WAIT}: what an earlier phase set off (PostgreSQL's autovacuum after millions of
     * rows, the broker's log maintenance, a load tool's JVM exiting) then takes nothing from the next measurement.
     * Prints how long it took.
     */
    private void awaitQuiet() throws Exception {
        long start = System.nanoTime();
        long deadline = start + QUIET_WAIT.toNanos();
        int quietSeconds = 0;
        double idle = 0;
        long[] before = cpuTimes();
        while (quietSeconds < 3 && System.nanoTime() < deadline) {
            Thread.sleep(1000);
            long[] now = cpuTimes();
            long total = now[0] - before[0];
            idle = total <= 0 ? 1 : (now[1] - before[1]) / (double) total;
            quietSeconds = idle >= QUIET_IDLE ? quietSeconds + 1 : 0;
            before = now;
        }
        log.printf(Locale.ROOT, "(the machine %s after %.1f s: %.0f %% idle over the last second)%n",
                quietSeconds >= 3 ? "was quiet" : "was still busy", (System.nanoTime() - start) / 1e9, 100 * idle);
    }

    /** All CPUs' time so far and its idle part (idle and iowait), in jiffies, from /proc/stat; zeros where there is none. */
    private static long[] cpuTimes() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long total = 0;
            for (int i = 1; i < f.length; i++) {
                total += Long.parseLong(f[i]);
            }
            return new long[] {total, Long.parseLong(f[4]) + Long.parseLong(f[5])};
        } catch (IOException | RuntimeException e) {
            return new long[] {0, 0};
        }
    }

    /** The 1, 5 and 15 minute load averages of /proc/loadavg, or "?" where there is none. */
    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    private static void await(String what, Duration timeout, Check check) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if (check.ok()) {
                    return;
                }
            } catch (IOException e) {
                // not answering yet
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            }
            TimeUnit.MILLISECONDS.sleep(200);
        }
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalStateException(message);
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 300 ? s.substring(0, 300) + "..." : s;
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%,.0f", v);
    }

    private static String ms(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }

    private static String ratio(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }

    private static String mb(long bytes) {
        return Long.toString(bytes >> 20);
    }
}
