package io.sluice.storage.invalidation;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The index on its own: which footprints a change overlaps, and what registrations become. */
class InvalidationsTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Invalidations index = new Invalidations(registry);
    private final List<String> dropped = new ArrayList<>();

    private Invalidations.Registration register(String name, CacheFootprint footprint) {
        return index.register(footprint, () -> dropped.add(name));
    }

    @Test
    void overlapIsByTenantMetricAndInclusiveTimeRange() {
        CacheFootprint cpu = CacheFootprint.of("a", "cpu", 1_000, 1_999);
        assertThat(new DataChange("a", "cpu", 1_999, 5_000).overlaps(cpu)).isTrue();
        assertThat(new DataChange("a", "cpu", 0, 1_000).overlaps(cpu)).isTrue();
        assertThat(new DataChange("a", "cpu", 2_000, 5_000).overlaps(cpu)).isFalse();
        assertThat(new DataChange("a", "cpu", 0, 999).overlaps(cpu)).isFalse();
        assertThat(new DataChange("a", "mem", 0, 5_000).overlaps(cpu)).isFalse();
        assertThat(new DataChange("b", "cpu", 0, 5_000).overlaps(cpu)).isFalse();
        assertThat(new DataChange("a", null, 1_500, 1_500).overlaps(cpu)).as("any metric of the tenant").isTrue();
        assertThat(new DataChange(null, null, 1_500, 1_500).overlaps(cpu)).as("every tenant").isTrue();
        CacheFootprint any = CacheFootprint.anyMetric("a", 1_000, 1_999);
        assertThat(new DataChange("a", "whatever", 1_000, 1_000).overlaps(any)).isTrue();
        assertThat(new DataChange("b", "whatever", 1_000, 1_000).overlaps(any)).isFalse();
        CacheFootprint two = new CacheFootprint("a", Set.of("cpu", "mem"), 0, 10);
        assertThat(new DataChange("a", "mem", 5, 5).overlaps(two)).isTrue();
        assertThat(new DataChange("a", "disk", 5, 5).overlaps(two)).isFalse();
    }

    @Test
    void aChangeDropsEveryOverlappingEntryOnceAndMarksItInvalid() {
        Invalidations.Registration cpu = register("cpu", CacheFootprint.of("a", "cpu", 0, 999));
        Invalidations.Registration cpuLater = register("cpuLater", CacheFootprint.of("a", "cpu", 5_000, 5_999));
        Invalidations.Registration both = register("both", new CacheFootprint("a", Set.of("cpu", "mem"), 0, 999));
        Invalidations.Registration any = register("any", CacheFootprint.anyMetric("a", 0, 999));
        Invalidations.Registration other = register("other", CacheFootprint.of("b", "cpu", 0, 999));
        assertThat(index.size()).isEqualTo(5);

        assertThat(index.apply(List.of(new DataChange("a", "cpu", 500, 500), new DataChange("a", "mem", 0, 0))))
                .isEqualTo(3);
        assertThat(dropped).containsExactlyInAnyOrder("cpu", "both", "any");
        assertThat(cpu.valid()).isFalse();
        assertThat(both.valid()).isFalse();
        assertThat(any.valid()).isFalse();
        assertThat(cpuLater.valid()).isTrue();
        assertThat(other.valid()).isTrue();
        assertThat(index.size()).isEqualTo(2);
        assertThat(registry.get("sluice_query_cache_invalidated").tag("reason", "write").counter().count()).isEqualTo(3);

        assertThat(index.apply(List.of(new DataChange("a", "cpu", 500, 500)))).as("already dropped").isZero();
        assertThat(index.apply(List.of(new DataChange("a", null, Long.MIN_VALUE, Long.MAX_VALUE)))).isEqualTo(1);
        assertThat(index.apply(List.of(DataChange.everything()))).isEqualTo(1);
        assertThat(dropped).containsExactlyInAnyOrder("cpu", "both", "any", "cpuLater", "other");
        assertThat(index.size()).isZero();
    }

    @Test
    void unregisteringForgetsAnEntryWithoutInvalidatingIt() {
        Invalidations.Registration r = register("r", CacheFootprint.of("a", "cpu", 0, 999));
        index.unregister(r);
        index.unregister(r);
        assertThat(index.size()).isZero();
        assertThat(index.apply(List.of(DataChange.everything()))).isZero();
        assertThat(r.valid()).isTrue();
        assertThat(dropped).isEmpty();
    }

    @Test
    void aDropActionMayCallBackIntoTheIndex() {
        // a cache's removal calls unregister (and may register a new load) from inside the drop action
        List<Invalidations.Registration> holder = new ArrayList<>();
        holder.add(index.register(CacheFootprint.of("a", "cpu", 0, 999), () -> {
            index.unregister(holder.get(0));
            index.register(CacheFootprint.of("a", "cpu", 0, 999), () -> { });
        }));
        assertThat(index.apply(List.of(new DataChange("a", "cpu", 0, 0)))).isEqualTo(1);
        assertThat(index.size()).isEqualTo(1);
        assertThat(index.dropAll()).isEqualTo(1);
        assertThat(index.size()).isZero();
    }
}
