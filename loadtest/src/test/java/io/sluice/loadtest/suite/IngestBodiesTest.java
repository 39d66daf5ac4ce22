package io.sluice.loadtest.suite;

import com.github.benmanes.caffeine.cache.Ticker;
import io.github.bucket4j.TimeMeter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.gateway.ingest.ActiveSeries;
import io.sluice.gateway.ingest.Admission;
import io.sluice.gateway.ingest.InFlightLimit;
import io.sluice.gateway.ingest.IngestMetrics;
import io.sluice.gateway.ingest.IngestParser;
import io.sluice.gateway.ingest.LineProtocolParser;
import io.sluice.gateway.ingest.ParsedBatch;
import io.sluice.gateway.ingest.RemoteWriteDecoder;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import io.sluice.loadtest.suite.IngestBodies.Format;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The HTTP ingest rows' bodies, read by the gateway's own decoders (JSON, remote_write, line protocol) under the
 * settings the suite's {@code bin/sluice dev} runs with: every sample is taken, the three formats carry the same
 * samples, and the rows stay inside the ingest window and the active-series limit.
 */
class IngestBodiesTest {

    /** The bench's settings: {@code loadtest/sluice-loadtest.properties} over the defaults. */
    private static final SluiceConfig BENCH = ConfigLoader.load(Path.of("sluice-loadtest.properties"), Map.of(), Map.of());

    private final long now = System.currentTimeMillis();

    private Admission admission(long clock) {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        return new Admission(BENCH.ingest(), new ActiveSeries(BENCH.ingest().maxActiveSeries(), Ticker.systemTicker()),
                new InFlightLimit(BENCH.ingest().maxInFlightItems(), BENCH.ingest().maxInFlightBytes(), registry),
                new TenantRateLimiter(BENCH.tenants(), TimeMeter.SYSTEM_NANOTIME, registry),
                new IngestMetrics(registry, BENCH.ingest().maxMeteredTenants()), () -> clock);
    }

