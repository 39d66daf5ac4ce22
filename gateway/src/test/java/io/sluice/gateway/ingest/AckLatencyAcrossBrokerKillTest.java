package io.sluice.gateway.ingest;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.protocol.client.RecordBatch;
import io.sluice.protocol.client.SluiceClient;
import io.sluice.protocol.record.Series;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.awaitility.Awaitility.await;

/**
 * Measures binary ack latency across a broker kill under a paced load with the default
 * {@code kafka.send-timeout} (latency counted from when a batch was due, so a stalled window is not hidden),
 * logs p50/p99/max, and checks that every batch was acknowledged (none refused) and that the spool drained
 * once the broker was back (that acknowledged samples reach Kafka is {@link KafkaBrokerLossTest}'s part).
 */
@RealInfrastructure
class AckLatencyAcrossBrokerKillTest {

    private static final Logger log = LoggerFactory.getLogger(AckLatencyAcrossBrokerKillTest.class);
    private static final int BATCHES = 100;
    private static final int PER_BATCH = 100;
    /**
     * 5 batches/s: light enough for a test JVM (paranoid leak detection, BlockHound) on a shared machine, so that
     * what shows is the kill, not a saturated gateway.
     */
    private static final long INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final int KILL_AT = 25; // after 5 s

    @Test
    void everyBatchIsAcknowledgedAcrossABrokerKillUnderLoad(TestInfrastructure infra) throws Exception {
        String tenant = "p99-" + UUID.randomUUID().toString().substring(0, 8);
        String key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.ENTERPRISE);
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0")));
        long[] latencies = new long[BATCHES];
        try (GatewayRole sluice = GatewayRole.start(config);
             SluiceClient client = SluiceClient.builder().address("127.0.0.1", sluice.port()).apiKey(key)
                     .maxBufferedBatches(BATCHES).maxBufferedBytes(256 << 20)
                     .closeTimeout(Duration.ofSeconds(30)).build()) {
            // warm up until Kafka itself acknowledges (partition leaders elected, producer connected), so that
            // what is measured is the kill, not a fresh broker
            await().atMost(Duration.ofSeconds(120)).until(() -> {
                RecordBatch warmUp = client.newBatch();
                warmUp.addSample(Series.of("p99.warmup"), System.currentTimeMillis(), 0);
                client.send(warmUp).get(60, TimeUnit.SECONDS);
                var spool = sluice.meterRegistry().find("sluice.spool.bytes").gauge();
                return sluice.meterRegistry().get("sluice_sink_segments").tag("outcome", "kafka").counter().count() > 0
                        && spool != null && spool.value() == 0.0;
            });
            List<CompletableFuture<Void>> acks = new ArrayList<>();
            CompletableFuture<Void> killed = null;
            long start = System.nanoTime();
            try {
                for (int b = 0; b < BATCHES; b++) {
                    long due = start + b * INTERVAL_NANOS;
                    while (System.nanoTime() < due) {
                        LockSupport.parkNanos(due - System.nanoTime()); // pacing the load, not waiting for a result
                    }
                    if (b == KILL_AT) { // on another thread, so that the load keeps its pace
                        killed = CompletableFuture.runAsync(() -> infra.kafka().kill());
                    }
                    RecordBatch batch = client.newBatch();
                    long now = System.currentTimeMillis();
                    for (int i = 0; i < PER_BATCH; i++) {
                        batch.addSample(Series.of("p99.metric", "s", Integer.toString(i)), now, b * PER_BATCH + i);
                    }
                    int index = b;
                    acks.add(client.send(batch).thenRun(() -> latencies[index] = System.nanoTime() - due));
                }
                CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS); // none refused
                logPercentiles(latencies);
            } finally {
                if (killed != null) {
                    killed.get(60, TimeUnit.SECONDS);
                }
                infra.kafka().start();
            }
            await().atMost(Duration.ofSeconds(300)).until(() -> {
                var spool = sluice.meterRegistry().find("sluice.spool.bytes").gauge();
                return spool != null && spool.value() == 0.0;
            });
        }
    }

    private static void logPercentiles(long[] latencies) {
        log.info(String.format(Locale.ROOT, "ACK LATENCY across a broker kill (%d batches of %d, 5/s, kill before "
                + "batch %d): all %s; before the kill %s; from the kill %s", BATCHES, PER_BATCH, KILL_AT,
                percentiles(latencies), percentiles(Arrays.copyOfRange(latencies, 0, KILL_AT)),
                percentiles(Arrays.copyOfRange(latencies, KILL_AT, BATCHES))));
    }

    private static String percentiles(long[] latencies) {
        long[] sorted = latencies.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return String.format(Locale.ROOT, "p50 %.1f ms, p99 %.1f ms, max %.1f ms", sorted[n / 2] / 1e6,
                sorted[n * 99 / 100] / 1e6, sorted[n - 1] / 1e6);
    }
}
