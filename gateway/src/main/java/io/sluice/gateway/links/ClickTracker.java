package io.sluice.gateway.links;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.sluice.protocol.segment.SegmentWriter;
import io.sluice.storage.kafka.SegmentSink;
import io.sluice.storage.kafka.Topics;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * Records a click per redirect without ever making the redirect wait: {@link #record} only offers to a
 * bounded lock-free queue ({@code links.click-queue}); a click that does not fit is dropped and counted.
 * Every {@value #DRAIN_MILLIS} ms the queue is drained and its clicks added up by what they agree on: code,
 * minute, referrer host, bot flag and anonymised client. Every {@code links.click-flush-interval} those sums
 * go to the clicks topic, one {@code click} event each (key = code, attributes: those fields and
 * {@code count}), so that a hot link costs one event per interval rather than one per redirect, and the
 * writer (which adds the counts into per-minute counters) and PostgreSQL do work in proportion to links,
 * not to redirects. Sums are sent sooner when {@value #MAX_PENDING_GROUPS} have gathered, and on close. A
 * failed send is dropped and counted. Until Kafka's topics are known (Kafka unreachable since start)
 * nothing is drained: clicks wait in the queue, and those that do not fit are dropped and counted.
 */
public final class ClickTracker implements AutoCloseable {

    static final long DRAIN_MILLIS = 100;
    /** Distinct sums held between sends, at most; reaching it sends them at once. */
    static final int MAX_PENDING_GROUPS = 20_000;
    /** Distinct user agents, referrers and clients whose classification is kept between sends, at most. */
    private static final int MAX_CLASSIFIED = 10_000;
    static final int MAX_HOST = 255;
    /** Click segments sent to Kafka and not yet answered; beyond this a flush's clicks are dropped and counted. */
    static final int MAX_SENDS_IN_FLIGHT = 64;
    /** How long {@link #close} waits for Kafka to answer the last sends. */
    static final long CLOSE_WAIT_SECONDS = 10;
    private static final Pattern BOT = Pattern.compile(
            "(?i).*(bot|crawl|spider|slurp|curl|wget|python|java/|go-http|headless|preview|monitor|httpclient|okhttp).*");

    private record Click(String code, long timeMs, String referer, String userAgent, InetAddress client) {
    }

    /** What the clicks of one event have in common. */
    private record Group(String code, long minute, String referrer, boolean bot, String client) {
    }

    private final ConcurrentLinkedQueue<Click> queue = new ConcurrentLinkedQueue<>();
    /** The sends not yet answered: at most {@link #MAX_SENDS_IN_FLIGHT}, and what {@link #close} waits for. */
    private final java.util.Set<CompletableFuture<Void>> unanswered = ConcurrentHashMap.newKeySet();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicLong sequence = new AtomicLong();
    private final int capacity;
    private final SegmentSink sink;
    private final Topics topics;
    private final Counter enqueued;
    private final Counter droppedFull;
    private final Counter droppedSend;
    private final Counter sent;
    private final Scheduler scheduler = Schedulers.newSingle("sluice-clicks");
    private final Disposable flusher;
    private final int drainsPerSend;
    // the fields below are used on the scheduler's one thread only
    /** Clicks drained and not yet sent, summed: group -> [count, time of the first]. */
    private final Map<Group, long[]> pending = new HashMap<>();
    private final Map<String, Boolean> bots = new HashMap<>();
    private final Map<String, String> referrers = new HashMap<>();
    private final Map<InetAddress, String> clients = new HashMap<>();
    private int drainsSinceSend;
    private long pendingCount;
    /** {@link #pendingCount}, for the gauge. */
    private final AtomicLong pendingClicks = new AtomicLong();

    /** @param sendInterval {@code links.click-flush-interval}: how often the summed clicks are sent */
    public ClickTracker(int capacity, Duration sendInterval, SegmentSink sink, Topics topics, MeterRegistry registry) {
        this.capacity = capacity;
        this.sink = sink;
        this.topics = topics;
        this.enqueued = clicks(registry, "enqueued");
        this.droppedFull = clicks(registry, "dropped_queue_full");
        this.droppedSend = clicks(registry, "dropped_send_failed");
        this.sent = clicks(registry, "sent");
        Gauge.builder("sluice_clicks_queued", queued, AtomicInteger::get)
                .description("Clicks recorded and not yet drained from the queue").register(registry);
        Gauge.builder("sluice_clicks_pending", pendingClicks, AtomicLong::get)
                .description("Clicks drained and summed, waiting for the next send to Kafka").register(registry);
        long drainMillis = Math.max(1, Math.min(DRAIN_MILLIS, sendInterval.toMillis()));
        this.drainsPerSend = (int) Math.max(1, sendInterval.toMillis() / drainMillis);
        this.flusher = Flux.interval(Duration.ofMillis(drainMillis), scheduler).subscribe(i -> flushSafely(false));
    }

    private static Counter clicks(MeterRegistry registry, String outcome) {
        return Counter.builder("sluice_clicks").description("Clicks of redirects, by what became of them")
                .tag("outcome", outcome).register(registry);
    }

    /** Never blocks and never throws: the redirect is answered whatever happens here. */
    public void record(String code, long timeMs, String referer, String userAgent, InetAddress client) {
        if (queued.incrementAndGet() > capacity) {
            queued.decrementAndGet();
            droppedFull.increment();
            return;
        }
        queue.offer(new Click(code, timeMs, referer, userAgent, client)); // parsed later, off the event loop
    }

    private void flushSafely(boolean last) {
        try {
            flush(last);
        } catch (RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(ClickTracker.class).warn("Click flush failed", e);
        }
    }

    /** Drains the queue into {@link #pending}; sends the sums when the interval is up (or when {@code last}). */
    private void flush(boolean last) {
        if (!topics.known()) {
            return; // Kafka has not answered since start: clicks wait in the bounded queue (overflow is counted)
        }
        Click c;
        int drained = 0;
        try {
            // at most the queue's capacity a drain, so that clicks arriving as fast as they are drained cannot hold it
            while (drained < capacity && (c = queue.poll()) != null) {
                drained++;
                long timeMs = c.timeMs();
                Group g = new Group(c.code(), Math.floorDiv(timeMs, 60_000L),
                        c.referer() == null ? "" : referrers.computeIfAbsent(c.referer(), ClickTracker::referrerHost),
                        c.userAgent() == null ? isBot(null) : bots.computeIfAbsent(c.userAgent(), ClickTracker::isBot),
                        c.client() == null ? "" : clients.computeIfAbsent(c.client(), ClickTracker::anonymise));
                pending.computeIfAbsent(g, x -> new long[] {0, timeMs})[0]++;
                pendingCount++;
                if (pending.size() >= MAX_PENDING_GROUPS) {
                    send();
                }
            }
        } finally {
            if (drained > 0) { // counted here, once a drain, rather than by every redirect on the event loops
                queued.addAndGet(-drained);
                enqueued.increment(drained);
            }
            pendingClicks.set(pendingCount);
        }
        if (last || ++drainsSinceSend >= drainsPerSend) {
            send();
        }
    }

    /** Sends {@link #pending} as click events, one segment per partition, and starts the next interval. */
    private void send() {
        drainsSinceSend = 0;
        if (bots.size() + referrers.size() + clients.size() > MAX_CLASSIFIED) {
            bots.clear();
            referrers.clear();
            clients.clear();
        }
        if (pending.isEmpty()) {
            return;
        }
        String topic = topics.clicks();
        int partitions = topics.partitions(topic);
        SegmentWriter[] writers = new SegmentWriter[partitions];
        long[] counts = new long[partitions];
        for (Map.Entry<Group, long[]> e : pending.entrySet()) {
            Group g = e.getKey();
            long n = e.getValue()[0];
            int p = Math.floorMod(g.code().hashCode(), partitions);
            if (writers[p] == null) {
                writers[p] = SegmentWriter.create(ByteBufAllocator.DEFAULT, "links", false);
            }
            writers[p].addEvent(Long.toHexString(System.nanoTime()) + "-" + sequence.incrementAndGet(), "click",
                    e.getValue()[1], g.code(), Map.of("referrer", g.referrer(), "bot", Boolean.toString(g.bot()),
                            "client", g.client(), "count", Long.toString(n)));
            counts[p] += n;
        }
        pending.clear();
        pendingCount = 0;
        pendingClicks.set(0);
        for (int p = 0; p < partitions; p++) {
            if (writers[p] == null) {
                continue;
            }
            long n = counts[p];
            if (unanswered.size() >= MAX_SENDS_IN_FLIGHT) { // Kafka is not keeping up: drop, never pile up
                writers[p].close();
                droppedSend.increment(n);
                continue;
            }
            try {
                CompletableFuture<Void> answer = sink.send(topic, p, writers[p].finish());
                unanswered.add(answer);
                answer.whenComplete((ok, error) -> {
                    unanswered.remove(answer);
                    if (error != null) {
                        droppedSend.increment(n);
                    } else {
                        sent.increment(n);
                    }
                });
            } catch (RuntimeException e) {
                droppedSend.increment(n);
            }
        }
    }

    static boolean isBot(String userAgent) {
        return userAgent == null || userAgent.isBlank() || BOT.matcher(userAgent).matches();
    }

    static String referrerHost(String referer) {
        if (referer == null || referer.isEmpty()) {
            return "";
        }
        try {
            String host = URI.create(referer.strip()).getHost();
            if (host == null) {
                return "";
            }
            // a segment's strings are bounded (protocol RecordLimits); a host is at most 253 characters anyway
            return (host.length() > MAX_HOST ? host.substring(0, MAX_HOST) : host).toLowerCase(java.util.Locale.ROOT);
        } catch (IllegalArgumentException e) {
            return "";
        }
    }

    /** IPv4: the last octet zeroed; IPv6: all but the first 48 bits zeroed. */
    static String anonymise(InetAddress address) {
        if (address == null) {
            return "";
        }
        byte[] bytes = address.getAddress().clone();
        int keep = bytes.length == 4 ? 3 : 6;
        for (int i = keep; i < bytes.length; i++) {
            bytes[i] = 0;
        }
        try {
            return InetAddress.getByAddress(bytes).getHostAddress();
        } catch (java.net.UnknownHostException e) {
            return "";
        }
    }

    /**
     * Sends what is queued and summed and waits (up to {@value #CLOSE_WAIT_SECONDS} s) for Kafka's answers, then
     * stops; clicks still held then (Kafka never answered since start) are counted as dropped.
     */
    @Override
    public void close() {
        flusher.dispose();
        scheduler.schedule(() -> flushSafely(true));
        scheduler.disposeGracefully().block(Duration.ofSeconds(5));
        // the sink is closed next: what it has not answered by then may never be
        try {
            CompletableFuture.allOf(unanswered.toArray(CompletableFuture[]::new))
                    .get(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // counted as dropped by their own completion, or unanswered: the sink's close decides
        }
        int neverDrained = queued.getAndSet(0);
        enqueued.increment(neverDrained);
        long left = neverDrained + pendingClicks.getAndSet(0);
        if (left > 0) {
            queue.clear();
            droppedSend.increment(left);
        }
    }
}
