package io.sluice.gateway.ingest;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsPartialSuccess;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.storage.auth.Principal;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code POST /v1/metrics}: OTLP/HTTP metrics, in protobuf ({@code application/x-protobuf}) or OTLP/JSON
 * ({@code application/json}).
 *
 * <p>Answers 200 with an {@code ExportMetricsServiceResponse} in the request's encoding only after the
 * accepted samples are durable; data points refused one by one are counted in its {@code partial_success}
 * ({@code rejected_data_points}, and an {@code error_message} naming the reasons). 400 for a body that does
 * not decode or when no data point is valid, 413 for too many samples, 415 for another content type, 429
 * when the tenant's item quota is spent, 503 with {@code Retry-After} when the gateway has too much in
 * flight or the samples could not be made durable (OTLP clients retry 429 and 503). Errors use Sluice's
 * error shape in JSON. Every rule and gate is {@link Admission}'s, applied as for {@code /api/v1/ingest/metrics};
 * counters carry {@code transport="otlp"}.
 */
public final class OtlpRoutes {

    public static final String TRANSPORT = "otlp";
    /** Longest {@code error_message} of a partial success, in characters. */
    private static final int MAX_ERROR_MESSAGE = 1024;

    private final OtlpMetricsDecoder decoder;
    private final HttpIngestRoutes ingest;
    private final Admission admission;

    public OtlpRoutes(OtlpMetricsDecoder decoder, HttpIngestRoutes ingest, Admission admission) {
        this.decoder = decoder;
        this.ingest = ingest;
        this.admission = admission;
    }

    public void metrics(HttpExchange exchange, Principal principal) {
        String contentType = exchange.headers().get(HttpHeaderNames.CONTENT_TYPE);
        OtlpMetricsDecoder.Format format = OtlpMetricsDecoder.Format.of(contentType);
        if (format == null) {
            admission.refused("unsupported_media_type", TRANSPORT, 1);
            exchange.error(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "OTLP/HTTP metrics take Content-Type application/x-protobuf or application/json, not "
                            + (contentType == null ? "none" : Admission.quote(contentType)));
            return;
        }
        ParsedBatch batch;
        try {
            batch = decoder.decode(exchange.body(), format);
        } catch (MalformedBatchException e) {
            ingest.refuseWhole(exchange, e, TRANSPORT);
            return;
        }

        // one admission path: HttpIngestRoutes#admitSamples applies every gate, counts, and answers once durable
        ingest.admitSamples(exchange, principal, batch, TRANSPORT, new HttpIngestRoutes.Answer() {
            @Override
            public void durable(HttpExchange exchange, int accepted, ParsedBatch checked) {
                respond(exchange, format, response(checked.rejections()));
            }

            @Override
            public void noneValid(HttpExchange exchange, ParsedBatch checked) {
                if (checked.rejections().isEmpty()) { // an empty request: nothing to store, nothing refused
                    respond(exchange, format, ExportMetricsServiceResponse.getDefaultInstance());
                    return;
                }
                exchange.error(HttpResponseStatus.BAD_REQUEST, "no_valid_items", "none of the " + checked.total()
                        + " data points is valid: " + summary(checked.rejections()));
            }
        });
    }

    /** The answer to a request of which {@code rejections} (sorted by index) were refused. */
    static ExportMetricsServiceResponse response(List<Rejection> rejections) {
        if (rejections.isEmpty()) {
            return ExportMetricsServiceResponse.getDefaultInstance();
        }
        return ExportMetricsServiceResponse.newBuilder().setPartialSuccess(ExportMetricsPartialSuccess.newBuilder()
                .setRejectedDataPoints(rejections.size()).setErrorMessage(summary(rejections))).build();
    }

    /** The counts by reason, then the first refused point's index and message. */
    static String summary(List<Rejection> rejections) {
        Map<String, Integer> byReason = new TreeMap<>();
        for (Rejection r : rejections) {
            byReason.merge(r.reason(), 1, Integer::sum);
        }
        StringBuilder out = new StringBuilder().append(rejections.size()).append(" data points refused (");
        byReason.forEach((reason, n) -> out.append(reason).append(": ").append(n).append(", "));
        out.setLength(out.length() - 2);
        Rejection first = rejections.get(0);
        out.append("); first, data point ").append(first.index()).append(": ").append(first.message());
        return out.length() <= MAX_ERROR_MESSAGE ? out.toString() : out.substring(0, MAX_ERROR_MESSAGE - 3) + "...";
    }

    private static void respond(HttpExchange exchange, OtlpMetricsDecoder.Format format,
                                ExportMetricsServiceResponse response) {
        if (format == OtlpMetricsDecoder.Format.PROTOBUF) {
            exchange.respond(HttpResponseStatus.OK, format.contentType(), Unpooled.wrappedBuffer(response.toByteArray()));
            return;
        }
        String json;
        try {
            json = JsonFormat.printer().omittingInsignificantWhitespace().print(response);
        } catch (InvalidProtocolBufferException e) {
            exchange.internalError(e); // a message of known types always prints
            return;
        }
        exchange.respond(HttpResponseStatus.OK, format.contentType(), Unpooled.copiedBuffer(json, StandardCharsets.UTF_8));
    }
}
