package io.sluice.gateway.binary;

import io.github.bucket4j.TimeMeter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.ingest.ActiveSeries;
import io.sluice.gateway.ingest.Admission;
import io.sluice.gateway.ingest.InFlightLimit;
import io.sluice.gateway.ingest.IngestMetrics;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import io.sluice.protocol.error.ErrorCode;
import io.sluice.protocol.frame.Batch;
import io.sluice.protocol.record.Series;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a connection remembers about its series ({@link BatchChecks.Memory}) saves checks and never changes a verdict:
 * a series it keeps sending stays active, one it stopped sending expires and must be admitted again, and one that
 * breaks a rule is refused in every batch. Real admission parts; one clock, moved by hand, drives the gateway's time
 * and the active series' expiry.
 */
class BatchChecksTest {

    private static final String TENANT = "checks";
    private static final Series A = Series.of("cpu.usage", "host", "a");
    private static final Series B = Series.of("cpu.usage", "host", "b");
    private static final Series C = Series.of("cpu.usage", "host", "c");

    private final AtomicLong nowMs = new AtomicLong(1_800_000_000_000L);
    private final SluiceConfig config = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-active-series", "2"));
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Admission admission = new Admission(config.ingest(),
            new ActiveSeries(config.ingest().maxActiveSeries(), () -> TimeUnit.MILLISECONDS.toNanos(nowMs.get())),
            new InFlightLimit(config.ingest().maxInFlightItems(), config.ingest().maxInFlightBytes(), registry),
            new TenantRateLimiter(config.tenants(), TimeMeter.SYSTEM_NANOTIME, registry),
            new IngestMetrics(registry, config.ingest().maxMeteredTenants()), nowMs::get);
    private final BatchChecks checks = new BatchChecks(admission);
    private final List<Connection> connections = new ArrayList<>();

    @AfterEach
    void close() {
        connections.forEach(Connection::close);
    }

    @Test
    void seriesAConnectionKeepsSendingStayActiveForHoursAndTheLimitHoldsAgainstANewOne() {
        Connection agent = connect();
        Connection other = connect();
        for (Duration t = Duration.ZERO; t.compareTo(Duration.ofHours(3)) < 0; t = t.plusSeconds(30)) {
            assertThat(agent.check(A, B)).as("at %s", t).isNull();
            assertThat(other.check(C)).as("a third series at %s", t).isNotNull()
                    .satisfies(r -> assertThat(r.code()).isEqualTo(ErrorCode.LIMIT_EXCEEDED))
                    .satisfies(r -> assertThat(r.reason()).isEqualTo("cardinality_limit"));
            nowMs.addAndGet(30_000);
        }
    }

    @Test
    void seriesAConnectionStoppedSendingExpireAndAreAdmittedAgainOnlyUnderTheLimit() {
        Connection agent = connect();
        assertThat(agent.check(A, B)).isNull();
        nowMs.addAndGet(ActiveSeries.ACTIVE_FOR.plusMinutes(1).toMillis());
        assertThat(connect().check(C)).as("A and B expired, so C fits").isNull();
        assertThat(agent.check(A)).as("A is admitted again beside C").isNull();
        BatchChecks.Refusal refused = agent.check(A, B);
        assertThat(refused).as("B is not active any more and C and A fill the limit").isNotNull();
        assertThat(refused.message()).startsWith("cardinality_limit: record 1:").contains("ingest.max-active-series");
    }

    @Test
    void aSeriesThatBreaksARuleIsRefusedInEveryBatchThatSendsIt() {
        Connection agent = connect();
        Series bad = Series.of("cpu usage", "host", "a");
        for (int i = 0; i < 3; i++) {
            BatchChecks.Refusal refused = agent.check(A, bad);
            assertThat(refused).as("batch %d", i).isNotNull();
            assertThat(refused.code()).isEqualTo(ErrorCode.INVALID_RECORD);
            assertThat(refused.message()).startsWith("invalid_name: record 1:");
        }
        assertThat(agent.check(A)).isNull();
    }

    private Connection connect() {
        Connection c = new Connection();
        connections.add(c);
        return c;
    }

    /** One agent's connection: its batches as the gateway decodes them, and the gateway's memory of it. */
    private final class Connection implements AutoCloseable {

        private final DecodedBatches batches = new DecodedBatches();
        private final BatchChecks.Memory memory = new BatchChecks.Memory();

        /** One BATCH with a sample of each series, decoded as the gateway reads it and checked. */
        BatchChecks.Refusal check(Series... series) {
            Batch batch = batches.next(w -> {
                for (Series s : series) {
                    w.addSample(s, nowMs.get(), 1.0);
                }
            });
            try {
                return checks.check(TENANT, batch, memory);
            } finally {
                batch.release();
            }
        }

        @Override
        public void close() {
            batches.close();
        }
    }
}
