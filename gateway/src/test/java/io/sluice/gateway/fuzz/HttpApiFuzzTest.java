package io.sluice.gateway.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.sluice.config.ConfigLoader;
import io.sluice.config.SluiceConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.RawHttp;
import io.sluice.gateway.GatewayRole;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Fuzzes the HTTP API of a real gateway (real Kafka and PostgreSQL, started once for the class) over a
 * keep-alive connection: the ingest bodies (metrics and events, plain or encoded), the query parameters of
 * every read route, the links API's bodies, and the alert notification APIs' bodies. Whatever the input, the answer must be a 2xx (a 3xx for a
 * redirect), or a 4xx in the API's one error shape: never a 5xx, never a closed connection without an
 * answer. Netty's leak detection (paranoid in tests) fails the class if any buffer leaked.
 *
 * <p>The first byte of an input picks the variant (its low three bits; the seeds use the digits '0'..'7'),
 * the rest is the payload. In a plain build this replays the seeds under {@code HttpApiFuzzTestInputs/};
 * {@code JAZZER_FUZZ=1} fuzzes one method (README, "Fuzzing the HTTP API").
 */
@RealInfrastructure
class HttpApiFuzzTest {

    private static GatewayRole sluice;
    private static String key;
    private static String linkCode;
    private static RawHttp http;

