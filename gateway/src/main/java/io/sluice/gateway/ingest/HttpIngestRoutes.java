package io.sluice.gateway.ingest;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.gateway.ratelimit.RateLimitDecision;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import io.sluice.storage.SeriesIds;
import io.sluice.storage.auth.Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * {@code POST /api/v1/ingest/metrics} and {@code POST /api/v1/ingest/events}.
 *
 * <p>Answers 202 {@code {"accepted": N, "rejected": [{"index", "reason", "message"}]}} only after Kafka
 * acknowledged the accepted items; 400 for a body that is not a batch, 413 for too many items, 422 when
 * no item is valid, 429 when the tenant's item quota is spent, 503 with {@code Retry-After} when the
 * gateway has too much in flight ({@link InFlightLimit}) or the items could not be made durable (nothing
 * was accepted; retry).
 */
public final class HttpIngestRoutes {

    private static final Logger log = LoggerFactory.getLogger(HttpIngestRoutes.class);
    private static final String TRANSPORT = "http";

    private final IngestParser parser;
    private final ActiveSeries activeSeries;
    private final TenantRateLimiter limiter;
    private final IngestPipeline pipeline;
    private final IngestMetrics metrics;
    private final InFlightLimit inFlight;

    public HttpIngestRoutes(IngestParser parser, ActiveSeries activeSeries, TenantRateLimiter limiter,
                            IngestPipeline pipeline, IngestMetrics metrics, InFlightLimit inFlight) {
        this.parser = parser;
        this.activeSeries = activeSeries;
        this.limiter = limiter;
        this.pipeline = pipeline;
        this.metrics = metrics;
        this.inFlight = inFlight;
    }

    public void metrics(HttpExchange exchange, Principal principal) {
        ParsedBatch batch = parse(exchange, true);
        if (batch == null) {
            return;
        }
        List<ParsedBatch.Sample> admitted = new ArrayList<>(batch.samples().size());
        List<Rejection> rejections = new ArrayList<>(batch.rejections());
        for (ParsedBatch.Sample s : batch.samples()) {
            if (activeSeries.admit(principal.tenant(), SeriesIds.of(principal.tenant(), s.series()))) {
                admitted.add(s);
            } else {
                rejections.add(new Rejection(s.index(), Rejection.CARDINALITY_LIMIT, "series " + s.series()
                        + " would exceed the tenant's active-series limit (ingest.max-active-series)"));
            }
        }
        ParsedBatch checked = new ParsedBatch(admitted, List.of(), rejections, batch.total());
        accept(exchange, principal, checked, "samples",
                () -> pipeline.submitSamples(principal.tenant(), admitted));
    }

    public void events(HttpExchange exchange, Principal principal) {
        ParsedBatch batch = parse(exchange, false);
        if (batch == null) {
            return;
        }
        accept(exchange, principal, batch, "events", () -> pipeline.submitEvents(principal.tenant(), batch.events()));
    }

    private ParsedBatch parse(HttpExchange exchange, boolean samples) {
        try {
            return samples ? parser.parseSamples(exchange.body()) : parser.parseEvents(exchange.body());
        } catch (MalformedBatchException e) {
            metrics.rejected(e.code(), TRANSPORT, 1);
            HttpResponseStatus status = e.code().equals("too_many_items")
                    ? HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE : HttpResponseStatus.BAD_REQUEST;
            exchange.error(status, e.code(), e.getMessage());
            return null;
        }
    }

    private void accept(HttpExchange exchange, Principal principal, ParsedBatch batch, String kind,
                        java.util.function.Supplier<CompletableFuture<Void>> submit) {
        for (Rejection r : batch.rejections()) {
            metrics.rejected(r.reason(), TRANSPORT, 1);
        }
        int accepted = batch.accepted();
        if (accepted == 0) {
            exchange.error(HttpResponseStatus.UNPROCESSABLE_ENTITY, "no_valid_items",
                    "none of the " + batch.total() + " " + kind + " is valid", json -> writeRejections(json, batch));
            return;
        }
        long bytes = exchange.body().readableBytes();
        if (!inFlight.tryAcquire(accepted, bytes)) {
            metrics.rejected(InFlightLimit.REJECTION_REASON, TRANSPORT, accepted);
            exchange.responseHeaders().set(HttpHeaderNames.RETRY_AFTER,
                    Math.max(1, InFlightLimit.RETRY_AFTER_MS / 1000));
            exchange.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "saturated", "the gateway has too much data in "
                    + "flight to Kafka (ingest.max-in-flight-items / -bytes); nothing was accepted, retry");
            return;
        }
        RateLimitDecision quota = limiter.tryConsume(principal, TenantRateLimiter.Kind.ITEMS, accepted);
        if (!quota.allowed()) {
            inFlight.release(accepted, bytes);
            metrics.rejected("item_quota", TRANSPORT, accepted);
            quota.addHeaders(exchange.responseHeaders());
            exchange.error(HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limited", quota.neverFits()
                    ? "a batch of " + accepted + " items can never fit the tenant's item quota of " + quota.limit()
                    + " per minute; split it"
                    : "tenant " + principal.tenant() + " is over its item quota of " + quota.limit()
                    + " per minute; retry after " + quota.retryAfterSeconds() + " s");
            return;
        }
        CompletableFuture<Void> durable;
        try {
            durable = submit.get();
        } catch (RuntimeException e) {
            inFlight.release(accepted, bytes);
            log.error("Could not encode an ingest batch", e);
            exchange.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal", "internal error");
            return;
        }
        durable.whenComplete((ok, err) -> inFlight.release(accepted, bytes));
        durable.whenComplete((ok, err) -> exchange.context().executor().execute(() -> {
            if (err != null) {
                metrics.rejected("unavailable", TRANSPORT, accepted);
                log.warn("Ingest batch of {} {} for {} not acknowledged: {}", accepted, kind, principal.tenant(),
                        err.toString());
                exchange.responseHeaders().set(HttpHeaderNames.RETRY_AFTER, 5);
                exchange.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable",
                        "the batch could not be made durable; nothing was accepted, retry");
                return;
            }
            metrics.accepted(kind, TRANSPORT, accepted);
            exchange.respondJson(HttpResponseStatus.ACCEPTED, json -> {
                json.writeStartObject();
                json.writeNumberField("accepted", accepted);
                writeRejections(json, batch);
                json.writeEndObject();
            });
        }));
    }

    private static void writeRejections(com.fasterxml.jackson.core.JsonGenerator json, ParsedBatch batch)
            throws java.io.IOException {
        json.writeArrayFieldStart("rejected");
        for (Rejection r : batch.rejections()) {
            json.writeStartObject();
            json.writeNumberField("index", r.index());
            json.writeStringField("reason", r.reason());
            json.writeStringField("message", r.message());
            json.writeEndObject();
        }
        json.writeEndArray();
    }

}
