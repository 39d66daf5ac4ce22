package io.sluice.loadtest.suite;

import com.github.benmanes.caffeine.cache.Ticker;
import io.github.bucket4j.TimeMeter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.ingest.ActiveSeries;
import io.sluice.gateway.ingest.Admission;
import io.sluice.gateway.ingest.InFlightLimit;
import io.sluice.gateway.ingest.IngestMetrics;
import io.sluice.gateway.ingest.IngestParser;
import io.sluice.gateway.ingest.ParsedBatch;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The P4-promql row's data, read by the gateway's own JSON decoder under the settings the suite's {@code bin/sluice dev}
 * runs with: every sample of 24 h 5 min is taken (the oldest too), and the counters count at the rates the row checks
 * its answers against, restarts included.
 */
class PromqlFixtureTest {

    /** The bench's settings: {@code loadtest/sluice-loadtest.properties} over the defaults. */
    private static final SluiceConfig BENCH = ConfigLoader.load(Path.of("sluice-loadtest.properties"), Map.of(), Map.of());

    private final long now = System.currentTimeMillis();
    private final PromqlFixture data = new PromqlFixture("bench-test", now, Duration.ofMinutes(24 * 60 + 5).toMillis());

    private ParsedBatch decode(byte[] body) throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        // the bodies are sent over a minute or so after the data's newest time
        Admission admission = new Admission(BENCH.ingest(),
                new ActiveSeries(BENCH.ingest().maxActiveSeries(), Ticker.systemTicker()),
                new InFlightLimit(BENCH.ingest().maxInFlightItems(), BENCH.ingest().maxInFlightBytes(), registry),
                new TenantRateLimiter(BENCH.tenants(), TimeMeter.SYSTEM_NANOTIME, registry),
                new IngestMetrics(registry, BENCH.ingest().maxMeteredTenants()), () -> now + 60_000);
        ByteBuf buf = Unpooled.wrappedBuffer(body);
        try {
            return new IngestParser(BENCH.ingest(), admission).parseSamples(buf);
        } finally {
            buf.release();
        }
    }

    @Test
    void everySampleOfEveryBodyIsTakenUnderTheBenchSettings() throws Exception {
        int perBody = 10_000;
        assertThat(data.samples()).isEqualTo(100L * (24 * 240 + 20 + 1));
        assertThat(data.lastMs()).isEqualTo(now);
        assertThat(data.bodies(perBody)).isEqualTo(58);
        long taken = 0;
        Set<Object> series = new HashSet<>();
        Map<String, List<ParsedBatch.Sample>> byInstance = new HashMap<>();
        for (int b = 0; b < data.bodies(perBody); b++) {
            byte[] body = data.jsonBody(b, perBody);
            assertThat((long) body.length).isLessThanOrEqualTo(BENCH.server().maxBodyBytes());
            ParsedBatch batch = decode(body);
            assertThat(batch.rejections()).isEmpty();
            assertThat(batch.total()).isLessThanOrEqualTo(BENCH.ingest().maxItemsPerRequest());
            taken += batch.samples().size();
            for (ParsedBatch.Sample s : batch.samples()) {
                series.add(s.series());
                assertThat(s.series().name()).isEqualTo(PromqlFixture.METRIC);
                assertThat(s.series().labels()).containsEntry("job", "bench-test");
                byInstance.computeIfAbsent(s.series().labels().get("instance"), i -> new ArrayList<>()).add(s);
            }
        }
        assertThat(taken).isEqualTo(data.samples());
        assertThat(series).hasSize(PromqlFixture.SERIES);
        assertThat(byInstance.get("i000").get(0).timestampMs()).isEqualTo(data.firstMs()).isLessThan(now - Duration.ofHours(24).toMillis());
        // per series: every 15 s, and the increase (restarts counted as Prometheus does) is the series' rate throughout
        double total = 0;
        for (int s = 0; s < PromqlFixture.SERIES; s++) {
            List<ParsedBatch.Sample> samples = byInstance.get(PromqlFixture.instance(s));
            assertThat(samples).hasSize((int) (data.samples() / PromqlFixture.SERIES));
            int restarts = 0;
            for (int k = 1; k < samples.size(); k++) {
                ParsedBatch.Sample prev = samples.get(k - 1);
                ParsedBatch.Sample cur = samples.get(k);
                assertThat(cur.timestampMs() - prev.timestampMs()).isEqualTo(PromqlFixture.INTERVAL_MS);
                double increase = cur.value() >= prev.value() ? cur.value() - prev.value() : cur.value();
                restarts += cur.value() < prev.value() ? 1 : 0;
                assertThat(increase / 15).isEqualTo(PromqlFixture.ratePerSecond(s));
            }
            assertThat(restarts).as("restarts of i%03d in 24 h", s).isBetween(2, 3);
            total += PromqlFixture.ratePerSecond(s);
        }
        assertThat(total).isEqualTo(PromqlFixture.TOTAL_RATE);
    }

    /** Without the bench's wider late-data window, the oldest samples would be refused as too_old. */
    @Test
    void theBenchSettingsAcceptSamplesADayOld() {
        assertThat(BENCH.ingest().lateWindow()).isGreaterThan(Duration.ofMinutes(24 * 60 + 5 + 30));
    }
}
