package io.sluice.storage.alerting.notify;

import io.r2dbc.spi.Connection;
import io.r2dbc.spi.Readable;
import io.sluice.config.AlertingConfig;
import io.sluice.storage.postgres.PostgresCalls;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Sends what the outbox holds: claims due rows (a lease, {@code FOR UPDATE SKIP LOCKED}), POSTs each payload to its
 * receiver with {@code Idempotency-Key} (the same for every retry of one notification) within
 * {@code alerting.webhook-timeout}, and then
 * <ul>
 *   <li>2xx: deletes the row (sent);</li>
 *   <li>a network error, a timeout, 5xx, 408 or 429: attempts + 1, next attempt after a backoff with full jitter,
 *   {@code random(0, min(retry-max-backoff, retry-initial-backoff · 2^(attempts − 1)))} (failed, retried);</li>
 *   <li>any other status, a receiver deleted meanwhile, or a row older than {@code alerting.delivery-max-age}:
 *   deletes the row (dropped, logged).</li>
 * </ul>
 * Rows stay until then, so a notification accepted for delivery is delivered at least once across restarts (a
 * sender that stopped mid-attempt leaves its lease to expire).
 */
final class Delivery {

    private static final Logger log = LoggerFactory.getLogger(Delivery.class);

    private final PostgresCalls calls;
    private final AlertingConfig config;
    private final String node;
    private final Clock clock;
    private final Random random;
    private final NotificationMetrics metrics;
    private final HttpClient http;
    private final Duration lease;

    Delivery(PostgresCalls calls, AlertingConfig config, String node, Clock clock, Random random,
             NotificationMetrics metrics) {
        this.calls = calls;
        this.config = config;
        this.node = node;
        this.clock = clock;
        this.random = random;
        this.metrics = metrics;
        this.http = HttpClient.newBuilder().connectTimeout(config.webhookTimeout())
                .followRedirects(HttpClient.Redirect.NEVER).build();
        // an attempt, then the call that records its outcome, with room to spare
        this.lease = config.webhookTimeout().plus(calls.deadline()).multipliedBy(2);
    }

    /** One claimed outbox row with its receiver's address (null url: the receiver is gone). */
    record Claimed(long id, String tenant, String receiver, String key, String payload, Instant createdAt,
                   int attempts, String url, Map<String, String> headers) {
    }

    /** Claims at most {@code limit} due rows. */
    Mono<List<Claimed>> claim(int limit) {
        Instant now = now();
        String sql = "UPDATE alert_outbox o SET lease_owner = $1, lease_until = $2 FROM (SELECT q.id, r.url, "
                + "r.headers::text AS headers FROM alert_outbox q LEFT JOIN alert_receivers r ON r.tenant_id = "
                + "q.tenant_id AND r.name = q.receiver WHERE q.next_attempt_at <= $3 AND (q.lease_until IS NULL "
                + "OR q.lease_until <= $3) ORDER BY q.next_attempt_at, q.id LIMIT $4 FOR UPDATE OF q SKIP LOCKED) due "
                + "WHERE o.id = due.id RETURNING o.id, o.tenant_id, o.receiver, o.idempotency_key, o.payload::text, "
                + "o.created_at, o.attempts, due.url, due.headers";
        return calls.call("alerting.outbox_claim", Mono.usingWhen(calls.connections().create(),
                c -> Flux.from(c.createStatement(sql).bind("$1", node).bind("$2", now.plus(lease)).bind("$3", now)
                                .bind("$4", limit).execute())
                        .flatMap(r -> r.map(Delivery::claimed)).collectList(),
                Connection::close));
    }

    private static Claimed claimed(Readable row) {
        String headers = row.get(8, String.class);
        return new Claimed(row.get(0, Long.class), row.get(1, String.class), row.get(2, String.class),
                row.get(3, String.class), row.get(4, String.class), NotifyStore.instant(row, 5),
                row.get(6, Integer.class), row.get(7, String.class),
                headers == null ? Map.of() : JsonTree.stringMap(JsonTree.parse(headers), "headers"));
    }

    /** Delivers one claimed row and records the outcome; never fails (a failure to record is logged). */
    Mono<Void> deliver(Claimed row) {
        return attempt(row).onErrorResume(e -> {
            log.warn("The outcome of notification {} to {} of tenant {} could not be recorded: {} (it is tried again "
                    + "once its lease ends)", row.key(), row.receiver(), row.tenant(), e.toString());
            return Mono.empty();
        });
    }

