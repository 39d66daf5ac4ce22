package io.sluice.gateway.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.ingest.ActiveSeries;
import io.sluice.gateway.ingest.Admission;
import io.sluice.gateway.ingest.InFlightLimit;
import io.sluice.gateway.ingest.IngestMetrics;
import io.sluice.gateway.ingest.MalformedBatchException;
import io.sluice.gateway.ingest.OtlpMetricsDecoder;
import io.sluice.gateway.ingest.ParsedBatch;
import io.sluice.gateway.ingest.Rejection;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import io.github.bucket4j.TimeMeter;
import com.github.benmanes.caffeine.cache.Ticker;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the OTLP/HTTP metrics decoder: the first byte picks the encoding (even: protobuf, odd: OTLP/JSON),
 * the rest is the body. Any input either decodes into samples that each pass {@link Admission}'s series rules
 * and refused data points with reasons, indexed within the request's data points, or is refused whole with
 * {@code invalid_protobuf}, {@code invalid_json} or {@code too_many_items}; nothing else is thrown. In a plain
 * build this replays the seeds under {@code OtlpDecoderFuzzTestInputs/}; {@code JAZZER_FUZZ=1} fuzzes.
 */
class OtlpDecoderFuzzTest {

    private static final long NOW = 1_800_000_000_000L;
    private static final SluiceConfig CONFIG = ConfigLoader.load(null, Map.of(), Map.of("ingest.max-items-per-request",
            "1000", "ingest.max-labels", "8"));
    private static final SimpleMeterRegistry REGISTRY = new SimpleMeterRegistry();
    private static final Admission ADMISSION = new Admission(CONFIG.ingest(),
            new ActiveSeries(CONFIG.ingest().maxActiveSeries(), Ticker.systemTicker()),
            new InFlightLimit(CONFIG.ingest().maxInFlightItems(), CONFIG.ingest().maxInFlightBytes(), REGISTRY),
            new TenantRateLimiter(CONFIG.tenants(), TimeMeter.SYSTEM_NANOTIME, REGISTRY),
            new IngestMetrics(REGISTRY, CONFIG.ingest().maxMeteredTenants()), () -> NOW);
    private static final OtlpMetricsDecoder DECODER = new OtlpMetricsDecoder(CONFIG.ingest(), ADMISSION);

    @FuzzTest(maxDuration = "5m")
    void decode(byte[] input) {
        if (input.length == 0) {
            return;
        }
        OtlpMetricsDecoder.Format format = (input[0] & 1) == 0
                ? OtlpMetricsDecoder.Format.PROTOBUF : OtlpMetricsDecoder.Format.JSON;
        ByteBuf body = Unpooled.wrappedBuffer(Arrays.copyOfRange(input, 1, input.length));
        try {
            ParsedBatch batch = DECODER.decode(body, format);
            assertThat(body.readerIndex()).as("the body is not consumed").isZero();
            assertThat(batch.samples().size()).isLessThanOrEqualTo(CONFIG.ingest().maxItemsPerRequest());
            for (ParsedBatch.Sample s : batch.samples()) {
                assertThat(ADMISSION.checkSeries(s.series())).as(s.series().toString()).isNull();
                assertThat(ADMISSION.checkTimestamp(s.timestampMs(), NOW)).isNull();
                assertThat(s.index()).isBetween(0, batch.total() - 1);
            }
            for (Rejection r : batch.rejections()) {
                assertThat(r.index()).isBetween(0, batch.total() - 1);
                assertThat(r.reason()).isNotBlank();
                assertThat(batch.samples()).noneMatch(s -> s.index() == r.index());
            }
        } catch (MalformedBatchException e) {
            assertThat(e.code()).isIn(Set.of("invalid_protobuf", "invalid_json", "too_many_items"));
            assertThat(e.getMessage()).isNotBlank();
        } finally {
            body.release();
        }
    }
}
