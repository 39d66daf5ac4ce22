package io.sluice.gateway.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.ingest.ActiveSeries;
import io.sluice.gateway.ingest.Admission;
import io.sluice.gateway.ingest.IngestMetrics;
import io.sluice.gateway.ingest.InFlightLimit;
import io.sluice.gateway.ingest.LineProtocolParser;
import io.sluice.gateway.ingest.MalformedBatchException;
import io.sluice.gateway.ingest.ParsedBatch;
import io.sluice.gateway.ingest.Rejection;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import io.github.bucket4j.TimeMeter;
import com.github.benmanes.caffeine.cache.Ticker;
import io.sluice.protocol.record.Series;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzzes the line-protocol decoder ({@link LineProtocolParser}) on its own. Any body either decodes, every sample
 * passing {@link Admission}'s rules, every refused line named by a line number the body has, or is refused whole
 * for too many samples; nothing else is thrown. And any measurement, tag and field, escaped as InfluxDB documents,
 * decodes back to exactly its sanitised names, its tag value and its value (or is refused by admission's rules).
 *
 * <p>In a plain build this replays the seeds under {@code LineProtocolFuzzTestInputs/}; {@code JAZZER_FUZZ=1}
 * fuzzes one method (README, "Fuzzing the HTTP API").
 */
class LineProtocolFuzzTest {

    private static final long NOW = 1_800_000_000_000L;
    private static final SluiceConfig CONFIG = ConfigLoader.load(null, Map.of(),
            Map.of("ingest.max-items-per-request", "200", "ingest.series-cache-entries", "4"));
    private static final Admission ADMISSION = new Admission(CONFIG.ingest(),
            new ActiveSeries(CONFIG.ingest().maxActiveSeries(), Ticker.systemTicker()),
            new InFlightLimit(CONFIG.ingest().maxInFlightItems(), CONFIG.ingest().maxInFlightBytes(),
                    new SimpleMeterRegistry()),
            new TenantRateLimiter(CONFIG.tenants(), TimeMeter.SYSTEM_NANOTIME, new SimpleMeterRegistry()),
            new IngestMetrics(new SimpleMeterRegistry(), CONFIG.ingest().maxMeteredTenants()), () -> NOW);
    private static final LineProtocolParser PARSER = new LineProtocolParser(CONFIG.ingest(), ADMISSION);
    /** The same parser without its series cache: whatever the cache holds, both decode a body alike. */
    private static final LineProtocolParser UNCACHED = new LineProtocolParser(ConfigLoader.load(null, Map.of(),
            Map.of("ingest.max-items-per-request", "200", "ingest.series-cache-entries", "0")).ingest(), ADMISSION);

    @FuzzTest(maxDuration = "5m")
    void anyBody(byte[] input) {
        int lines = 1;
        for (byte b : input) {
            lines += b == '\n' ? 1 : 0;
        }
        LineProtocolParser.Precision precision = LineProtocolParser.Precision.values()[
                input.length == 0 ? 0 : (input[0] & 0xff) % LineProtocolParser.Precision.values().length];
        ByteBuf body = Unpooled.wrappedBuffer(input);
        LineProtocolParser.Result result;
        try {
            result = PARSER.parse(body, precision);
        } catch (MalformedBatchException e) {
            assertThat(e.code()).isEqualTo("too_many_items");
            assertThat(outcome(UNCACHED, input, precision)).isEqualTo("too_many_items");
            return;
        } finally {
            body.release();
        }
        // decoded again (its series keys now in the cache, as far as 4 entries hold them) and without the cache: alike
        assertThat(outcome(PARSER, input, precision)).isEqualTo(result);
        assertThat(outcome(UNCACHED, input, precision)).isEqualTo(result);
        ParsedBatch batch = result.batch();
        assertThat(batch.samples().size()).isLessThanOrEqualTo(200);
        for (ParsedBatch.Sample s : batch.samples()) {
            assertThat(ADMISSION.checkSeries(s.series())).isNull();
            assertThat(ADMISSION.checkTimestamp(s.timestampMs(), NOW)).isNull();
            assertThat(Double.isFinite(s.value())).isTrue();
            assertThat(s.index()).isBetween(1, lines);
        }
        int previous = 0;
        for (Rejection r : batch.rejections()) {
            assertThat(r.index()).isBetween(Math.max(1, previous + 1), lines);
            assertThat(r.message()).startsWith("line " + r.index() + ": unable to parse '");
            assertThat(r.reason()).isNotBlank();
            previous = r.index();
        }
        assertThat(result.points()).isGreaterThanOrEqualTo(batch.rejections().size());
    }

    /** What {@code parser} makes of the body: its result, or the code it refused the body whole with. */
    private static Object outcome(LineProtocolParser parser, byte[] input, LineProtocolParser.Precision precision) {
        ByteBuf body = Unpooled.wrappedBuffer(input);
        try {
            return parser.parse(body, precision);
        } catch (MalformedBatchException e) {
            return e.code();
        } finally {
            body.release();
        }
    }

    @FuzzTest(maxDuration = "5m")
    void escapedPointsDecodeToWhatWasEscaped(FuzzedDataProvider data) {
        String measurement = data.consumeString(24);
        String tagKey = data.consumeString(16);
        String tagValue = data.consumeString(24);
        String fieldKey = data.consumeString(16);
        double value = data.consumeRegularDouble();
        if (!usable(measurement) || measurement.startsWith("#") || !usable(tagKey) || !usable(tagValue)
                || !usable(fieldKey)) {
            return;
        }
        String line = escape(measurement, false) + "," + escape(tagKey, true) + "=" + escape(tagValue, true) + " "
                + escape(fieldKey, true) + "=" + value + " " + NOW + "000000\n";
        ByteBuf body = Unpooled.copiedBuffer(line, StandardCharsets.UTF_8);
        LineProtocolParser.Result result;
        try {
            result = PARSER.parse(body, LineProtocolParser.Precision.NS);
        } catch (MalformedBatchException e) {
            throw new AssertionError(e);
        } finally {
            body.release();
        }
        String name = sanitised(measurement, true) + "_" + sanitised(fieldKey, true);
        List<String> labels = List.of(sanitised(tagKey, false), tagValue);
        if (ADMISSION.checkSample(name, labels, NOW, NOW) != null) {
            assertThat(result.batch().samples()).as(line).isEmpty();
            assertThat(result.batch().rejections()).as(line).singleElement()
                    .extracting(Rejection::index).isEqualTo(1);
            return;
        }
        assertThat(result.batch().rejections()).as(line).isEmpty();
        assertThat(result.batch().samples()).as(line).singleElement().satisfies(s -> {
            assertThat(s.series()).isEqualTo(Series.of(name, labels.toArray(String[]::new)));
            assertThat(s.value()).isEqualTo(value);
            assertThat(s.timestampMs()).isEqualTo(NOW);
        });
    }

    /** Non-empty, one line, valid Unicode, no NUL: what a line-protocol element can carry. */
    private static boolean usable(String s) {
        if (s.isEmpty() || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0 || s.indexOf('\0') >= 0) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return false;
            }
        }
        // leading whitespace before a line is skipped, so a measurement cannot start with a raw tab
        return s.charAt(0) != '\t';
    }

    /** InfluxDB's escapes, written independently of the decoder. */
    private static String escape(String s, boolean equalsSign) {
        StringBuilder out = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == ',' || c == ' ' || c == '\\' || (equalsSign && c == '=')) {
                out.append('\\');
            }
            out.append(c);
        }
        return out.toString();
    }

    /** The documented naming rule, written independently of the decoder. */
    private static String sanitised(String s, boolean metric) {
        StringBuilder out = new StringBuilder();
        int[] points = s.codePoints().toArray();
        for (int i = 0; i < points.length; i++) {
            int c = points[i];
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
                    || (metric && (c == ':' || (c == '.' && i > 0)));
            if (i == 0 && c >= '0' && c <= '9') {
                out.append('_');
            }
            out.append(ok ? (char) c : '_');
        }
        return out.toString();
    }
}
