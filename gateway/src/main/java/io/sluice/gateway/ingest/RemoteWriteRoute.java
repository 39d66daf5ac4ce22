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
 * {@code POST /api/v1/write}: Prometheus remote_write 1.0 ({@link RemoteWriteDecoder}), through the same
 * admission, quotas, cardinality limit, in-flight limit and Kafka path as every other format
 * ({@link HttpIngestRoutes#admitSamples}); counted under {@code transport="remote_write"}.
 *
 * <p>Answers as a remote_write receiver must, so that a sender retries exactly what can succeed later:
 * <ul>
 *   <li>204: every sample is durable (exemplars dropped and metadata skipped count as success);</li>
 *   <li>400 {@code partial_write}: the valid samples are durable, the others were refused (too old, bad
 *       labels, cardinality limit, histograms): the sender must not resend them, as Prometheus' own
 *       receiver answers out-of-bounds samples; 400 {@code no_valid_items} when none was valid;</li>
 *   <li>400 {@code invalid_snappy}, {@code invalid_protobuf}: a body that is not a WriteRequest;
 *       413 {@code body_too_large}, {@code too_many_items}; 415 {@code unsupported_encoding},
 *       {@code unsupported_media_type}: not {@code Content-Encoding: snappy}, not
 *       {@code Content-Type: application/x-protobuf} (remote_write 2.0's {@code proto=io.prometheus.write.v2.Request}
 *       included, on which 2.0 senders fall back to 1.0);</li>
 *   <li>429 / 503 with {@code Retry-After}: throttled, saturated, or not durable; nothing was taken.</li>
 * </ul>
 */
public final class RemoteWriteRoute {

    public static final String PATH = io.sluice.gateway.http.RequestDecompressor.SNAPPY_PATH;
    /** The {@code transport} label of this format's counters. */
    public static final String TRANSPORT = "remote_write";
    private static final String PROTOBUF = "application/x-protobuf";
    private static final String WRITE_REQUEST_V1 = "prometheus.WriteRequest";

    private final RemoteWriteDecoder decoder;
    private final Admission admission;
    private final HttpIngestRoutes ingest;

    public RemoteWriteRoute(RemoteWriteDecoder decoder, Admission admission, HttpIngestRoutes ingest) {
        this.decoder = decoder;
        this.admission = admission;
        this.ingest = ingest;
    }

    public void write(HttpExchange exchange, Principal principal) {
        if (!headersFit(exchange)) {
            return;
        }
        RemoteWriteDecoder.Decoded decoded;
        try {
            decoded = decoder.decode(exchange.body());
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

    private boolean headersFit(HttpExchange exchange) {
        String encoding = exchange.headers().get(HttpHeaderNames.CONTENT_ENCODING);
        if (encoding == null || !encoding.trim().equalsIgnoreCase("snappy")) {
            admission.refused("unsupported_encoding", TRANSPORT, 1);
            exchange.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding",
                    "remote_write bodies must be sent with Content-Encoding: snappy (snappy block format), not "
                            + (encoding == null ? "none" : Admission.quote(encoding)));
            return false;
        }
        String type = exchange.headers().get(HttpHeaderNames.CONTENT_TYPE);
        if (type != null && !isWriteRequestV1(type)) {
            admission.refused("unsupported_media_type", TRANSPORT, 1);
            exchange.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "remote_write bodies must be Content-Type: " + PROTOBUF + " (a prometheus.WriteRequest, "
                            + "remote_write 1.0), not " + Admission.quote(type));
            return false;
        }
        return true;
    }

    /** {@code application/x-protobuf}, with no {@code proto} parameter or {@code proto=prometheus.WriteRequest}. */
    static boolean isWriteRequestV1(String contentType) {
        String[] parts = contentType.split(";");
        if (!parts[0].trim().equalsIgnoreCase(PROTOBUF)) {
            return false;
        }
        for (int i = 1; i < parts.length; i++) {
            String[] param = parts[i].split("=", 2);
            if (param[0].trim().toLowerCase(Locale.ROOT).equals("proto")
                    && (param.length < 2 || !param[1].trim().equals(WRITE_REQUEST_V1))) {
                return false;
            }
        }
        return true;
    }

    private static final HttpIngestRoutes.Answer ANSWER = new HttpIngestRoutes.Answer() {
        @Override
        public void noneValid(HttpExchange exchange, ParsedBatch batch) {
            exchange.error(HttpResponseStatus.BAD_REQUEST, "no_valid_items", "none of the " + batch.total()
                    + " samples and histograms was taken: " + summary(batch) + "; resending cannot succeed");
        }

        @Override
        public void durable(HttpExchange exchange, int accepted, ParsedBatch batch) {
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