    /** What the gateway's decoder of {@code format} makes of {@code body}, with the gateway's clock at {@code clock}. */
    private ParsedBatch decode(Format format, byte[] body, long clock) throws Exception {
        Admission admission = admission(clock);
        ByteBuf buf = Unpooled.wrappedBuffer(body);
        try {
            return switch (format) {
                case JSON -> new IngestParser(BENCH.ingest(), admission).parseSamples(buf);
                case REMOTE_WRITE -> new RemoteWriteDecoder(BENCH.ingest(), BENCH.server().maxBodyBytes(), admission)
                        .decode(buf).batch();
                case INFLUX -> new LineProtocolParser(BENCH.ingest(), admission)
                        .parse(buf, LineProtocolParser.Precision.MS).batch();
            };
        } finally {
            buf.release();
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void everySampleOfABodyIsTakenByTheGatewaysDecoder(Format format) throws Exception {
        byte[] body = format.body(0, now);
        assertThat((long) body.length).isLessThanOrEqualTo(BENCH.server().maxBodyBytes());
        ParsedBatch batch = decode(format, body, now);
        assertThat(batch.rejections()).isEmpty();
        assertThat(batch.total()).isEqualTo(IngestBodies.SERIES).isLessThanOrEqualTo(BENCH.ingest().maxItemsPerRequest());
        assertThat(batch.samples()).hasSize(IngestBodies.SERIES);
        Set<Object> series = new HashSet<>();
        for (ParsedBatch.Sample s : batch.samples()) {
            series.add(s.series());
            assertThat(s.series().name()).isEqualTo(IngestBodies.METRIC);
            assertThat(s.series().labels()).hasSize(IngestBodies.LABELS);
            assertThat(s.timestampMs()).isEqualTo(now);
        }
        // every body of every format writes the same series, 1,000 of them: far under the tenant's active-series cap
        assertThat(series).hasSize(IngestBodies.SERIES);
        assertThat(IngestBodies.SERIES).isLessThan(BENCH.ingest().maxActiveSeries());
    }

    @Test
    void theThreeFormatsCarryTheSameSamples() throws Exception {
        List<ParsedBatch.Sample> json = decode(Format.JSON, Format.JSON.body(0, now), now).samples();
        for (Format format : List.of(Format.REMOTE_WRITE, Format.INFLUX)) {
            List<ParsedBatch.Sample> other = decode(format, format.body(0, now), now).samples();
            for (int i = 0; i < json.size(); i++) {
                assertThat(other.get(i).series()).isEqualTo(json.get(i).series());
                assertThat(other.get(i).timestampMs()).isEqualTo(json.get(i).timestampMs());
                assertThat(other.get(i).value()).isEqualTo(json.get(i).value());
            }
        }
        ParsedBatch.Sample last = json.get(IngestBodies.SERIES - 1);
        assertThat(last.series().labels()).containsEntry("label0", "s999").containsEntry("label4", "v" + 999 % 7);
        assertThat(last.value()).isEqualTo(1_000_000.0 + now % 1000);
    }

    /** The preflight's reason to exist: bodies built long before they are sent would measure refusals. */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aBodyOlderThanTheLateWindowIsRefusedWhole(Format format) throws Exception {
        long old = now - BENCH.ingest().lateWindow().toMillis() - 60_000;
        ParsedBatch batch = decode(format, format.body(0, old), now);
        assertThat(batch.samples()).isEmpty();
        assertThat(batch.rejections()).hasSize(IngestBodies.SERIES).allSatisfy(r -> assertThat(r.reason()).isEqualTo("too_old"));
    }

    /**
     * A connection's requests carry its own series only, at timestamps one past the last (here later than the wall
     * clock, so they cannot follow it), each request the same bytes as the body built from scratch for that timestamp.
     */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aStreamSendsItsConnectionsSeriesAtRisingTimestamps(Format format) throws Exception {
        long after = now + 60_000;
        try (IngestBodies.Stream stream = new IngestBodies.Stream(format, 2, after, "127.0.0.1", 8080, "sk_test")) {
            for (int k = 1; k <= 3; k++) {
                byte[] body = content(stream.next());
                long timestamp = after + k;
                assertThat(stream.last()).isEqualTo(timestamp);
                assertThat(body).isEqualTo(stream.body()).isEqualTo(format.body(2, timestamp));
                ParsedBatch batch = decode(format, body, timestamp);
                assertThat(batch.rejections()).isEmpty();
                assertThat(batch.samples()).hasSize(IngestBodies.SERIES);
                for (int s = 0; s < IngestBodies.SERIES; s++) {
                    ParsedBatch.Sample sample = batch.samples().get(s);
                    assertThat(sample.series().labels()).containsEntry("label0", "s" + (2 * IngestBodies.SERIES + s));
                    assertThat(sample.timestampMs()).isEqualTo(timestamp);
                    assertThat(sample.value()).isEqualTo((double) IngestBodies.value(2 * IngestBodies.SERIES + s, timestamp));
                }
            }
            assertThat(stream.requests()).isEqualTo(3);
        }
    }

    /** The wall clock leads once it is later than the last timestamp sent. */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aStreamFollowsTheWallClock(Format format) throws Exception {
        try (IngestBodies.Stream stream = new IngestBodies.Stream(format, 0, now - 60_000, "127.0.0.1", 8080, "sk_test")) {
            byte[] body = content(stream.next());
            assertThat(stream.last()).isBetween(now, System.currentTimeMillis());
            assertThat(decode(format, body, stream.last()).samples())
                    .allSatisfy(sample -> assertThat(sample.timestampMs()).isEqualTo(stream.last()));
        }
    }

    /** A request the connection is still writing is never written over: the next one goes into a fresh buffer. */
    @ParameterizedTest
    @EnumSource(Format.class)
    void aRequestStillBeingWrittenIsLeftAlone(Format format) {
        IngestBodies.Stream stream = new IngestBodies.Stream(format, 0, now, "127.0.0.1", 8080, "sk_test");
        ByteBuf first = stream.next();
        ByteBuf inFlight = first.retainedDuplicate();
        byte[] sent = ByteBufUtil.getBytes(inFlight);
        ByteBuf second = stream.next();
        assertThat(second).isNotSameAs(first);
        assertThat(ByteBufUtil.getBytes(inFlight)).isEqualTo(sent);
        assertThat(ByteBufUtil.getBytes(second)).isNotEqualTo(sent);
        inFlight.release();
        assertThat(first.refCnt()).isZero();
        stream.close();
        assertThat(second.refCnt()).isZero();
    }

    /** The body of one whole request as the gateway's HTTP decoder and aggregator read it. */
    private static byte[] content(ByteBuf request) {
        EmbeddedChannel channel = new EmbeddedChannel(new HttpRequestDecoder(), new HttpObjectAggregator(8 << 20));
        try {
            channel.writeInbound(request.retainedDuplicate());
            FullHttpRequest decoded = channel.readInbound();
            try {
                assertThat(decoded.decoderResult().isSuccess()).isTrue();
                assertThat((Object) channel.readInbound()).isNull();
                return ByteBufUtil.getBytes(decoded.content());
            } finally {
                decoded.release();
            }
        } finally {
            channel.finishAndReleaseAll();
        }
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void theRequestCarriesTheBodyAndTheFormatsHeaders(Format format) {
        byte[] body = format.body(0, now);
        byte[] request = HttpLoad.post("127.0.0.1", 8080, format.path(), format.authorization("sk_test") + format.headers(),
                body);
        EmbeddedChannel channel = new EmbeddedChannel(new HttpRequestDecoder(), new HttpObjectAggregator(8 << 20));
        try {
            channel.writeInbound(Unpooled.wrappedBuffer(request));
            FullHttpRequest decoded = channel.readInbound();
            try {
                assertThat(decoded.decoderResult().isSuccess()).isTrue();
                assertThat(decoded.uri()).isEqualTo(format.path());
                assertThat(decoded.headers().get("Authorization"))
                        .isEqualTo(format == Format.INFLUX ? "Token sk_test" : "Bearer sk_test");
                assertThat(decoded.headers().get("Content-Encoding"))
                        .isEqualTo(format == Format.REMOTE_WRITE ? "snappy" : null);
                if (format == Format.REMOTE_WRITE) {
                    assertThat(decoded.headers().get("Content-Type")).isEqualTo("application/x-protobuf");
                    assertThat(decoded.headers().get("X-Prometheus-Remote-Write-Version")).isEqualTo("0.1.0");
                }
                byte[] content = new byte[decoded.content().readableBytes()];
                decoded.content().readBytes(content);
                assertThat(content).isEqualTo(body);
            } finally {
                decoded.release();
            }
            assertThat((Object) channel.readInbound()).isNull();
        } finally {
            channel.finishAndReleaseAll();
        }
    }
}
