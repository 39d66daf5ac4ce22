package io.sluice.storage.invalidation;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class WrittenRangesTest {

    @Test
    void oneRangePerTenantAndMetricInWholeMinutes() {
        WrittenRanges w = new WrittenRanges();
        long[] cpu = w.slot("a", "cpu");
        WrittenRanges.touch(cpu, 125_000);
        WrittenRanges.touch(cpu, 61_000);
        WrittenRanges.touch(w.slot("a", "mem"), -1);
        WrittenRanges.touch(w.slot("b", "cpu"), 3_600_000);
        assertThat(w.changes()).containsExactlyInAnyOrder(
                new DataChange("a", "cpu", 60_000, 179_999),
                new DataChange("a", "mem", -60_000, -1),
                new DataChange("b", "cpu", 3_600_000, 3_659_999));
        assertThat(new WrittenRanges().changes()).isEmpty();
        assertThat(new WrittenRanges().isEmpty()).isTrue();
    }

    @Test
    void mergedChangesWiden() {
        WrittenRanges w = new WrittenRanges();
        w.add(new DataChange("a", "cpu", 0, 59_999));
        w.add(new DataChange("a", "cpu", 600_000, 659_999));
        w.add(new DataChange("a", null, 60_000, 119_999));
        assertThat(w.changes()).containsExactlyInAnyOrder(new DataChange("a", "cpu", 0, 659_999),
                new DataChange("a", null, 60_000, 119_999));
        w.add(DataChange.everything());
        assertThat(w.changes()).containsExactly(DataChange.everything());
    }

    @Test
    void tooManyMetricsBecomeOneRangePerTenantAndTooManyTenantsOneForAll() {
        WrittenRanges w = new WrittenRanges();
        for (int i = 0; i <= WrittenRanges.MAX_RANGES; i++) {
            WrittenRanges.touch(w.slot(i % 2 == 0 ? "a" : "b", "m" + i), i * 60_000L);
        }
        List<DataChange> coarse = w.changes();
        assertThat(coarse).containsExactlyInAnyOrder(
                new DataChange("a", null, 0, WrittenRanges.MAX_RANGES * 60_000L + 59_999),
                new DataChange("b", null, 60_000, (WrittenRanges.MAX_RANGES - 1) * 60_000L + 59_999));

        WrittenRanges tenants = new WrittenRanges();
        for (int i = 0; i <= WrittenRanges.MAX_RANGES; i++) {
            WrittenRanges.touch(tenants.slot("t" + i, "cpu"), i * 60_000L);
        }
        assertThat(tenants.changes()).containsExactly(
                new DataChange(null, null, 0, WrittenRanges.MAX_RANGES * 60_000L + 59_999));

        WrittenRanges longNames = new WrittenRanges();
        String name = "x".repeat(WrittenRanges.MAX_NAME_CHARS / 2);
        WrittenRanges.touch(longNames.slot("a", name + "1"), 0);
        WrittenRanges.touch(longNames.slot("a", name + "2"), 0);
        assertThat(longNames.changes()).as("bounded in characters too").containsExactly(new DataChange("a", null, 0, 59_999));
    }
}
