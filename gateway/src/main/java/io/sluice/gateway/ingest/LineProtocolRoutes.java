package io.sluice.gateway.ingest;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.sluice.gateway.http.ApiErrors;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.storage.auth.Principal;

import java.util.List;
import java.util.Map;

/**
 * InfluxDB line protocol: {@code POST /write} (the 1.x API: {@code db} required, {@code precision} one of
 * {@code ns us ms s}, or 1.x's {@code n u m h}) and {@code POST /api/v2/write} (the 2.x API: {@code bucket} required,
 * {@code org} accepted, {@code precision} one of {@code ns us ms s}). The database, bucket and organisation are
 * not used: the API key names the tenant. The body is decoded by {@link LineProtocolParser} and admitted by
 * {@link HttpIngestRoutes#admitSamples}, as every format is.
 *
 * <p>Answers as InfluxDB does: 204 once every point is durable; 400 {@code invalid_line} when a line was refused,
 * naming the first refused line (its number and why) — the other lines are still written, and the answer comes
 * only once they are durable; 400 {@code invalid_precision} / {@code missing_database} / {@code missing_bucket};
 * 413 {@code too_many_items}; and the answers every ingest route gives (401, 429, 503 with {@code Retry-After}).
 * Every error is in the API's one error shape; the 400 answers decided here also carry InfluxDB 2's
 * {@code "code": "invalid"} and {@code "message"} beside {@code error}, which its clients read. Counted under
 * {@code transport="influx"}, one rejection per refused line, string fields under {@code reason="string_field"}.
 */
public final class LineProtocolRoutes {

    /** The {@code transport} tag of this format's counters. */
    public static final String TRANSPORT = "influx";

    private final LineProtocolParser parser;
    private final HttpIngestRoutes ingest;
    private final Admission admission;

    public LineProtocolRoutes(LineProtocolParser parser, HttpIngestRoutes ingest, Admission admission) {
        this.parser = parser;
        this.ingest = ingest;
        this.admission = admission;
    }

    /** {@code POST /write}. */
    public void v1(HttpExchange exchange, Principal principal) {
        write(exchange, principal, true);
    }

    /** {@code POST /api/v2/write}. */
    public void v2(HttpExchange exchange, Principal principal) {
        write(exchange, principal, false);
    }

    private void write(HttpExchange exchange, Principal principal, boolean v1) {
        Map<String, List<String>> params = new QueryStringDecoder(exchange.uri()).parameters();
        String target = first(params, v1 ? "db" : "bucket");
        if (target == null || target.isEmpty()) {
            refuse(exchange, HttpResponseStatus.BAD_REQUEST, v1 ? "missing_database" : "missing_bucket",
                    v1 ? "database is required: send the db query parameter (its value is not used; the API key "
                            + "names the tenant)"
                            : "bucket is required: send the bucket query parameter (its value is not used; the API "
                            + "key names the tenant)");
            return;
        }
        String precisionName = first(params, "precision");
        LineProtocolParser.Precision precision = LineProtocolParser.Precision.parse(precisionName, v1);
        if (precision == null) {
            refuse(exchange, HttpResponseStatus.BAD_REQUEST, "invalid_precision", "precision "
                    + Admission.quote(precisionName) + " is not one of ns, us, ms, s" + (v1 ? " (or n, u, m, h)" : ""));
            return;
        }
        LineProtocolParser.Result result;
        try {
            result = parser.parse(exchange.body(), precision);
        } catch (MalformedBatchException e) {
            refuse(exchange, e.status(), e.code(), e.getMessage()); // InfluxDB's fields beside the error shape
            return;
        }
        if (result.stringFields() > 0) {
            admission.refused(LineProtocolParser.STRING_FIELD, TRANSPORT, result.stringFields());
        }
        ingest.admitSamples(exchange, principal, result.batch(), TRANSPORT, new HttpIngestRoutes.Answer() {
            @Override
            public void durable(HttpExchange exchange, int accepted, ParsedBatch batch) {
                answer(exchange, batch, accepted);
            }

            @Override
            public void noneValid(HttpExchange exchange, ParsedBatch batch) {
                answer(exchange, batch, 0);
            }
        });
    }

    /** 204 when no line was refused, otherwise 400 naming the first refused line. */
    private static void answer(HttpExchange exchange, ParsedBatch batch, int written) {
        if (batch.rejections().isEmpty()) {
            exchange.respond(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT,
                    Unpooled.EMPTY_BUFFER));
            return;
        }
        Rejection first = batch.rejections().get(0);
        long lines = batch.rejections().stream().mapToInt(Rejection::index).distinct().count();
        String message = "partial write: " + first.message() + " (reason " + first.reason() + "); " + lines
                + (lines == 1 ? " line" : " lines") + " refused, " + written
                + (written == 1 ? " sample" : " samples") + " of the other lines written";
        influxError(exchange, HttpResponseStatus.BAD_REQUEST, "invalid_line", message, json -> {
            json.writeNumberField("line", first.index());
            json.writeStringField("reason", first.reason());
            json.writeNumberField("refused_lines", lines);
            json.writeNumberField("written", written);
        });
    }

    /** A request refused whole: counted, and answered in the error shape with InfluxDB's fields beside it. */
    private void refuse(HttpExchange exchange, HttpResponseStatus status, String code, String message) {
        admission.refused(code, TRANSPORT, 1);
        influxError(exchange, status, code, message, null);
    }

    private static void influxError(HttpExchange exchange, HttpResponseStatus status, String code, String message,
                                    io.sluice.gateway.http.Json.Writer details) {
        String influxCode = status == HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE ? "request too large" : "invalid";
        exchange.respondJson(status, ApiErrors.body(status, code, message, details, json -> {
            json.writeStringField("code", influxCode);
            json.writeStringField("message", message);
        }));
    }

    private static String first(Map<String, List<String>> params, String name) {
        List<String> values = params.get(name);
        return values == null || values.isEmpty() ? null : values.get(0);
    }
}
