package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * {@code sluice_ingest_accepted_total{kind,transport}} and {@code sluice_ingest_rejected_total{reason,transport}}:
 * every item taken or refused, by why; and {@code sluice_ingest_tenant_samples_total{tenant}} and
 * {@code sluice_ingest_tenant_events_total{tenant}}: the items acknowledged to each tenant, whatever the
 * transport. The first {@code ingest.max-metered-tenants} tenants seen get series of their own; items of any
 * further tenant are counted under {@code tenant="_other"} (no tenant id can be named so: ids start with a
 * letter or digit), which keeps the series bounded.
 */
public final class IngestMetrics {

    /** The {@code tenant} label of items of tenants beyond {@code ingest.max-metered-tenants}. */
    public static final String OTHER_TENANTS = "_other";

    private final MeterRegistry registry;
    private final int maxTenants;
    private final ConcurrentMap<String, Counter> counters = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, TenantCounters> tenants = new ConcurrentHashMap<>();
    private TenantCounters others; // guarded by this

    private record TenantCounters(Counter samples, Counter events) {
    }

    /** @param maxTenants {@code ingest.max-metered-tenants} */
    public IngestMetrics(MeterRegistry registry, int maxTenants) {
        this.registry = registry;
        this.maxTenants = maxTenants;
    }

    /** Counts {@code items} items of {@code kind} ({@code samples}, {@code events}) acknowledged to {@code tenant}. */
    public void accepted(String tenant, String kind, String transport, long items) {
        counters.computeIfAbsent("a|" + kind + "|" + transport, k -> Counter.builder("sluice_ingest_accepted")
                .description("Samples and events acknowledged to clients").tag("kind", kind)
                .tag("transport", transport).register(registry)).increment(items);
        TenantCounters perTenant = tenants.get(tenant);
        if (perTenant == null) {
            perTenant = meter(tenant);
        }
        (kind.equals("events") ? perTenant.events() : perTenant.samples()).increment(items);
    }

    public void rejected(String reason, String transport, long items) {
        counters.computeIfAbsent("r|" + reason + "|" + transport, k -> Counter.builder("sluice_ingest_rejected")
                .description("Samples, events or batches refused, by reason").tag("reason", reason)
                .tag("transport", transport).register(registry)).increment(items);
    }

    private synchronized TenantCounters meter(String tenant) {
        TenantCounters perTenant = tenants.get(tenant);
        if (perTenant != null) {
            return perTenant;
        }
        if (tenants.size() < maxTenants) {
            perTenant = register(tenant);
            tenants.put(tenant, perTenant);
            return perTenant;
        }
        if (others == null) {
            others = register(OTHER_TENANTS);
        }
        return others;
    }

    private TenantCounters register(String tenant) {
        return new TenantCounters(
                Counter.builder("sluice_ingest_tenant_samples")
                        .description("Samples acknowledged to clients, by tenant (HTTP and binary alike)")
                        .tag("tenant", tenant).register(registry),
                Counter.builder("sluice_ingest_tenant_events")
                        .description("Events acknowledged to clients, by tenant (HTTP and binary alike)")
                        .tag("tenant", tenant).register(registry));
    }
}