    private Mono<Void> attempt(Claimed row) {
        if (row.url() == null) {
            return drop(row, "its receiver was deleted");
        }
        if (!now().isBefore(row.createdAt().plus(config.deliveryMaxAge()))) {
            return drop(row, "not delivered within alerting.delivery-max-age (" + config.deliveryMaxAge() + ")");
        }
        long began = System.nanoTime();
        return send(row)
                .map(status -> (Object) status)
                .onErrorResume(e -> Mono.just(describe(e)))
                .flatMap(outcome -> {
                    Duration took = Duration.ofNanos(System.nanoTime() - began);
                    if (outcome instanceof String error) {
                        metrics.attempt("retry", took);
                        return retry(row, error);
                    }
                    int status = (Integer) outcome;
                    if (status >= 200 && status < 300) {
                        metrics.attempt("ok", took);
                        return delete(row).doOnSuccess(v -> metrics.count(row.tenant(), row.receiver(),
                                NotificationMetrics.SENT));
                    }
                    if (status >= 500 || status == 408 || status == 429) {
                        metrics.attempt("retry", took);
                        return retry(row, "HTTP " + status);
                    }
                    metrics.attempt("drop", took);
                    metrics.count(row.tenant(), row.receiver(), NotificationMetrics.FAILED);
                    return drop(row, "the receiver answered HTTP " + status);
                });
    }

    private Mono<Integer> send(Claimed row) {
        return Mono.defer(() -> {
                    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(row.url()))
                            .timeout(config.webhookTimeout())
                            .header("Content-Type", "application/json")
                            .header("Idempotency-Key", row.key())
                            .header("User-Agent", "Sluice-Alerting");
                    row.headers().forEach(request::header);
                    return Mono.fromFuture(http.sendAsync(request.POST(HttpRequest.BodyPublishers.ofString(
                            row.payload())).build(), HttpResponse.BodyHandlers.discarding()), true);
                })
                .subscribeOn(Schedulers.boundedElastic()) // sendAsync may take locks while it queues the request
                .timeout(config.webhookTimeout().plusSeconds(1)) // the client's own deadline, in case it has none
                .map(HttpResponse::statusCode);
    }

    private static String describe(Throwable e) {
        Throwable cause = e.getCause() != null && e instanceof java.util.concurrent.CompletionException
                ? e.getCause() : e;
        if (cause instanceof HttpTimeoutException || cause instanceof java.util.concurrent.TimeoutException) {
            return "timed out";
        }
        return cause.getClass().getSimpleName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
    }

    private Mono<Void> retry(Claimed row, String error) {
        metrics.count(row.tenant(), row.receiver(), NotificationMetrics.FAILED);
        int attempts = row.attempts() + 1;
        Instant now = now();
        Instant next = now.plus(RetryBackoff.delay(attempts, config.retryInitialBackoff(), config.retryMaxBackoff(), random));
        if (!next.isBefore(row.createdAt().plus(config.deliveryMaxAge()))) {
            return drop(row, error + "; not delivered within alerting.delivery-max-age (" + config.deliveryMaxAge()
                    + ")");
        }
        log.info("Notification {} to {} of tenant {} failed ({}); attempt {} at {}", row.key(), row.receiver(),
                row.tenant(), error, attempts + 1, next);
        return update("alerting.outbox_retry", "UPDATE alert_outbox SET attempts = $3, next_attempt_at = $4, "
                        + "last_error = $5, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
                List.of(row.id(), node, attempts, next, error))
                .doOnSuccess(v -> metrics.count(row.tenant(), row.receiver(), NotificationMetrics.RETRIED));
    }

    private Mono<Void> drop(Claimed row, String why) {
        log.warn("Dropped notification {} to {} of tenant {} after {} attempt(s): {}", row.key(), row.receiver(),
                row.tenant(), row.attempts() + (why.startsWith("the receiver answered") ? 1 : 0), why);
        return delete(row).doOnSuccess(v -> metrics.count(row.tenant(), row.receiver(), NotificationMetrics.DROPPED));
    }

    private Mono<Void> delete(Claimed row) {
        return update("alerting.outbox_delete", "DELETE FROM alert_outbox WHERE id = $1 AND lease_owner = $2",
                List.of(row.id(), node));
    }

    private Mono<Void> update(String operation, String sql, List<Object> binds) {
        return calls.call(operation, Mono.usingWhen(calls.connections().create(),
                c -> Flux.from(NotifyStore.bind(c.createStatement(sql), binds).execute())
                        .flatMap(r -> r.getRowsUpdated()).then(),
                Connection::close));
    }

    private Instant now() {
        return clock.instant().truncatedTo(ChronoUnit.MICROS);
    }
}
