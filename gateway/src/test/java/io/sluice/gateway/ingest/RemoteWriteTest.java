package io.sluice.gateway.ingest;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.spi.Connection;
import io.r2dbc.spi.ConnectionFactory;
import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.KafkaTopicReader;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.sluice.storage.writer.WriterRole;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.zip.GZIPOutputStream;

import static io.sluice.gateway.ingest.PrometheusWrites.STALE_NAN;
import static io.sluice.gateway.ingest.PrometheusWrites.request;
import static io.sluice.gateway.ingest.PrometheusWrites.snappy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code POST /api/v1/write} end to end on a real gateway and writer (real Kafka and PostgreSQL): requests as a
 * Prometheus server sends them, read back through {@code GET /api/v1/query} with their exact values (the
 * staleness NaN and the infinities included); every bad input answered with its status and counted, and
 * nothing of it stored.
 */
@RealInfrastructure
class RemoteWriteTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static GatewayRole sluice;
    private static WriterRole writer;
    private static ConnectionFactory postgres;
    private static String bootstrap;
    private static String tenant;
    private static String key;
    private static String badTenant;
    private static String badKey;
    private static String freeKey;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        sluice = GatewayRole.start(infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "ingest.max-items-per-request", "1000", "ingest.max-labels", "8",
                "tenants.free.requests-per-minute", "100000", "tenants.free.items-per-minute", "5"))));
        writer = WriterRole.start(sluice.config(), new SimpleMeterRegistry());
        postgres = infra.connectionFactory();
        bootstrap = infra.bootstrapServers();
        ApiKeyStore keys = new ApiKeyStore(postgres);
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        tenant = "prom-" + suffix;
        key = KeysCommand.create(keys, tenant, Tier.ENTERPRISE);
        badTenant = "prombad-" + suffix;
        badKey = KeysCommand.create(keys, badTenant, Tier.ENTERPRISE);
        freeKey = KeysCommand.create(keys, "promfree-" + suffix, Tier.FREE);
    }

    @AfterAll
    static void stop() {
        if (writer != null) {
            writer.close();
        }
        if (sluice != null) {
            sluice.close();
        }
    }

    @Test
    void samplesArriveWithTheirExactValuesAtTheQueryApi() throws Exception {
        long minute = Math.floorDiv(System.currentTimeMillis() - 3 * 60_000, 60_000L) * 60_000L;
        long at = minute + 1_000;
        double[] values = {0.5, -1.25e300, STALE_NAN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 42};
        PrometheusWrites.Request write = request();
        for (int i = 0; i < values.length; i++) {
            PrometheusWrites.Series series = write.series("__name__", "rw_roundtrip", "instance", "host-a:9100",
                    "job", "node", "k", "s" + i).sample(at + i, values[i]);
            if (i == 0) {
                series.exemplar(at, 0.5, "4bf92f3577b34da6a3ce929d0e0e4736");
            }
            series.end();
        }
        write.metadata("rw_roundtrip", "a test gauge");
        double exemplarsBefore = counter("sluice_ingest_rejected", "reason", "unsupported_exemplar");
        double acceptedBefore = counter("sluice_ingest_accepted", "kind", "samples");

        HttpResponse<String> response = send(key, write.body());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(204);
        assertThat(response.body()).isEmpty();
        assertThat(counter("sluice_ingest_accepted", "kind", "samples") - acceptedBefore).isEqualTo(6);
        assertThat(counter("sluice_ingest_rejected", "reason", "unsupported_exemplar") - exemplarsBefore).isEqualTo(1);

        // queried only once everything is stored, so that no answer of a partial state is cached
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(count("SELECT coalesce(sum(c.samples), 0) "
                + "FROM sample_chunks c JOIN series s ON s.id = c.series_id WHERE s.tenant = '" + tenant + "'"))
                .isEqualTo(6));
        HttpResponse<String> query = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port()
                        + "/api/v1/query?metric=rw_roundtrip&agg=max&step=10s&from=" + Instant.ofEpochMilli(minute)
                        + "&to=" + Instant.ofEpochMilli(minute + 60_000)))
                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(query.statusCode()).as(query.body()).isEqualTo(200);
        for (int i = 0; i < values.length; i++) {
            assertThat(query.body()).contains("{\"labels\":{\"instance\":\"host-a:9100\",\"job\":\"node\",\"k\":\"s" + i
                    + "\"},\"points\":[[" + minute + "," + wire(values[i]) + "]]}");
        }
    }

    @Test
    void aV2RequestIsStoredAndAnsweredWithTheWrittenCountsRemoteWrite2Requires() throws Exception {
        long minute = Math.floorDiv(System.currentTimeMillis() - 3 * 60_000, 60_000L) * 60_000L;
        long at = minute + 2_000;
        PrometheusWritesV2.Request write = PrometheusWritesV2.request();
        write.series("__name__", "rw2_roundtrip", "job", "node", "k", "a").metadata("help", "seconds", at - 60_000)
                .sample(at, 1.5).sample(at + 1, 2.5).exemplar(at, 1.5, "trace-1").end();
        write.series("__name__", "rw2_roundtrip", "job", "node", "k", "b").sample(at, STALE_NAN).end();
        HttpResponse<String> response = sendV2(key, write.body());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(204);
        assertThat(response.headers().firstValue(RemoteWriteRoute.SAMPLES_WRITTEN)).hasValue("3");
        assertThat(response.headers().firstValue(RemoteWriteRoute.HISTOGRAMS_WRITTEN)).hasValue("0");
        assertThat(response.headers().firstValue(RemoteWriteRoute.EXEMPLARS_WRITTEN)).hasValue("0");

        // a series whose references name no symbol is refused; the others are written and counted as written
        PrometheusWritesV2.Request partial = PrometheusWritesV2.request();
        partial.series("__name__", "rw2_roundtrip", "job", "node", "k", "c").sample(at, 7).end();
        partial.series("__name__", "rw2_roundtrip").refs(1, 999).sample(at, 8).end();
        partial.series("__name__", "rw2_roundtrip", "job", "node", "k", "d").histogram(at, 4, 2).end();
        double refusedBefore = counter("sluice_ingest_rejected", "reason", "invalid_label");
        HttpResponse<String> mixed = sendV2(key, partial.body());
        assertThat(mixed.statusCode()).as(mixed.body()).isEqualTo(400);
        assertThat(mixed.body()).contains("\"code\":\"partial_write\"").contains("refers to symbol 999");
        assertThat(mixed.headers().firstValue(RemoteWriteRoute.SAMPLES_WRITTEN)).hasValue("1");
        assertThat(mixed.headers().firstValue(RemoteWriteRoute.HISTOGRAMS_WRITTEN)).hasValue("0");
        assertThat(counter("sluice_ingest_rejected", "reason", "invalid_label") - refusedBefore).isEqualTo(1);

        // a body that is not a 2.0 Request: nothing written, and the headers say so
        HttpResponse<String> broken = sendV2(key, snappy(new byte[] {0x2a, 0x05, 0x01}));
        assertThat(broken.statusCode()).as(broken.body()).isEqualTo(400);
        assertThat(broken.body()).contains("invalid_protobuf").contains("io.prometheus.write.v2.Request");
        assertThat(broken.headers().firstValue(RemoteWriteRoute.SAMPLES_WRITTEN)).hasValue("0");

        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(count("SELECT coalesce(sum(c.samples), 0) "
                + "FROM sample_chunks c JOIN series s ON s.id = c.series_id WHERE s.tenant = '" + tenant
                + "' AND s.name = 'rw2_roundtrip'")).isEqualTo(4));
        HttpResponse<String> query = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port()
                        + "/api/v1/query?metric=rw2_roundtrip&agg=sum&step=10s&from=" + Instant.ofEpochMilli(minute)
                        + "&to=" + Instant.ofEpochMilli(minute + 60_000)))
                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(query.statusCode()).as(query.body()).isEqualTo(200);
        assertThat(query.body())
                .contains("{\"labels\":{\"job\":\"node\",\"k\":\"a\"},\"points\":[[" + minute + ",4.0]]}")
                .contains("{\"labels\":{\"job\":\"node\",\"k\":\"b\"},\"points\":[[" + minute + ",\"NaN\"]]}")
                .contains("{\"labels\":{\"job\":\"node\",\"k\":\"c\"},\"points\":[[" + minute + ",7.0]]}");
    }

    /** One bad input: its body and headers, the answer it must get, and what it must count. */
    private record Bad(String what, byte[] body, String encoding, String type, int status, String code,
                       String reason, int counted) {
    }

    @Test
    void badInputIsAnsweredWithItsStatusCountedAndNothingOfItIsStored() throws Exception {
        long now = System.currentTimeMillis();
        byte[] good = request().series("__name__", "rw_bad", "k", "v").sample(now, 1).end().protobuf();
        byte[] unknownFields = PrometheusWrites.concat(good, RemoteWriteDecoderTest.message(o -> {
            o.writeString(2, "reserved");
            o.writeUInt64(15, 7);
        }));
        PrometheusWrites.Series many = request().series("__name__", "rw_bad", "k", "many");
        for (int i = 0; i < 1001; i++) {
            many.sample(now, i);
        }
        String labels = "a b c d e f g h i";
        List<String> nine = new ArrayList<>(List.of("__name__", "rw_bad"));
        for (String l : labels.split(" ")) {
            nine.add(l);
            nine.add("1");
        }
        List<Bad> table = List.of(
                new Bad("truncated protobuf", snappy(java.util.Arrays.copyOf(good, good.length - 2)), "snappy",
                        "application/x-protobuf", 400, "invalid_protobuf", "invalid_protobuf", 1),
                new Bad("not snappy", good, "snappy", "application/x-protobuf", 400, "invalid_snappy", "invalid_snappy", 1),
                new Bad("truncated snappy", java.util.Arrays.copyOf(snappy(good), snappy(good).length - 4), "snappy",
                        "application/x-protobuf", 400, "invalid_snappy", "invalid_snappy", 1),
                new Bad("a 1 GiB snappy header", new byte[] {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x04, 0},
                        "snappy", "application/x-protobuf", 413, "body_too_large", "body_too_large", 1),
                new Bad("no Content-Encoding", snappy(good), null, "application/x-protobuf", 415, "unsupported_encoding",
                        "unsupported_encoding", 1),
                new Bad("gzip instead of snappy", gzip(good), "gzip", "application/x-protobuf", 415,
                        "unsupported_encoding", "unsupported_encoding", 1),
                new Bad("JSON content type", snappy(good), "snappy", "application/json", 415, "unsupported_media_type",
                        "unsupported_media_type", 1),
                new Bad("an unknown proto", snappy(good), "snappy", "application/x-protobuf;proto=io.prometheus.write.v3.Request",
                        415, "unsupported_media_type", "unsupported_media_type", 1),
                new Bad("too many samples", many.end().body(), "snappy", "application/x-protobuf", 413,
                        "too_many_items", "too_many_items", 1),
                new Bad("too many labels", request().series(nine.toArray(String[]::new)).sample(now, 1).sample(now, 2).end()
                        .body(), "snappy", "application/x-protobuf", 400, "no_valid_items", "too_many_labels", 2),
                new Bad("duplicate label names", request().series("__name__", "rw_bad", "a", "1", "a", "2").sample(now, 1)
                        .end().body(), "snappy", "application/x-protobuf", 400, "no_valid_items", "invalid_label", 1),
                new Bad("a histogram", request().series("__name__", "rw_bad").histogram(now, 3, 1.5).end().body(), "snappy",
                        "application/x-protobuf", 400, "no_valid_items", "unsupported_histogram", 1),
                new Bad("too old", request().series("__name__", "rw_bad").sample(now - Duration.ofHours(2).toMillis(), 1)
                        .end().body(), "snappy", "application/x-protobuf", 400, "no_valid_items", "too_old", 1),
                new Bad("too new", request().series("__name__", "rw_bad").sample(now + Duration.ofHours(1).toMillis(), 1)
                        .end().body(), "snappy", "application/x-protobuf", 400, "no_valid_items", "too_new", 1));
        for (Bad bad : table) {
            double before = counter("sluice_ingest_rejected", "reason", bad.reason());
            HttpResponse<String> response = send(badKey, bad.body(), bad.encoding(), bad.type());
            assertThat(response.statusCode()).as(bad.what() + ": " + response.body()).isEqualTo(bad.status());
            assertThat(response.body()).as(bad.what()).startsWith("{\"error\":{\"status\":" + bad.status()
                    + ",\"code\":\"" + bad.code() + "\"");
            assertThat(counter("sluice_ingest_rejected", "reason", bad.reason()) - before).as(bad.what())
                    .isEqualTo(bad.counted());
        }

        // partial: the good sample is stored, the others refused, and the sender told not to resend
        double tooOld = counter("sluice_ingest_rejected", "reason", "too_old");
        HttpResponse<String> partial = send(badKey, request().series("__name__", "rw_partial", "k", "v")
                .sample(now - Duration.ofHours(2).toMillis(), 1).sample(now, 2).sample(now - Duration.ofHours(3).toMillis(), 3)
                .end().body());
        assertThat(partial.statusCode()).as(partial.body()).isEqualTo(400);
        assertThat(partial.body()).contains("\"code\":\"partial_write\"", "1 of the 3 samples and histograms are stored",
                "too_old: 2", "first: item 0, too_old");
        assertThat(counter("sluice_ingest_rejected", "reason", "too_old") - tooOld).isEqualTo(2);

        // unknown fields are skipped, as protobuf requires; metadata alone is a success with nothing to store
        HttpResponse<String> unknown = send(badKey, snappy(unknownFields));
        assertThat(unknown.statusCode()).as(unknown.body()).isEqualTo(204);
        HttpResponse<String> metadata = send(badKey, request().metadata("rw_bad", "help").body());
        assertThat(metadata.statusCode()).as(metadata.body()).isEqualTo(204);

        // snappy is refused on every other route, by the edge
        HttpResponse<String> elsewhere = http.send(HttpRequest.newBuilder(uri("/api/v1/ingest/metrics"))
                .header("Authorization", "Bearer " + badKey).header("Content-Encoding", "snappy")
                .POST(HttpRequest.BodyPublishers.ofByteArray(snappy("{\"samples\":[]}".getBytes()))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(elsewhere.statusCode()).isEqualTo(415);

        List<KafkaTopicReader.Item> stored = KafkaTopicReader.readAll(bootstrap, "sluice.metrics").stream()
                .filter(item -> item.tenant().equals(badTenant)).toList();
        assertThat(stored).extracting(KafkaTopicReader.Item::name, KafkaTopicReader.Item::value).containsExactlyInAnyOrder(
                org.assertj.core.groups.Tuple.tuple("rw_partial", 2.0), org.assertj.core.groups.Tuple.tuple("rw_bad", 1.0));
    }

    @Test
    void aSpentQuotaIsAnswered429WithRetryAfterSoThatTheSenderRetries() throws Exception {
        long now = System.currentTimeMillis();
        byte[] four = request().series("__name__", "rw_quota").sample(now - 3, 1).sample(now - 2, 2).sample(now - 1, 3)
                .sample(now, 4).end().body();
        double before = counter("sluice_ingest_rejected", "reason", "item_quota");
        assertThat(send(freeKey, four).statusCode()).isEqualTo(204);
        HttpResponse<String> throttled = send(freeKey, four);
        assertThat(throttled.statusCode()).as(throttled.body()).isEqualTo(429);
        assertThat(throttled.headers().firstValue("retry-after")).isPresent();
        assertThat(throttled.body()).contains("\"code\":\"rate_limited\"");
        assertThat(counter("sluice_ingest_rejected", "reason", "item_quota") - before).isEqualTo(4);
    }

    // ---- helpers -------------------------------------------------------------------------------------

    private static HttpResponse<String> send(String apiKey, byte[] body) throws Exception {
        return send(apiKey, body, "snappy", "application/x-protobuf");
    }

    /** As Prometheus sends: its headers, the given encoding and type (none when null). */
    private static HttpResponse<String> send(String apiKey, byte[] body, String encoding, String type) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri("/api/v1/write")).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + apiKey).header("User-Agent", "Prometheus/3.5.0")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (encoding != null) {
            request.header("Content-Encoding", encoding);
        }
        if (type != null) {
            request.header("Content-Type", type);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** As a remote_write 2.0 sender sends. */
    private static HttpResponse<String> sendV2(String apiKey, byte[] body) throws Exception {
        return http.send(HttpRequest.newBuilder(uri("/api/v1/write")).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + apiKey).header("User-Agent", "Prometheus/3.5.0")
                .header("X-Prometheus-Remote-Write-Version", "2.0.0").header("Content-Encoding", "snappy")
                .header("Content-Type", PrometheusWritesV2.CONTENT_TYPE)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + sluice.port() + path);
    }

    /** The remote_write counter with this tag (its transport is always {@code remote_write}). */
    private static double counter(String name, String tag, String value) {
        var c = sluice.meterRegistry().find(name).tag(tag, value).tag("transport", RemoteWriteRoute.TRANSPORT).counter();
        return c == null ? 0 : c.count();
    }

    private static byte[] gzip(byte[] raw) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(raw);
        }
        return out.toByteArray();
    }

    private static String wire(double v) {
        if (Double.isNaN(v)) {
            return "\"NaN\"";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "\"+Inf\"" : "\"-Inf\"";
        }
        return Double.toString(v);
    }

    private static long count(String sql) {
        return Mono.usingWhen(postgres.create(), (Connection c) -> Flux.from(c.createStatement(sql).execute())
                .flatMap(r -> r.map(row -> ((Number) row.get(0)).longValue())).next(), Connection::close)
                .block(Duration.ofSeconds(30));
    }
}
