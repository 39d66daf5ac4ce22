package io.sluice.gateway.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
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
import io.sluice.gateway.ingest.MalformedBatchException;
import io.sluice.gateway.ingest.ParsedBatch;
import io.sluice.gateway.ratelimit.TenantRateLimiter;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the JSON ingest decoder ({@link IngestParser}) on its own: any body decodes (every sample passing
 * {@link Admission}'s rules) or is refused whole with a code, and decodes alike with its series cache
 * (ingest.series-cache-entries: a series found by its bytes is not read again) and without it, whatever the cache
 * holds from earlier bodies.
 *
 * <p>In a plain build this replays the seeds under {@code IngestParserFuzzTestInputs/}; {@code JAZZER_FUZZ=1}
 * fuzzes it (README, "Fuzzing the HTTP API").
 */
class IngestParserFuzzTest {

    private static final long NOW = 1_800_000_000_000L;
    private static final Admission ADMISSION = admission(config("4"));
    private static final IngestParser CACHED = new IngestParser(config("4").ingest(), ADMISSION);
    private static final IngestParser UNCACHED = new IngestParser(config("0").ingest(), ADMISSION);

    private static SluiceConfig config(String cacheEntries) {
        return ConfigLoader.load(null, Map.of(), Map.of("ingest.max-items-per-request", "200",
                "ingest.series-cache-entries", cacheEntries));
    }

    private static Admission admission(SluiceConfig config) {
        return new Admission(config.ingest(), new ActiveSeries(config.ingest().maxActiveSeries(), Ticker.systemTicker()),
                new InFlightLimit(config.ingest().maxInFlightItems(), config.ingest().maxInFlightBytes(),
                        new SimpleMeterRegistry()),
                new TenantRateLimiter(config.tenants(), TimeMeter.SYSTEM_NANOTIME, new SimpleMeterRegistry()),
                new IngestMetrics(new SimpleMeterRegistry(), config.ingest().maxMeteredTenants()), () -> NOW);
    }

    @FuzzTest(maxDuration = "5m")
    void anyBody(byte[] input) {
        Object first = outcome(CACHED, input);
        // again, its series now in the cache as far as 4 entries hold them, and without the cache: alike
        assertThat(outcome(CACHED, input)).isEqualTo(first);
        assertThat(outcome(UNCACHED, input)).isEqualTo(first);
        if (first instanceof ParsedBatch batch) {
            assertThat(batch.samples().size() + batch.rejections().size()).isEqualTo(batch.total());
            for (ParsedBatch.Sample s : batch.samples()) {
                assertThat(ADMISSION.checkSeries(s.series())).isNull();
                assertThat(ADMISSION.checkTimestamp(s.timestampMs(), NOW)).isNull();
            }
        } else {
            assertThat(first).isIn("invalid_json", "invalid_batch", "too_many_items");
        }
    }

    /** What {@code parser} makes of the body: the batch, or the code it refused the body whole with. */
    private static Object outcome(IngestParser parser, byte[] input) {
        ByteBuf body = Unpooled.wrappedBuffer(input);
        try {
            return parser.parseSamples(body);
        } catch (MalformedBatchException e) {
            return e.code();
        } finally {
            body.release();
        }
    }
}
