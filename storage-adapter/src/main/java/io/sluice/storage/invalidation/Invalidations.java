package io.sluice.storage.invalidation;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The invalidation index every cache of query answers on a node shares: each cached (or loading) answer is
 * registered with its {@link CacheFootprint} and the action that drops it, and a {@link DataChange} (announced by
 * the writers on the control topic, see {@link WriteAnnouncer}) drops every registered answer it overlaps. Indexed
 * by tenant, then metric (answers about any metric of a tenant are checked against every change of that tenant).
 *
 * <p>How a cache uses it, so that no answer computed before a commit outlives that commit's announcement:
 * <ol>
 *   <li>register the entry <em>before</em> its load starts reading (inside the cache's compute, so that a change
 *       that arrives while it loads finds it), with a drop action that removes exactly that entry (by identity:
 *       a newer entry of the same key is not touched);</li>
 *   <li>never hand out an entry whose {@link Registration#valid()} is false: a change marks the registration
 *       invalid before it runs the drop action, which closes the moment between the two;</li>
 *   <li>{@link #unregister} the entry when the cache evicts it or its load fails (by identity, so idempotent).</li>
 * </ol>
 * Drop actions run outside this index's lock (they may take the cache's own locks, which call back here).
 */
public final class Invalidations {

    /** Why entries were dropped, as the {@code reason} tag of {@code sluice_query_cache_invalidated_total}. */
    public static final String REASON_WRITE = "write";
    public static final String REASON_GAP = "gap";

    /** One registered entry: valid until a change overlaps it or it is unregistered. */
    public static final class Registration {
        private final CacheFootprint footprint;
        private final Runnable drop;
        private volatile boolean valid = true;

        private Registration(CacheFootprint footprint, Runnable drop) {
            this.footprint = footprint;
            this.drop = drop;
        }

        /** False once a change overlapped the entry: it must not be served or kept. */
        public boolean valid() {
            return valid;
        }

        public CacheFootprint footprint() {
            return footprint;
        }
    }

    private static final class TenantIndex {
        final Map<String, Set<Registration>> byMetric = new HashMap<>();
        final Set<Registration> anyMetric = new LinkedHashSet<>();
    }

    private final Map<String, TenantIndex> byTenant = new HashMap<>();
    private int size;
    private final Counter droppedByWrite;
    private final Counter droppedByGap;

    public Invalidations(MeterRegistry registry) {
        this.droppedByWrite = Counter.builder("sluice_query_cache_invalidated").tag("reason", REASON_WRITE)
                .description("Cached query answers dropped because a write overlapped them (write) or because "
                        + "announcements may have been missed (gap)").register(registry);
        this.droppedByGap = Counter.builder("sluice_query_cache_invalidated").tag("reason", REASON_GAP)
                .description("Cached query answers dropped because a write overlapped them (write) or because "
                        + "announcements may have been missed (gap)").register(registry);
        Gauge.builder("sluice_query_cache_registered", this, Invalidations::size)
                .description("Cached or loading query answers in the invalidation index").register(registry);
    }

    /** Registers an entry; {@code drop} removes exactly it from its cache. */
    public synchronized Registration register(CacheFootprint footprint, Runnable drop) {
        Registration r = new Registration(footprint, drop);
        TenantIndex index = byTenant.computeIfAbsent(footprint.tenant(), t -> new TenantIndex());
        if (footprint.anyMetric()) {
            index.anyMetric.add(r);
        } else {
            for (String metric : footprint.metrics()) {
                index.byMetric.computeIfAbsent(metric, m -> new LinkedHashSet<>()).add(r);
            }
        }
        size++;
        return r;
    }

    /** Forgets an entry (evicted, or its load failed); safe more than once. Does not invalidate it. */
    public synchronized void unregister(Registration r) {
        remove(r);
    }

    /** Drops every registered entry that one of {@code changes} overlaps; returns how many. */
    public int apply(List<DataChange> changes) {
        Set<Registration> hit = new LinkedHashSet<>();
        synchronized (this) {
            for (DataChange change : changes) {
                if (change.tenant() == null) {
                    byTenant.values().forEach(index -> collect(index, change, hit));
                } else {
                    TenantIndex index = byTenant.get(change.tenant());
                    if (index != null) {
                        collect(index, change, hit);
                    }
                }
            }
            hit.forEach(r -> r.valid = false);
            hit.forEach(this::remove);
        }
        hit.forEach(r -> r.drop.run());
        droppedByWrite.increment(hit.size());
        return hit.size();
    }

    /**
     * Drops every registered entry: announcements may have been missed (the control topic was (re)subscribed from
     * its end, so whatever was published before is never delivered here). Returns how many.
     */
    public int dropAll() {
        List<Registration> all = new ArrayList<>();
        synchronized (this) {
            for (TenantIndex index : byTenant.values()) {
                all.addAll(index.anyMetric);
                index.byMetric.values().forEach(all::addAll);
            }
            List<Registration> distinct = new ArrayList<>(new LinkedHashSet<>(all));
            all = distinct;
            all.forEach(r -> r.valid = false);
            byTenant.clear();
            size = 0;
        }
        all.forEach(r -> r.drop.run());
        droppedByGap.increment(all.size());
        return all.size();
    }

    /** How many entries are registered. */
    public synchronized int size() {
        return size;
    }

    private static void collect(TenantIndex index, DataChange change, Set<Registration> hit) {
        for (Registration r : index.anyMetric) {
            if (r.valid && change.overlaps(r.footprint)) {
                hit.add(r);
            }
        }
        if (change.metric() == null) {
            for (Set<Registration> rs : index.byMetric.values()) {
                for (Registration r : rs) {
                    if (r.valid && change.overlaps(r.footprint)) {
                        hit.add(r);
                    }
                }
            }
        } else {
            Set<Registration> rs = index.byMetric.get(change.metric());
            if (rs != null) {
                for (Registration r : rs) {
                    if (r.valid && change.overlaps(r.footprint)) {
                        hit.add(r);
                    }
                }
            }
        }
    }

    private void remove(Registration r) {
        TenantIndex index = byTenant.get(r.footprint.tenant());
        if (index == null) {
            return;
        }
        boolean removed;
        if (r.footprint.anyMetric()) {
            removed = index.anyMetric.remove(r);
        } else {
            removed = false;
            for (String metric : r.footprint.metrics()) {
                Set<Registration> rs = index.byMetric.get(metric);
                if (rs != null && rs.remove(r)) {
                    removed = true;
                    if (rs.isEmpty()) {
                        index.byMetric.remove(metric);
                    }
                }
            }
        }
        if (removed) {
            size--;
            if (index.anyMetric.isEmpty() && index.byMetric.isEmpty()) {
                byTenant.remove(r.footprint.tenant());
            }
        }
    }
}
