package io.sluice.storage.kafka;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
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
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * The ingest path's sink: Kafka behind a circuit breaker, with the disk spool as the durable fallback, so
 * that "Kafka down is not an outage".
 *
 * <ul>
 *   <li>Topics known, breaker closed and the spool empty: a segment goes to Kafka; if Kafka does not
 *       acknowledge it within {@code kafka.send-timeout} (or fails), it is fsync'd to the spool instead and the
 *       failure counts against the breaker. Either way the returned future completes only when the data is
 *       durable.</li>
 *   <li>The producer reaches no broker (it had connections and has none left: the broker died or the network
 *       went): segments waiting for Kafka longer than {@link #DISCONNECTED_GRACE} are spooled at once instead
 *       of each waiting for its send timeout, and the breaker opens. A diverted segment may still reach Kafka
 *       later from the producer's buffer; storage is idempotent, so that never double counts.</li>
 *   <li>Topics not yet known (Kafka unreachable since start), breaker open, or the spool not yet drained:
 *       segments go straight to the spool, behind what it holds, so a partition's data reaches Kafka in
 *       order.</li>
 *   <li>Spool full: the future fails with {@link io.sluice.storage.spool.SpoolFullException}; the caller
 *       answers 503 / RETRY_LATER.</li>
 * </ul>
 *
 * <p>A spooled record keeps the partition it was placed in and the partition count it was placed among
 * ({@code "p/n"}); while the topics are not known that count is {@code kafka.partitions}. A replayer thread,
 * started by {@link #start()} and idle until the topics are known, drains the spool to Kafka, oldest first,
 * whenever the breaker lets calls through (closed or half-open), and deletes what Kafka acknowledged; a record
 * placed among another count than its topic has is split again by {@link Placement} first, so one series
 * still lands in one partition. A record replayed after a crash may reach Kafka twice; storage is idempotent,
 * so that never double counts.
 */
public final class ResilientSink implements SegmentSink {

    private static final Logger log = LoggerFactory.getLogger(ResilientSink.class);
    /** Records read from the spool and sent to Kafka per replay step. */
    static final int REPLAY_BATCH = 256;
    private static final Duration IDLE_CHECK = Duration.ofMillis(200);
    /**
     * How long a segment may wait for Kafka while the producer has no connection before it is spooled; long
     * enough for a producer's ordinary reconnect, far below any send timeout.
     */
    static final Duration DISCONNECTED_GRACE = Duration.ofMillis(250);
    private static final Duration WATCH_INTERVAL = Duration.ofMillis(50);

    /** One segment handed to Kafka and not yet settled (acknowledged by Kafka, or spooled). */
    private static final class Pending {
        final String topic;
        final int partition;
        final int partitions;
        final ByteBuf value;
        final long started = System.nanoTime();
        final AtomicBoolean settled = new AtomicBoolean();
        final CompletableFuture<Void> durable = new CompletableFuture<>();

        Pending(String topic, int partition, int partitions, ByteBuf value) {
            this.topic = topic;
            this.partition = partition;
            this.partitions = partitions;
            this.value = value;
        }
    }

    private final SegmentSink kafka;
    private final Topics topics;
    private final Spool spool;
    private final Duration sendTimeout;
    private final BooleanSupplier kafkaConnected;
    private final CircuitBreaker breaker;
    private final ScheduledExecutorService replayer;
    private final ScheduledExecutorService watcher;
    private final Set<Pending> pending = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Counter toKafka;
    private final Counter spooled;
    private final Counter replayed;
    private final Counter spoolFull;
    private final Counter diverted;
    private SpoolReader reader;

    /**
     * @param kafkaConnected false when the producer had connections to Kafka and has none left
     *                       ({@link ReactorKafkaSink#connected()})
     */
    public ResilientSink(SegmentSink kafka, Topics topics, Spool spool, Duration sendTimeout,
                         BooleanSupplier kafkaConnected, MeterRegistry registry) {
        this.kafka = kafka;
        this.topics = topics;
        this.spool = spool;
        this.sendTimeout = sendTimeout;
        this.kafkaConnected = kafkaConnected;
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
        this.diverted = Counter.builder("sluice_sink_diverted_segments")
                .description("Segments spooled without waiting for kafka.send-timeout because the producer had "
                        + "lost every connection to Kafka").register(registry);
        new SpoolMetrics(spool).bindTo(registry);
        this.replayer = daemon("sluice-spool-replayer");
        this.watcher = daemon("sluice-kafka-watch");
    }

    private static ScheduledExecutorService daemon(String name) {
        return Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    private static Counter outcome(MeterRegistry registry, String outcome) {
        return Counter.builder("sluice_sink_segments").description("Segments by where they were made durable")
                .tag("outcome", outcome).register(registry);
    }

    /**
     * Starts the replayer and the connection watch; returns at once. What an earlier run left in the spool is
     * replayed once the topics are known, before anything accepted since (which queues behind it).
     */
    public ResilientSink start() {
        if (!spool.isEmpty()) {
            log.info("The spool holds {} bytes from an earlier run; they go to Kafka first, once it answers",
                    spool.bytes());
        }
        replayer.schedule(this::replayLoop, 0, TimeUnit.MILLISECONDS);
        watcher.scheduleWithFixedDelay(this::watchConnection, WATCH_INTERVAL.toMillis(), WATCH_INTERVAL.toMillis(),
                TimeUnit.MILLISECONDS);
        return this;
    }

    /** As {@link #send(String, int, int, ByteBuf)} with the topic's partition count as it is known now. */
    @Override
    public CompletableFuture<Void> send(String topic, int partition, ByteBuf value) {
        return send(topic, partition, topics.partitions(topic), value);
    }

    /**
     * Sends one segment placed in {@code partition} among {@code partitions} ({@link Topics#partitions} when it
     * was placed). Takes ownership of {@code value}; the future completes once the segment is durable.
     */
    @Override
    public CompletableFuture<Void> send(String topic, int partition, int partitions, ByteBuf value) {
        // a spool that failed (disk error) is closed: then Kafka is the only way, whatever it still holds
        if (!topics.known() || partitions != topics.partitions(topic) || (spool.isOpen() && !spool.isEmpty())
                || !breaker.tryAcquirePermission()) {
            return toSpool(topic, partition, partitions, value);
        }
        Pending p = new Pending(topic, partition, partitions, value);
        pending.add(p);
        ByteBuf forKafka = value.retainedDuplicate(); // keep one reference in case Kafka fails and we spool
        kafka.send(topic, partition, forKafka)
                .orTimeout(sendTimeout.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((ok, error) -> settle(p, error));
        return p.durable;
    }

    /** Kafka answered for {@code p} (or its send timed out). */
    private void settle(Pending p, Throwable error) {
        if (!p.settled.compareAndSet(false, true)) {
            return; // already spooled by the connection watch
        }
        pending.remove(p);
        long nanos = System.nanoTime() - p.started;
        if (error == null) {
            breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
            p.value.release();
            toKafka.increment();
            p.durable.complete(null);
            return;
        }
        breaker.onError(nanos, TimeUnit.NANOSECONDS, error);
        log.warn("Kafka did not acknowledge a segment for {}-{} ({}); spooling it", p.topic, p.partition,
                error instanceof TimeoutException ? "no answer within kafka.send-timeout" : error.toString());
        spoolPending(p);
    }

    private void spoolPending(Pending p) {
        toSpool(p.topic, p.partition, p.partitions, p.value).whenComplete((ok, error) -> {
            if (error != null) {
                p.durable.completeExceptionally(error);
            } else {
                p.durable.complete(null);
            }
        });
    }

    /**
     * Spools what waits for Kafka while the producer has no connection left: a dead broker answers nothing,
     * so waiting for each send's timeout would only delay the ack. Opens the breaker so that new segments
     * go to the spool too until the replayer finds Kafka again.
     */
    private void watchConnection() {
        try {
            if (pending.isEmpty() || kafkaConnected.getAsBoolean()) {
                return;
            }
            long now = System.nanoTime();
            int moved = 0;
            for (Pending p : pending) {
                if (now - p.started >= DISCONNECTED_GRACE.toNanos() && p.settled.compareAndSet(false, true)) {
                    pending.remove(p);
                    breaker.onError(now - p.started, TimeUnit.NANOSECONDS,
                            new IllegalStateException("no connection to Kafka"));
                    spoolPending(p);
                    moved++;
                }
            }
            if (moved > 0) {
                diverted.increment(moved);
                if (breaker.getState() == CircuitBreaker.State.CLOSED) {
                    breaker.transitionToOpenState();
                }
                log.warn("The Kafka producer has no connection to any broker; spooled {} segment(s) waiting for it",
                        moved);
            }
        } catch (RuntimeException e) {
            log.warn("Kafka connection watch failed: {}", e.toString());
        }
    }

    private CompletableFuture<Void> toSpool(String topic, int partition, int partitions, ByteBuf value) {
        return spool.append(topic, key(partition, partitions), value).handle((position, error) -> {
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

    /** The spool keeps {@code partition/partitions} in the record key (only the partition in older spools). */
    private static byte[] key(int partition, int partitions) {
        return (partition + "/" + partitions).getBytes(StandardCharsets.US_ASCII);
    }

    private void replayLoop() {
        if (closed.get()) {
            return;
        }
        boolean progressed = false;
        try {
            progressed = topics.known() && !spool.isEmpty() && breaker.getState() != CircuitBreaker.State.OPEN
                    && replayStep();
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
            String key = new String(e.key(), StandardCharsets.US_ASCII);
            int slash = key.indexOf('/');
            int partition = Integer.parseInt(slash < 0 ? key : key.substring(0, slash));
            int placedAmong = slash < 0 ? -1 : Integer.parseInt(key.substring(slash + 1));
            int actual = topics.partitions(e.topic());
            if (placedAmong == actual || (placedAmong < 0 && partition < actual)) {
                acks.add(kafka.send(e.topic(), partition, Unpooled.wrappedBuffer(e.value())));
            } else {
                // placed among kafka.partitions before the topic was known, and the topic has another count
                for (Map.Entry<Integer, ByteBuf> part : Placement.split(e.value(), actual, ByteBufAllocator.DEFAULT)
                        .entrySet()) {
                    acks.add(kafka.send(e.topic(), part.getKey(), part.getValue()));
                }
            }
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
            watcher.shutdownNow();
            replayer.shutdownNow();
            try {
                replayer.awaitTermination(5, TimeUnit.SECONDS);
                watcher.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            spool.close();
        }
    }
}
