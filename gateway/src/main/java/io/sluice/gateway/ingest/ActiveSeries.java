package io.sluice.gateway.ingest;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import io.netty.util.concurrent.FastThreadLocal;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The series each tenant has sent in the last hour on this node, to cap cardinality at
 * {@code ingest.max-active-series}: a sample of a series already active is always admitted, a new series
 * only while the tenant is under the cap.
 *
 * <p>Each thread (event loop) also remembers up to {@link #RECENT} series it admitted and when: one it admitted less
 * than {@link #TOUCH_EVERY} ago is admitted again without a lookup in the tenant's set, which then records its use at
 * most once a minute. So a series stops counting as active between 59 and 60 minutes after its last sample. The memo
 * is {@value #WAYS}-way set-associative (a series' set is given by its id; a full set gives up the series it admitted
 * longest ago): direct-mapped, a fifth of 4,000 series an event loop sees shared their slot with another and were
 * looked up every time, as agents send their series in turn; eight ways leave under 0.1 % so, four about 0.5 %
 * ({@code ActiveSeriesTest}).
 */
public final class ActiveSeries {

    /** A series not seen for this long stops counting as active. */
    public static final Duration ACTIVE_FOR = Duration.ofHours(1);
    /** Most tenants tracked at once. */
    public static final long MAX_TENANTS = 10_000;
    /** How often at most a series sent again and again is looked up, and its use recorded, in its tenant's set. */
    public static final Duration TOUCH_EVERY = Duration.ofMinutes(1);
    /** Series each thread remembers having admitted (a power of two). */
    static final int RECENT = 1 << 14;
    /** Series a set of the memo holds; a lookup compares at most this many. */
    static final int WAYS = 8;
    static final int SETS = RECENT / WAYS;
    private static final long TOUCH_EVERY_NANOS = TOUCH_EVERY.toNanos();

    private final int maxPerTenant;
    private final Ticker ticker;
    private final Cache<String, TenantSet> tenants;
    /** Numbers the tenants' sets, so that a thread remembers a set by its number and never keeps one alive. */
    private final AtomicLong sets = new AtomicLong();
    private final FastThreadLocal<Recent> recent = new FastThreadLocal<>() {
        @Override
        protected Recent initialValue() {
            return new Recent();
        }
    };

    public ActiveSeries(int maxPerTenant, Ticker ticker) {
        this.maxPerTenant = maxPerTenant;
        this.ticker = ticker;
        this.tenants = Caffeine.newBuilder().maximumSize(MAX_TENANTS).expireAfterAccess(ACTIVE_FOR).ticker(ticker).build();
    }

    /**
     * The active series of {@code tenant}, to admit the series of one batch on this thread without looking the tenant
     * up each time; the clock is read once, for the whole batch.
     */
    public Tenant of(String tenant) {
        return new Tenant(tenants.get(tenant, t -> new TenantSet(sets.incrementAndGet(), Caffeine.newBuilder()
                .expireAfterAccess(ACTIVE_FOR).ticker(ticker).executor(Runnable::run).build())), ticker.read(),
                recent.get());
    }

    /** One tenant's active series, for one batch on one thread. */
    public final class Tenant {

        private final Cache<Long, Boolean> series;
        private final long set;
        private final long now;
        private final Recent recent;

        private Tenant(TenantSet set, long now, Recent recent) {
            this.series = set.series();
            this.set = set.number();
            this.now = now;
            this.recent = recent;
        }

        /** Whether a sample of this series may be taken; a newly admitted series becomes active. */
        public boolean admit(long seriesId) {
            long[] memo = recent.entries;
            int first = ((int) seriesId & (SETS - 1)) * WAYS * Recent.FIELDS;
            int oldest = first;
            for (int e = first; e < first + WAYS * Recent.FIELDS; e += Recent.FIELDS) {
                if (memo[e] == seriesId && memo[e + 1] == set) {
                    if (now - memo[e + 2] < TOUCH_EVERY_NANOS) {
                        return true; // admitted by this thread less than a minute ago: still active
                    }
                    oldest = e; // its use is recorded again below, in its own entry
                    break;
                }
                if (memo[e + 1] == 0 || memo[oldest + 1] != 0 && memo[e + 2] - memo[oldest + 2] < 0) {
                    oldest = e; // an empty entry, or one admitted longer ago
                }
            }
            recent.lookups++;
            if (series.getIfPresent(seriesId) == null) {
                if (series.estimatedSize() >= maxPerTenant) {
                    series.cleanUp();
                    if (series.estimatedSize() >= maxPerTenant) {
                        return false;
                    }
                }
                series.put(seriesId, Boolean.TRUE);
            }
            memo[oldest] = seriesId;
            memo[oldest + 1] = set;
            memo[oldest + 2] = now;
            return true;
        }
    }

    /** One tenant's active series, and the number of this set of them (from 1). */
    private record TenantSet(long number, Cache<Long, Boolean> series) {
    }

    /** Lookups in the tenants' sets on this thread: the series its memo did not admit. */
    long lookupsOnThisThread() {
        return recent.get().lookups;
    }

    /**
     * What one thread admitted lately: {@link #RECENT} entries of {@link #FIELDS} longs (the series' id, the number of
     * its tenant's set, 0 for an empty entry, and when, in ticker nanos), a set's {@link #WAYS} entries side by side.
     */
    private static final class Recent {
        static final int FIELDS = 3;
        final long[] entries = new long[RECENT * FIELDS];
        long lookups;
    }
}
