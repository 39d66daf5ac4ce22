package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The per-tenant counters' bound: {@code ingest.max-metered-tenants} series per name, then {@code _other}. */
class IngestMetricsTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    @Test
    void theFirstTenantsUpToTheCapGetTheirOwnSeriesTheRestShareOther() {
        IngestMetrics metrics = new IngestMetrics(registry, 2);
        metrics.accepted("a", "samples", "http", 5);
        metrics.accepted("b", "events", "binary", 3);
        metrics.accepted("c", "samples", "http", 7);
        metrics.accepted("d", "samples", "binary", 1);
        metrics.accepted("a", "samples", "binary", 2);

        assertThat(count("sluice_ingest_tenant_samples", "a")).isEqualTo(7);
        assertThat(count("sluice_ingest_tenant_events", "b")).isEqualTo(3);
        assertThat(count("sluice_ingest_tenant_samples", "_other")).isEqualTo(8);
        assertThat(registry.find("sluice_ingest_tenant_samples").counters()).hasSize(3); // a, b, _other
        assertThat(registry.find("sluice_ingest_tenant_samples").tag("tenant", "c").counter()).isNull();
        assertThat(registry.find("sluice_ingest_accepted").tag("kind", "samples").tag("transport", "http")
                .counter().count()).isEqualTo(12);
    }

    @Test
    void aCapOfZeroCountsEveryTenantUnderOther() {
        IngestMetrics metrics = new IngestMetrics(registry, 0);
        metrics.accepted("a", "events", "http", 4);
        assertThat(count("sluice_ingest_tenant_events", "_other")).isEqualTo(4);
        assertThat(registry.find("sluice_ingest_tenant_events").tag("tenant", "a").counter()).isNull();
    }

    private double count(String name, String tenant) {
        Counter counter = registry.find(name).tag("tenant", tenant).counter();
        return counter == null ? 0 : counter.count();
    }
}
