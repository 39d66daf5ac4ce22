package io.sluice.loadtest.suite;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The suite's readings of /metrics, its rule for a disturbed reference and for an agent on schedule. */
class BenchmarkSuiteTest {

    private static final String METRICS = """
            # HELP jvm_gc_memory_allocated_bytes_total Incremented for an increase in the size of the (young) heap memory pool after one GC to before the next
            # TYPE jvm_gc_memory_allocated_bytes_total counter
            jvm_gc_memory_allocated_bytes_total 1.5E9
            jvm_memory_used_bytes{area="heap",id="G1 Eden Space"} 2.5E7
            jvm_memory_used_bytes{area="heap",id="G1 Old Gen"} 9.0E7
            sluice_http_server_requests_seconds_count{method="GET",route="/{code}",status="302"} 1000.0
            sluice_http_server_requests_seconds_count{method="HEAD",route="/{code}",status="302"} 10.0
            sluice_http_server_requests_seconds_count{method="GET",route="/{code}",status="404"} 7.0
            sluice_http_server_requests_seconds_count{method="GET",route="/api/v1/links",status="200"} 3.0
            sluice_ingest_accepted_total{kind="samples",transport="binary"} 4000.0
            sluice_ingest_accepted_total{kind="events",transport="binary"} 50.0
            sluice_ingest_accepted_total{kind="samples",transport="json"} 600.0
            """;

    @Test
    void allocatedBytesAreTheCollectionsCountPlusEdenAndWorkIsTheMatchingCounters() {
        BenchmarkSuite.Allocation redirects = BenchmarkSuite.allocation(METRICS, BenchmarkSuite.REDIRECTS,
                BenchmarkSuite.REDIRECTED);
        assertThat(redirects.bytes()).isEqualTo(1.525e9);
        assertThat(redirects.work()).as("302s of GET and HEAD on the redirect route only").isEqualTo(1010.0);

        BenchmarkSuite.Allocation binary = BenchmarkSuite.allocation(METRICS, BenchmarkSuite.INGESTED,
                "transport=\"binary\"");
        assertThat(binary.work()).as("samples, not events").isEqualTo(4000.0);
    }

    @Test
    void aReferenceIsDisturbedWhenItsTwoRunsAreMoreThan15PercentApart() {
        assertThat(BenchmarkSuite.spread(new double[] {100_000, 86_000})).isCloseTo(0.14, within(1e-9));
        assertThat(BenchmarkSuite.spread(new double[] {86_000, 100_000})).isLessThanOrEqualTo(BenchmarkSuite.REFERENCE_SPREAD);
        assertThat(BenchmarkSuite.spread(new double[] {100_000, 84_000})).isGreaterThan(BenchmarkSuite.REFERENCE_SPREAD);
    }

    @Test
    void anAgentSecondIsOnScheduleWithinTenPercentOfTheRateAndAcknowledgedWithinHalfASecond() {
        assertThat(BenchmarkSuite.keptSchedule(500_000, 509_000, 85.5)).isTrue();
        assertThat(BenchmarkSuite.keptSchedule(500_000, 450_000, 499.9)).isTrue();
        assertThat(BenchmarkSuite.keptSchedule(500_000, 794_000, 570.4)).as("catching up").isFalse();
        assertThat(BenchmarkSuite.keptSchedule(500_000, 677_000, 487.4)).as("a burst over the rate").isFalse();
        assertThat(BenchmarkSuite.keptSchedule(500_000, 501_000, 735.7)).as("on rate but late").isFalse();
        assertThat(BenchmarkSuite.keptSchedule(500_000, 269_000, 120.0)).as("under the rate").isFalse();
    }
}
