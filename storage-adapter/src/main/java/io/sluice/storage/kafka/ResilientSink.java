package io.sluice.storage.kafka;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.storage.spool.Spool;
import io.sluice.storage.spool.SpoolEntry;
import io.sluice.storage.spool.SpoolMetrics;
import io.sluice.storage.spool.SpoolReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The ingest path's sink: Kafka behind a circuit breaker, with the disk spool as the durable fallback, so
 * that "Kafka down is not an outage".
 *
 * <ul>
 *   <li>Breaker closed and the spool empty: a segment goes to Kafka; if Kafka does not acknowledge it within
 *       {@code kafka.send-timeout} (or fails), it is fsync'd to the spool instead and the failure counts
 *       against the breaker. Either way the returned future completes only when the data is durable.</li>
 *   <li>Breaker open, or the spool not yet drained: segments go straight to the spool, behind what it
 *       holds, so a partition's data reaches Kafka in order.</li>
 *   <li>Spool full: the future fails with {@link io.sluice.storage.spool.SpoolFullException}; the caller
 *       answers 503 / RETRY_LATER.</li>
 * </ul>
 *
 * <p>A replayer thread drains the spool to Kafka, oldest first, whenever the breaker lets calls through
 * (closed or half-open), and deletes what Kafka acknowledged. On start, {@link #replayBeforeServing}
 * drains what an earlier run left before anything else is accepted. A record replayed after a crash may
 * reach Kafka twice; storage is idempotent, so that never double counts.
 */
public final class ResilientSink implements SegmentSink {

    private static final Logger log = LoggerFactory.getLogger(ResilientSink.class);
    /** Records read from the spool and sent to Kafka per replay step. */
    static final int REPLAY_BATCH = 256;
    private static final Duration IDLE_CHECK = Duration.ofMillis(200);

    private final SegmentSink kafka;
    private final Spool spool;
    private final Duration sendTimeout;
    private final CircuitBreaker breaker;
    private final ScheduledExecutorService replayer;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Counter toKafka;
    private final Counter spooled;
    private final Counter replayed;
    private final Counter spoolFull;
    private SpoolReader reader;

    public ResilientSink(SegmentSink kafka, Spool spool, Duration sendTimeout, MeterRegistry registry) {
        this.kafka = kafka;
        this.spool = spool;
        this.sendTimeout = sendTimeout;
        this.breaker = CircuitBreaker.of("kafka", CircuitBreakerConfig.custom()
                .slidingWindowSize(20).minimumNumberOfCalls(5).failureRateThreshold(50)
                .waitDurationInOpenState(Duration.ofSeconds(5)).permittedNumberOfCallsInHalfOpenState(3)
                // nobody asks an open breaker for permission while the spool holds data (sends go straight to
                // the spool), so it must half-open by itself for the replayer to try Kafka again
                .automaticTransitionFromOpenToHalfOpenEnabled(true)
                .build());
        io.sluice.storage.health.BreakerGauge.register(registry, "sluice_kafka_breaker_state", "Kafka sink", breaker);
        this.toKafka = outcome(registry, "kafka");
        this.spooled = outcome(registry, "spooled");
        this.replayed = outcome(registry, "replayed");
        this.spoolFull = outcome(registry, "spool_full");
        new SpoolMetrics(spool).bindTo(registry);
        this.replayer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sluice-spool-replayer");
            t.setDaemon(true);
            return t;
        });
    }

    private static Counter outcome(MeterRegistry registry, String outcome) {
        return Counter.builder("sluice_sink_segments").description("Segments by where they were made durable")
                .tag("outcome", outcome).register(registry);
    }

    /**
     * Drains what the spool holds to Kafka before serving (blocking, at start-up), for at most {@code limit};
     * if Kafka does not take it all by then, serving starts anyway and the replayer goes on.
     */
    public ResilientSink replayBeforeServing(Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        if (!spool.isEmpty()) {
            log.info("Replaying {} bytes left in the spool before serving", spool.bytes());
        }
        while (!spool.isEmpty() && System.nanoTime() < deadline) {
            if (!replayStep()) {
                break;
            }
        }
        if (!spool.isEmpty()) {
            log.warn("Kafka did not take the spool's {} bytes within {}; serving, the replayer goes on",
                    spool.bytes(), limit);
        }
        replayer.schedule(this::replayLoop, 0, TimeUnit.MILLISECONDS);
        return this;
    }

    @Override
    public CompletableFuture<Void> send(String topic, int partition, ByteBuf value) {
        // a spool that failed (disk error) is closed: then Kafka is the only way, whatever it still holds
        if ((spool.isOpen() && !spool.isEmpty()) || !breaker.tryAcquirePermission()) {
            return toSpool(topic, partition, value);
        }
        long started = System.nanoTime();
        ByteBuf forKafka = value.retainedDuplicate(); // keep one reference in case Kafka fails and we spool
        return kafka.send(topic, partition, forKafka)
                .orTimeout(sendTimeout.toMillis(), TimeUnit.MILLISECONDS)
                .handle((ok, error) -> {
                    long nanos = System.nanoTime() - started;
                    if (error == null) {
                        breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
                        value.release();
                        toKafka.increment();
                        return CompletableFuture.<Void>completedFuture(null);
                    }
                    breaker.onError(nanos, TimeUnit.NANOSECONDS, error);
                    log.warn("Kafka did not acknowledge a segment for {}-{} ({}); spooling it", topic, partition,
                            error instanceof TimeoutException ? "no answer within kafka.send-timeout" : error.toString());
                    return toSpool(topic, partition, value);
                })
                .thenCompose(f -> f);
    }

    private CompletableFuture<Void> toSpool(String topic, int partition, ByteBuf value) {
        return spool.append(topic, key(partition), value).handle((position, error) -> {
            if (error != null) {
                if (error instanceof io.sluice.storage.spool.SpoolFullException
                        || error.getCause() instanceof io.sluice.storage.spool.SpoolFullException) {
                    spoolFull.increment();
                }
                throw error instanceof java.util.concurrent.CompletionException ce ? ce
                        : new java.util.concurrent.CompletionException(error);
            }
            spooled.increment();
            return null;
        });
    }

    /** The spool keeps the partition in the record key. */
    private static byte[] key(int partition) {
        return Integer.toString(partition).getBytes(StandardCharsets.US_ASCII);
    }

    private void replayLoop() {
        if (closed.get()) {
            return;
        }
        boolean progressed = false;
        try {
            progressed = !spool.isEmpty() && breaker.getState() != CircuitBreaker.State.OPEN && replayStep();
        } catch (RuntimeException e) {
            log.warn("Spool replay step failed: {}", e.toString());
        }
        if (!closed.get()) {
            replayer.schedule(this::replayLoop, progressed ? 0 : IDLE_CHECK.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** Sends the oldest records to Kafka and marks them delivered; false when Kafka did not take them. */
    private boolean replayStep() {
        if (reader == null) {
            reader = spool.reader();
        }
        List<SpoolEntry> entries;
        try {
            entries = reader.next(REPLAY_BATCH);
        } catch (java.io.IOException e) {
            log.warn("Reading the spool failed: {}", e.toString());
            reader = null;
            return false;
        }
        if (entries.isEmpty()) {
            return false;
        }
        List<CompletableFuture<Void>> acks = new ArrayList<>(entries.size());
        for (SpoolEntry e : entries) {
            int partition = Integer.parseInt(new String(e.key(), StandardCharsets.US_ASCII));
            acks.add(kafka.send(e.topic(), partition, Unpooled.wrappedBuffer(e.value())));
        }
        long started = System.nanoTime();
        try {
            CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
                    .get(sendTimeout.toMillis() * 2, TimeUnit.MILLISECONDS);
        } catch (Exception error) {
            breaker.onError(System.nanoTime() - started, TimeUnit.NANOSECONDS, error);
            reader = null; // start again from the oldest undelivered record
            return false;
        }
        breaker.onSuccess(System.nanoTime() - started, TimeUnit.NANOSECONDS);
        spool.markDelivered(entries.get(entries.size() - 1).position()).join();
        replayed.increment(entries.size());
        return true;
    }

    public CircuitBreaker breaker() {
        return breaker;
    }

    public Spool spool() {
        return spool;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            replayer.shutdownNow();
            try {
                replayer.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            spool.close();
        }
    }
}
