package io.sluice.gateway.health;

import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.HttpExchange;
import io.sluice.storage.health.DependencyCheck;
import io.sluice.storage.health.HealthNotice;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * {@code GET /health/live} (the process serves HTTP) and {@code GET /health/ready} (every dependency
 * answered within {@code server.health-timeout}; otherwise 503 naming each failing check). A ready process with a
 * {@link HealthNotice} (records set aside in dead letters) answers 200 {@code "status": "degraded"} naming it.
 *
 * <p>The checks run concurrently and never on the event loop's time: the answer is written when the
 * last one completes.
 */
public final class HealthRoutes {

    private final List<DependencyCheck> checks;
    private final List<HealthNotice> notices;
    private final Duration timeout;
    private final BooleanSupplier draining;

    public HealthRoutes(List<DependencyCheck> checks, List<HealthNotice> notices, Duration timeout,
                        BooleanSupplier draining) {
        this.checks = List.copyOf(checks);
        this.notices = List.copyOf(notices);
        this.timeout = timeout;
        this.draining = draining;
    }

    public void live(HttpExchange exchange) {
        exchange.respondJson(HttpResponseStatus.OK, json -> {
            json.writeStartObject();
            json.writeStringField("status", "live");
            json.writeEndObject();
        });
    }

    public void ready(HttpExchange exchange) {
        Mono<Map<String, String>> checked = Flux.fromIterable(checks)
                .flatMap(check -> check.check()
                        .timeout(timeout)
                        .then(Mono.just(Map.entry(check.name(), "ok")))
                        .onErrorResume(e -> Mono.just(Map.entry(check.name(), "failed: " + describe(e)))))
                .collectMap(Map.Entry::getKey, Map.Entry::getValue, TreeMap::new);
        // a notice that cannot be read now (its dependency is down) is left out: that check says so already
        Mono<Map<String, String>> noticed = Flux.fromIterable(notices)
                .flatMap(notice -> notice.notice().timeout(timeout).map(text -> Map.entry(notice.name(), text))
                        .onErrorResume(e -> Mono.empty()))
                .collectMap(Map.Entry::getKey, Map.Entry::getValue, TreeMap::new);
        Mono.zip(checked, noticed)
                .subscribe(both -> answer(exchange, both.getT1(), both.getT2()),
                        e -> exchange.error(HttpResponseStatus.SERVICE_UNAVAILABLE, "not_ready", describe(e)));
    }

    private void answer(HttpExchange exchange, Map<String, String> results, Map<String, String> degraded) {
        List<String> failing = results.entrySet().stream().filter(e -> !e.getValue().equals("ok"))
                .map(Map.Entry::getKey).toList();
        boolean shuttingDown = draining.getAsBoolean();
        boolean ready = failing.isEmpty() && !shuttingDown;
        exchange.respondJson(ready ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, json -> {
            json.writeStartObject();
            json.writeStringField("status", ready ? degraded.isEmpty() ? "ready" : "degraded"
                    : shuttingDown ? "shutting_down" : "unavailable");
            if (!failing.isEmpty()) {
                json.writeArrayFieldStart("failing");
                for (String name : failing) {
                    json.writeString(name);
                }
                json.writeEndArray();
            }
            if (!degraded.isEmpty()) {
                json.writeObjectFieldStart("degraded");
                for (Map.Entry<String, String> e : degraded.entrySet()) {
                    json.writeStringField(e.getKey(), e.getValue());
                }
                json.writeEndObject();
            }
            json.writeObjectFieldStart("checks");
            for (Map.Entry<String, String> e : results.entrySet()) {
                json.writeStringField(e.getKey(), e.getValue());
            }
            json.writeEndObject();
            json.writeEndObject();
        });
    }

    private String describe(Throwable e) {
        if (e instanceof TimeoutException) {
            return "no answer within " + timeout.toMillis() + " ms (server.health-timeout)";
        }
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage();
        return root.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }
}