    @BeforeAll
    static void start(TestInfrastructure infra) throws IOException {
        Map<String, String> overrides = new HashMap<>();
        overrides.put("server.port", "0");
        overrides.put("tenants.enterprise.requests-per-minute", "100000000");
        overrides.put("tenants.enterprise.items-per-minute", "1000000000");
        overrides.put("links.redirects-per-minute-per-client", "100000000");
        SluiceConfig config = infra.configure(ConfigLoader.load(null, Map.of(), overrides));
        key = KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), "fuzz", Tier.ENTERPRISE);
        sluice = GatewayRole.start(config);
        http = new RawHttp(sluice.port());
        RawHttp.Response link = http.send("POST", "/api/v1/links", auth(),
                "{\"url\":\"https://example.com/fuzz\",\"alias\":\"fuzz-target\"}".getBytes(StandardCharsets.UTF_8));
        assertThat(link.status()).as(link.text()).isEqualTo(201);
        linkCode = "fuzz-target";
        RawHttp.Response receiver = http.send("POST", "/api/v1/alerts/receivers", auth(),
                "{\"name\":\"fuzz-receiver\",\"kind\":\"webhook\",\"url\":\"https://hooks.example.com/\"}"
                        .getBytes(StandardCharsets.UTF_8));
        assertThat(receiver.status()).as(receiver.text()).isEqualTo(201);
    }

    @AfterAll
    static void stop() throws IOException {
        if (http != null) {
            http.close();
        }
        if (sluice != null) {
            sluice.close();
        }
    }

    /** {@code POST /api/v1/ingest/metrics} and {@code …/events}, with each kind of body encoding. */
    @FuzzTest(maxDuration = "5m")
    void ingestBody(byte[] input) throws IOException {
        int variant = variant(input);
        byte[] payload = payload(input);
        String path = (variant & 1) == 0 ? "/api/v1/ingest/metrics" : "/api/v1/ingest/events";
        Map<String, String> headers = auth();
        headers.put("Content-Type", "application/json");
        byte[] body = payload;
        switch (variant) {
            case 2, 3 -> {
                headers.put("Content-Encoding", "gzip");
                body = compress(payload, true);
            }
            case 4 -> headers.put("Content-Encoding", "gzip"); // whatever the payload is
            case 5 -> headers.put("Content-Encoding", "br");
            case 6 -> {
                headers.put("Content-Encoding", "deflate");
                body = compress(payload, false);
            }
            case 7 -> headers.put("Content-Encoding", "identity");
            default -> {
            }
        }
        check("POST " + path + " variant " + variant, send("POST", path, headers, body), false);
    }

    /** The query parameters (and path segments) of every read route. */
    @FuzzTest(maxDuration = "5m")
    void queryParameters(byte[] input) throws IOException {
        int variant = variant(input);
        String q = requestTarget(payload(input));
        String target = switch (variant) {
            case 0 -> "/api/v1/query?" + q;
            case 1 -> "/api/v1/query?metric=fuzz.metric&" + q;
            case 2 -> "/api/v1/series?" + q;
            case 3 -> "/api/v1/events?" + q;
            case 4 -> "/api/v1/labels/" + q + "/values";
            case 5 -> "/api/v1/links?" + q;
            case 6 -> "/api/v1/links/" + linkCode + "/stats?" + q;
            default -> "/" + q;
        };
        check("GET " + target, send("GET", target, auth(), null), variant == 7);
    }

    /** {@code POST /api/v1/links} and {@code PATCH /api/v1/links/{code}} bodies. */
    @FuzzTest(maxDuration = "5m")
    void linksBody(byte[] input) throws IOException {
        boolean patch = (variant(input) & 1) == 1;
        Map<String, String> headers = auth();
        headers.put("Content-Type", "application/json");
        String method = patch ? "PATCH" : "POST";
        String path = patch ? "/api/v1/links/" + linkCode : "/api/v1/links";
        check(method + " " + path, send(method, path, headers, payload(input)), false);
    }

    /** The alert notification APIs' bodies: receivers (POST, PUT), routes (PUT), silences (POST). */
    @FuzzTest(maxDuration = "5m")
    void alertingBody(byte[] input) throws IOException {
        String[] target = switch (variant(input) & 3) {
            case 0 -> new String[] {"POST", "/api/v1/alerts/receivers"};
            case 1 -> new String[] {"PUT", "/api/v1/alerts/receivers/fuzz-receiver"};
            case 2 -> new String[] {"PUT", "/api/v1/alerts/routes"};
            default -> new String[] {"POST", "/api/v1/alerts/silences"};
        };
        Map<String, String> headers = auth();
        headers.put("Content-Type", "application/json");
        check(target[0] + " " + target[1], send(target[0], target[1], headers, payload(input)), false);
    }

    private static void check(String request, RawHttp.Response response, boolean redirectsAllowed) {
        int status = response.status();
        if (status >= 200 && status < 300
                || redirectsAllowed && (status == 301 || status == 302 || status == 307 || status == 308)) {
            return;
        }
        if (status < 400 || status >= 500) {
            fail(request + " got " + status + ": " + response.text());
        }
        response.assertErrorShape(null);
    }

    private static RawHttp.Response send(String method, String target, Map<String, String> headers, byte[] body)
            throws IOException {
        try {
            return http.send(method, target, headers, body);
        } catch (EOFException e) {
            throw new AssertionError(method + " " + target + " got no answer (connection closed)", e);
        }
    }

    private static int variant(byte[] input) {
        return input.length == 0 ? 0 : input[0] & 7;
    }

    private static byte[] payload(byte[] input) {
        return input.length == 0 ? input : Arrays.copyOfRange(input, 1, input.length);
    }

    /** The bytes as they go on the request line: raw, except those that would end or break it. */
    private static String requestTarget(byte[] bytes) {
        StringBuilder s = new StringBuilder(bytes.length);
        for (byte b : bytes) {
            int c = b & 0xff;
            if (c <= 0x20 || c == 0x7f) {
                s.append('%').append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 0xf, 16));
            } else {
                s.append((char) c); // sent as ISO-8859-1, i.e. this very byte
            }
        }
        return s.toString();
    }

    private static byte[] compress(byte[] payload, boolean gzip) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream z = gzip ? new GZIPOutputStream(out) : new DeflaterOutputStream(out)) {
            z.write(payload);
        }
        return out.toByteArray();
    }

    private static Map<String, String> auth() {
        Map<String, String> headers = new HashMap<>();
        headers.put("Authorization", "Bearer " + key);
        return headers;
    }
}
