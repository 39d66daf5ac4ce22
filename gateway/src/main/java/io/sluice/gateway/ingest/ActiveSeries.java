package io.sluice.gateway.ingest;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;

import java.time.Duration;

/**
 * The series each tenant has sent in the last hour on this node, to cap cardinality at
 * {@code ingest.max-active-series}: a sample of a series already active is always admitted, a new series
 * only while the tenant is under the cap.
 */
public final class ActiveSeries {

    /** A series not seen for this long stops counting as active. */
    public static final Duration ACTIVE_FOR = Duration.ofHours(1);
    /** Most tenants tracked at once. */
    public static final long MAX_TENANTS = 10_000;

    private final int maxPerTenant;
    private final Ticker ticker;
    private final Cache<String, Cache<Long, Boolean>> tenants;

    public ActiveSeries(int maxPerTenant, Ticker ticker) {
        this.maxPerTenant = maxPerTenant;
        this.ticker = ticker;
        this.tenants = Caffeine.newBuilder().maximumSize(MAX_TENANTS).expireAfterAccess(ACTIVE_FOR).ticker(ticker).build();
    }

    /** The active series of {@code tenant}, to admit the series of one batch without looking the tenant up each time. */
    public Tenant of(String tenant) {
        return new Tenant(tenants.get(tenant, t -> Caffeine.newBuilder()
                .expireAfterAccess(ACTIVE_FOR).ticker(ticker).executor(Runnable::run).build()));
    }

    /** One tenant's active series. */
    public final class Tenant {

        private final Cache<Long, Boolean> series;

        private Tenant(Cache<Long, Boolean> series) {
            this.series = series;
        }

        /** Whether a sample of this series may be taken; a newly admitted series becomes active. */
        public boolean admit(long seriesId) {
            if (series.getIfPresent(seriesId) != null) {
                return true;
            }
            if (series.estimatedSize() >= maxPerTenant) {
                series.cleanUp();
                if (series.estimatedSize() >= maxPerTenant) {
                    return false;
                }
            }
            series.put(seriesId, Boolean.TRUE);
            return true;
        }
    }
}
