package io.sluice.gateway.ingest;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.HttpExchange;
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
 * was accepted; retry). Every rule and gate is {@link Admission}'s; this class maps its verdicts to HTTP.
 */
public final class HttpIngestRoutes {

    private static final Logger log = LoggerFactory.getLogger(HttpIngestRoutes.class);
    private static final String TRANSPORT = "http";

    private final IngestParser parser;
    private final Admission admission;
    private final IngestPipeline pipeline;

    public HttpIngestRoutes(IngestParser parser, Admission admission, IngestPipeline pipeline) {
        this.parser = parser;
        this.admission = admission;
        this.pipeline = pipeline;
    }

    public void metrics(HttpExchange exchange, Principal principal) {
        ParsedBatch batch = parse(exchange, true);
        if (batch == null) {
            return;
        }
        admitSamples(exchange, principal, batch, TRANSPORT, JSON_ANSWER);
    }

    /**
     * How a format answers a batch that passed or failed as a whole; every other answer (429, 503 with
     * {@code Retry-After}, 500) is the same for every format, in the API's error shape.
     */
    public interface Answer {

        /** The {@code accepted} items of {@code batch} are durable; the others are its rejections. */
        void durable(HttpExchange exchange, int accepted, ParsedBatch batch);

        /** No item of {@code batch} was accepted: each was refused (its rejections), or it held none. */
        void noneValid(HttpExchange exchange, ParsedBatch batch);
    }

    private static final Answer JSON_ANSWER = new Answer() {
        @Override
        public void durable(HttpExchange exchange, int accepted, ParsedBatch batch) {
            exchange.respondJson(HttpResponseStatus.ACCEPTED, json -> {
                json.writeStartObject();
                json.writeNumberField("accepted", accepted);
                writeRejections(json, batch);
                json.writeEndObject();
            });
        }

        @Override
        public void noneValid(HttpExchange exchange, ParsedBatch batch) {
            exchange.error(HttpResponseStatus.UNPROCESSABLE_ENTITY, "no_valid_items",
                    "none of the " + batch.total() + " samples is valid", json -> writeRejections(json, batch));
        }
    };

    /**
     * The admission of a decoded batch of samples, whatever format it came in: each item's series against the
     * tenant's cardinality limit — an item (one index: a JSON sample, a line of line protocol, an OTLP data point) is
     * taken or refused whole —, then the batch gates ({@link Admission#admitBatch}), the pipeline, and the answer
     * once Kafka acknowledged (or could not). Rejections are counted under {@code transport}.
     */
    public void admitSamples(HttpExchange exchange, Principal principal, ParsedBatch batch, String transport,
                             Answer answer) {
        List<Rejection> rejections = new ArrayList<>(batch.rejections());
        java.util.BitSet refused = new java.util.BitSet();
        Admission.SeriesGate gate = admission.seriesOf(principal.tenant(), SeriesIds.tenantHash(principal.tenant()));
        for (ParsedBatch.Sample s : batch.samples()) {
            if (refused.get(s.index())) {
                continue;
            }
            Refusal refusal = gate.admit(s.series());
            if (refusal != null) {
                refused.set(s.index());
                rejections.add(Rejection.of(s.index(), refusal));
            }
        }
        List<ParsedBatch.Sample> admitted = new ArrayList<>(batch.samples().size());
        for (ParsedBatch.Sample s : batch.samples()) {
            if (!refused.get(s.index())) {
                admitted.add(s);
            }
        }
        rejections.sort(java.util.Comparator.comparingInt(Rejection::index));
        ParsedBatch checked = new ParsedBatch(admitted, List.of(), rejections, batch.total());
        accept(exchange, principal, checked, "samples", transport, answer,
                () -> pipeline.submitSamples(principal.tenant(), admitted));
    }

    public void events(HttpExchange exchange, Principal principal) {
        ParsedBatch batch = parse(exchange, false);
        if (batch == null) {
            return;
        }
        accept(exchange, principal, batch, "events", TRANSPORT, new Answer() {
            @Override
            public void durable(HttpExchange exchange, int accepted, ParsedBatch batch) {
                JSON_ANSWER.durable(exchange, accepted, batch);
            }

            @Override
            public void noneValid(HttpExchange exchange, ParsedBatch batch) {
                exchange.error(HttpResponseStatus.UNPROCESSABLE_ENTITY, "no_valid_items",
                        "none of the " + batch.total() + " events is valid", json -> writeRejections(json, batch));
            }
        }, () -> pipeline.submitEvents(principal.tenant(), batch.events()));
    }

    /** A body refused whole by its decoder, in any HTTP format: counted once under its code, answered 413 or 400. */
    public void refuseWhole(HttpExchange exchange, MalformedBatchException e, String transport) {
        admission.refused(e.code(), transport, 1);
        exchange.error(e.status(), e.code(), e.getMessage());
    }

    private ParsedBatch parse(HttpExchange exchange, boolean samples) {
        try {
            return samples ? parser.parseSamples(exchange.body()) : parser.parseEvents(exchange.body());
        } catch (MalformedBatchException e) {
            refuseWhole(exchange, e, TRANSPORT);
            return null;
        }
    }

    private void accept(HttpExchange exchange, Principal principal, ParsedBatch batch, String kind, String transport,
                        Answer answer, java.util.function.Supplier<CompletableFuture<Void>> submit) {
        for (Rejection r : batch.rejections()) {
            admission.refused(r.reason(), transport, 1);
        }
        int accepted = batch.accepted();
        if (accepted == 0) {
            answer.noneValid(exchange, batch);
            return;
        }
        long bytes = exchange.body().readableBytes();
        Admission.BatchVerdict verdict = admission.admitBatch(principal, transport, accepted, bytes);
        switch (verdict.outcome()) {
            case ADMITTED -> { }
            case SATURATED -> {
                exchange.responseHeaders().set(HttpHeaderNames.RETRY_AFTER, Math.max(1, verdict.retryAfterMs() / 1000));
                exchange.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "saturated", verdict.refusal().message());
                return;
            }
            case THROTTLED, NEVER_FITS -> {
                verdict.quota().addHeaders(exchange.responseHeaders());
                exchange.error(HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limited", verdict.refusal().message());
                return;
            }
        }
        CompletableFuture<Void> durable;
        try {
            durable = submit.get();
        } catch (RuntimeException e) {
            admission.release(accepted, bytes);
            log.error("Could not encode an ingest batch", e);
            exchange.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal", "internal error");
            return;
        }
        durable.whenComplete((ok, err) -> admission.release(accepted, bytes));
        durable.whenComplete((ok, err) -> exchange.onEventLoop(() -> {
            if (err != null) {
                admission.refused("unavailable", transport, accepted);
                log.warn("Ingest batch of {} {} for {} not acknowledged: {}", accepted, kind, principal.tenant(),
                        err.toString());
                exchange.responseHeaders().set(HttpHeaderNames.RETRY_AFTER, 5);
                exchange.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable",
                        "the batch could not be made durable; nothing was accepted, retry");
                return;
            }
            admission.accepted(principal.tenant(), kind, transport, accepted);
            answer.durable(exchange, accepted, batch);
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
