package io.sluice.gateway;

import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The line-protocol routes answer only once Kafka acknowledged, and answer 503 with {@code Retry-After} while the
 * gateway has too much in flight, as the JSON route does (Kafka's acknowledgements held back by {@link GatedSink}).
 */
@RealInfrastructure
class LineProtocolBackpressureTest {

    private static final HttpClient http = HttpClient.newHttpClient();
    private static GatewayRole sluice;
    private static GatedSink gate;
    private static String key;

    @BeforeAll
    static void start(TestInfrastructure infra) {
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("ingest.max-in-flight-items", "4");
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()),
                "lpflow-" + UUID.randomUUID().toString().substring(0, 8), Tier.ENTERPRISE);
        sluice = GatewayRole.start(config, sink -> gate = new GatedSink(sink));
    }

    @AfterAll
    static void stop() {
        if (sluice != null) {
            gate.open();
            sluice.close();
        }
    }

    @Test
    void theAnswerWaitsForKafkaAndASaturatedGatewayAnswers503() throws Exception {
        gate.shut();
        CompletableFuture<HttpResponse<String>> first = write("/api/v2/write?bucket=b",
                "lp_flow,h=a x=1,y=2,z=3,w=4\n");
        await().atMost(Duration.ofSeconds(10)).until(() -> gate.waiting() > 0);
        assertThat(first).as("not durable yet, so not answered").isNotDone();

        HttpResponse<String> saturated = write("/write?db=d", "lp_flow,h=b x=1\n").get();
        assertThat(saturated.statusCode()).as(saturated.body()).isEqualTo(503);
        assertThat(saturated.headers().firstValue("retry-after")).hasValue("1");
        assertThat(saturated.body()).contains("\"code\":\"saturated\"", "ingest.max-in-flight-items");
        var rejected = sluice.meterRegistry().find("sluice_ingest_rejected").tag("reason", "saturated")
                .tag("transport", "influx").counter();
        assertThat(rejected).isNotNull();
        assertThat(rejected.count()).isEqualTo(1);

        gate.open();
        HttpResponse<String> answer = first.get();
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(204);
        assertThat(write("/write?db=d", "lp_flow,h=b x=1\n").get().statusCode()).isEqualTo(204);
    }

    private static CompletableFuture<HttpResponse<String>> write(String path, String body) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sluice.port() + path))
                        .header("Authorization", "Token " + key).timeout(Duration.ofSeconds(60))
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
