package io.sluice.gateway;

import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;
import io.opentelemetry.proto.metrics.v1.Gauge;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import io.opentelemetry.proto.metrics.v1.ScopeMetrics;
import io.r2dbc.pool.ConnectionPool;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.postgres.PostgresConnections;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * OTLP ingest is acknowledged only once durable, and a gateway with too much in flight answers 503 with
 * {@code Retry-After} (which OTLP clients retry): Kafka's acknowledgements are held at a {@link GatedSink}.
 */
@RealInfrastructure
class OtlpBackpressureTest {

    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void anOtlpExportIsAnsweredOnlyWhenDurableAndA503WithRetryAfterWhileSaturated(TestInfrastructure infra)
            throws Exception {
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), Map.of("server.port", "0",
                "ingest.max-in-flight-items", "5")));
        String key;
        ConnectionPool pool = PostgresConnections.pool(config.postgres());
        try {
            key = KeysCommand.create(new ApiKeyStore(pool), "otlp-flow", Tier.ENTERPRISE);
        } finally {
            pool.dispose();
        }
        GatedSink[] gate = new GatedSink[1];
        try (GatewayRole sluice = GatewayRole.start(config, sink -> gate[0] = new GatedSink(sink))) {
            gate[0].shut();
            long now = System.currentTimeMillis();
            CompletableFuture<HttpResponse<byte[]>> first = send(sluice, key, request("flow.a", now, 5));
            await().atMost(Duration.ofSeconds(30)).until(() -> gate[0].waiting() > 0);
            assertThat(first).as("not answered before Kafka acknowledged").isNotDone();

            HttpResponse<byte[]> refused = send(sluice, key, request("flow.b", now, 1)).get(30, TimeUnit.SECONDS);
            assertThat(refused.statusCode()).isEqualTo(503);
            assertThat(refused.headers().firstValue("retry-after")).hasValue("1");
            assertThat(new String(refused.body(), java.nio.charset.StandardCharsets.UTF_8))
                    .contains("\"code\":\"saturated\"");
            assertThat(sluice.meterRegistry().find("sluice_ingest_rejected").tag("reason", "saturated")
                    .tag("transport", "otlp").counter().count()).isEqualTo(1.0);

            gate[0].open();
            HttpResponse<byte[]> acked = first.get(30, TimeUnit.SECONDS);
            assertThat(acked.statusCode()).isEqualTo(200);
            assertThat(ExportMetricsServiceResponse.parseFrom(acked.body()).hasPartialSuccess()).isFalse();
            HttpResponse<byte[]> retried = send(sluice, key, request("flow.b", now, 1)).get(30, TimeUnit.SECONDS);
            assertThat(retried.statusCode()).isEqualTo(200);
            assertThat(sluice.meterRegistry().find("sluice_ingest_accepted").tag("transport", "otlp").counter().count())
                    .isEqualTo(6.0);
        }
    }

    private static ExportMetricsServiceRequest request(String name, long timeMs, int points) {
        Gauge.Builder gauge = Gauge.newBuilder();
        for (int i = 0; i < points; i++) {
            gauge.addDataPoints(NumberDataPoint.newBuilder().setTimeUnixNano((timeMs + i) * 1_000_000L).setAsDouble(i));
        }
        return ExportMetricsServiceRequest.newBuilder().addResourceMetrics(ResourceMetrics.newBuilder()
                .addScopeMetrics(ScopeMetrics.newBuilder().addMetrics(Metric.newBuilder().setName(name).setGauge(gauge))))
                .build();
    }

    private static CompletableFuture<HttpResponse<byte[]>> send(GatewayRole sluice, String key,
                                                               ExportMetricsServiceRequest request) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + "/v1/metrics"))
                .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/x-protobuf")
                .header("Authorization", "Bearer " + key)
                .POST(HttpRequest.BodyPublishers.ofByteArray(request.toByteArray())).build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }
}
