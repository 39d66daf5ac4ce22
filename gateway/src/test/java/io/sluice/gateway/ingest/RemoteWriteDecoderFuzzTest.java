package io.sluice.gateway.ingest;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;

import java.util.Arrays;
import java.util.BitSet;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes {@link RemoteWriteDecoder}, snappy and protobuf alike: any body either decodes or is refused whole with
 * a {@link MalformedBatchException} of one of its codes; nothing else may escape (no other exception, no
 * allocation beyond the limits). What decodes accounts for every item exactly once (each index either a sample
 * or a refusal), and every sample it took passes {@link Admission}'s rules again.
 *
 * <p>The first byte of an input picks the variant: an even byte sends the rest as the body as it is (the snappy
 * layer gets the bytes), an odd byte snappy-compresses the rest first (the protobuf layer gets them). In a plain
 * build this replays the seeds under {@code RemoteWriteDecoderFuzzTestInputs/}; {@code JAZZER_FUZZ=1} fuzzes
 * (README, "Fuzzing the HTTP API").
 */
class RemoteWriteDecoderFuzzTest {

    private static final Set<String> CODES = Set.of("invalid_snappy", "invalid_protobuf", "body_too_large",
            "too_many_items");
    private static final SluiceConfig CONFIG = config("4");
    private static final Admission ADMISSION = AdmissionTest.admission(CONFIG, RemoteWriteDecoderTest.NOW);
    private static final RemoteWriteDecoder DECODER = new RemoteWriteDecoder(CONFIG.ingest(),
            CONFIG.server().maxBodyBytes(), ADMISSION);
    /** The same decoder without its series cache: whatever the cache holds, both decode a body alike. */
    private static final RemoteWriteDecoder UNCACHED = new RemoteWriteDecoder(config("0").ingest(),
            CONFIG.server().maxBodyBytes(), ADMISSION);

    private static SluiceConfig config(String seriesCacheEntries) {
        return ConfigLoader.load(null, Map.of(), Map.of("ingest.max-labels", "4", "ingest.max-items-per-request", "200",
                "server.max-body-bytes", "64KiB", "ingest.series-cache-entries", seriesCacheEntries));
    }

    @FuzzTest(maxDuration = "5m")
    void decode(byte[] input) {
        check(input, RemoteWriteDecoder.Version.V1);
    }

    /** The same for remote_write 2.0 bodies (its seeds are 2.0 Requests). */
    @FuzzTest(maxDuration = "5m")
    void decodeV2(byte[] input) {
        check(input, RemoteWriteDecoder.Version.V2);
    }

    private static void check(byte[] input, RemoteWriteDecoder.Version version) {
        if (input.length == 0) {
            return;
        }
        byte[] rest = Arrays.copyOfRange(input, 1, input.length);
        byte[] body = (input[0] & 1) == 0 ? rest : PrometheusWrites.snappy(rest);
        ByteBuf buf = Unpooled.wrappedBuffer(body);
        RemoteWriteDecoder.Decoded decoded;
        try {
            decoded = DECODER.decode(buf, version);
        } catch (MalformedBatchException refused) {
            assertThat(refused.code()).isIn(CODES);
            assertThat(refused.getMessage()).isNotBlank();
            assertThat(outcome(UNCACHED, body, version)).isEqualTo(refused.code());
            return;
        } finally {
            assertThat(buf.readerIndex()).isZero();
            buf.release();
        }
        // again (its series now in the cache, as far as 4 entries hold them) and without the cache: alike
        assertThat(outcome(DECODER, body, version)).isEqualTo(decoded);
        assertThat(outcome(UNCACHED, body, version)).isEqualTo(decoded);
        ParsedBatch batch = decoded.batch();
        assertThat(decoded.exemplars()).isNotNegative();
        assertThat(batch.total()).isBetween(0, CONFIG.ingest().maxItemsPerRequest());
        assertThat(batch.samples().size() + batch.rejections().size()).isEqualTo(batch.total());
        BitSet seen = new BitSet(batch.total());
        for (ParsedBatch.Sample s : batch.samples()) {
            assertThat(seen.get(s.index())).isFalse();
            seen.set(s.index());
            assertThat(ADMISSION.checkSeries(s.series())).isNull();
            assertThat(ADMISSION.checkTimestamp(s.timestampMs(), RemoteWriteDecoderTest.NOW)).isNull();
        }
        for (Rejection r : batch.rejections()) {
            assertThat(seen.get(r.index())).isFalse();
            seen.set(r.index());
            assertThat(r.reason()).isNotBlank();
            assertThat(r.message()).isNotBlank();
        }
        assertThat(seen.cardinality()).isEqualTo(batch.total());
    }

    /** What {@code decoder} makes of the body: the decoded body, or the code it refused it whole with. */
    private static Object outcome(RemoteWriteDecoder decoder, byte[] body, RemoteWriteDecoder.Version version) {
        ByteBuf buf = Unpooled.wrappedBuffer(body);
        try {
            return decoder.decode(buf, version);
        } catch (MalformedBatchException refused) {
            return refused.code();
        } finally {
            buf.release();
        }
    }
}
