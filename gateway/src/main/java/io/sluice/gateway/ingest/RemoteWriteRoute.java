package io.sluice.gateway.ingest;

import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.storage.auth.Principal;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code POST /api/v1/write}: Prometheus remote_write 1.0 and 2.0 ({@link RemoteWriteDecoder}), through the same
 * admission, quotas, cardinality limit, in-flight limit and Kafka path as every other format
 * ({@link HttpIngestRoutes#admitSamples}); counted under {@code transport="remote_write"}.
 *
 * <p>Answers as a remote_write receiver must, so that a sender retries exactly what can succeed later:
 * <ul>
 *   <li>204: every sample is durable (exemplars dropped and metadata skipped count as success);</li>
 *   <li>400 {@code partial_write}: the valid samples are durable, the others were refused (too old, bad
 *       labels, cardinality limit, histograms): the sender must not resend them, as Prometheus' own
 *       receiver answers out-of-bounds samples; 400 {@code no_valid_items} when none was valid;</li>
 *   <li>400 {@code invalid_snappy}, {@code invalid_protobuf}: a body that is not the message its Content-Type
 *       names; 413 {@code body_too_large}, {@code too_many_items}; 415 {@code unsupported_encoding},
 *       {@code unsupported_media_type}: not {@code Content-Encoding: snappy}, or a Content-Type other than
 *       {@code application/x-protobuf} with no {@code proto} parameter or one of the two messages;</li>
 *   <li>429 / 503 with {@code Retry-After}: throttled, saturated, or not durable; nothing was taken.</li>
 * </ul>
 *
 * <p>The message is the Content-Type's {@code proto} parameter, as remote_write 2.0 negotiates it:
 * {@code prometheus.WriteRequest} (or none) is 1.0, {@code io.prometheus.write.v2.Request} is 2.0. Every answer to a
 * 2.0 request carries {@code X-Prometheus-Remote-Write-Samples-Written}, {@code -Histograms-Written} and
 * {@code -Exemplars-Written}: the samples that are durable (0 unless the answer is 204 or {@code partial_write}),
 * and 0 histograms and exemplars, which are never stored.
 */
public final class RemoteWriteRoute {

    public static final String PATH = io.sluice.gateway.http.RequestDecompressor.SNAPPY_PATH;
    /** The {@code transport} label of this format's counters. */
    public static final String TRANSPORT = "remote_write";
    private static final String PROTOBUF = "application/x-protobuf";
    static final String SAMPLES_WRITTEN = "X-Prometheus-Remote-Write-Samples-Written";
    static final String HISTOGRAMS_WRITTEN = "X-Prometheus-Remote-Write-Histograms-Written";
    static final String EXEMPLARS_WRITTEN = "X-Prometheus-Remote-Write-Exemplars-Written";

    private final RemoteWriteDecoder decoder;
    private final Admission admission;
    private final HttpIngestRoutes ingest;

    public RemoteWriteRoute(RemoteWriteDecoder decoder, Admission admission, HttpIngestRoutes ingest) {
        this.decoder = decoder;
        this.admission = admission;
        this.ingest = ingest;
    }

    public void write(HttpExchange exchange, Principal principal) {
        RemoteWriteDecoder.Version version = version(exchange);
        if (version == null) {
            return;
        }
        if (version == RemoteWriteDecoder.Version.V2) {
            exchange.responseHeaders().set(SAMPLES_WRITTEN, 0).set(HISTOGRAMS_WRITTEN, 0).set(EXEMPLARS_WRITTEN, 0);
        }
        RemoteWriteDecoder.Decoded decoded;
        try {
            decoded = decoder.decode(exchange.body(), version);
        } catch (MalformedBatchException e) {
            ingest.refuseWhole(exchange, e, TRANSPORT);
            return;
        }
        if (decoded.exemplars() > 0) {
            admission.refused(Refusal.UNSUPPORTED_EXEMPLAR, TRANSPORT, decoded.exemplars());
        }
        if (decoded.batch().total() == 0) {
            exchange.respond(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT));
            return;
        }
        ingest.admitSamples(exchange, principal, decoded.batch(), TRANSPORT, ANSWER);
    }

    /** The message the request's headers announce, or null once it has been answered 415. */
    private RemoteWriteDecoder.Version version(HttpExchange exchange) {
        String encoding = exchange.headers().get(HttpHeaderNames.CONTENT_ENCODING);
        if (encoding == null || !encoding.trim().equalsIgnoreCase("snappy")) {
            admission.refused("unsupported_encoding", TRANSPORT, 1);
            exchange.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding",
                    "remote_write bodies must be sent with Content-Encoding: snappy (snappy block format), not "
                            + (encoding == null ? "none" : Admission.quote(encoding)));
            return null;
        }
        String type = exchange.headers().get(HttpHeaderNames.CONTENT_TYPE);
        RemoteWriteDecoder.Version version = type == null ? RemoteWriteDecoder.Version.V1 : version(type);
        if (version == null) {
            admission.refused("unsupported_media_type", TRANSPORT, 1);
            exchange.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "remote_write bodies must be Content-Type: " + PROTOBUF + " with proto="
                            + RemoteWriteDecoder.Version.V1.message() + " (remote_write 1.0, also without proto) or proto="
                            + RemoteWriteDecoder.Version.V2.message() + " (2.0), not " + Admission.quote(type));
        }
        return version;
    }

    /**
     * The message a Content-Type names: {@code application/x-protobuf} with no {@code proto} parameter or
     * {@code proto=prometheus.WriteRequest} is 1.0, {@code proto=io.prometheus.write.v2.Request} 2.0; null for
     * anything else.
     */
    static RemoteWriteDecoder.Version version(String contentType) {
        String[] parts = contentType.split(";");
        if (!parts[0].trim().equalsIgnoreCase(PROTOBUF)) {
            return null;
        }
        RemoteWriteDecoder.Version version = RemoteWriteDecoder.Version.V1;
        for (int i = 1; i < parts.length; i++) {
            String[] param = parts[i].split("=", 2);
            if (param[0].trim().toLowerCase(Locale.ROOT).equals("proto")) {
                String proto = param.length < 2 ? "" : param[1].trim();
                version = null;
                for (RemoteWriteDecoder.Version v : RemoteWriteDecoder.Version.values()) {
                    if (v.message().equals(proto)) {
                        version = v;
                    }
                }
                if (version == null) {
                    return null;
                }
            }
        }
        return version;
    }

    private static final HttpIngestRoutes.Answer ANSWER = new HttpIngestRoutes.Answer() {
        @Override
        public void noneValid(HttpExchange exchange, ParsedBatch batch) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "no_valid_items", "none of the " + batch.total()
                    + " samples and histograms was taken: " + summary(batch) + "; resending cannot succeed");
        }

        @Override
        public void durable(HttpExchange exchange, int accepted, ParsedBatch batch) {
            if (exchange.responseHeaders().contains(SAMPLES_WRITTEN)) {
                exchange.responseHeaders().set(SAMPLES_WRITTEN, accepted);
            }
            if (batch.rejections().isEmpty()) {
                exchange.respond(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT));
                return;
            }
            exchange.error(HttpResponseStatus.BAD_REQUEST, "partial_write", accepted + " of the " + batch.total()
                    + " samples and histograms are stored; the others were refused: " + summary(batch)
                    + "; resending cannot succeed");
        }
    };

    /** The refusals by reason, then the first one's message: {@code too_old: 2, invalid_label: 1 (first: …)}. */
    private static String summary(ParsedBatch batch) {
        Map<String, Integer> byReason = new TreeMap<>();
        for (Rejection r : batch.rejections()) {
            byReason.merge(r.reason(), 1, Integer::sum);
        }
        StringBuilder out = new StringBuilder();
        byReason.forEach((reason, n) -> out.append(out.length() == 0 ? "" : ", ").append(reason).append(": ").append(n));
        Rejection first = batch.rejections().get(0);
        return out.append(" (first: item ").append(first.index()).append(", ").append(first.reason()).append(", ")
                .append(first.message()).append(')').toString();
    }
}
