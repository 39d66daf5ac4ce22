package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * {@code sluice_ingest_accepted_total{kind,transport}} and {@code sluice_ingest_rejected_total{reason,transport}}:
 * every item taken or refused, by why.
 */
public final class IngestMetrics {

    private final MeterRegistry registry;
    private final ConcurrentMap<String, Counter> counters = new ConcurrentHashMap<>();

    public IngestMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    public void accepted(String kind, String transport, long items) {
        counters.computeIfAbsent("a|" + kind + "|" + transport, k -> Counter.builder("sluice_ingest_accepted")
                .description("Samples and events acknowledged to clients").tag("kind", kind)
                .tag("transport", transport).register(registry)).increment(items);
    }

    public void rejected(String reason, String transport, long items) {
        counters.computeIfAbsent("r|" + reason + "|" + transport, k -> Counter.builder("sluice_ingest_rejected")
                .description("Samples, events or batches refused, by reason").tag("reason", reason)
                .tag("transport", transport).register(registry)).increment(items);
    }
}
