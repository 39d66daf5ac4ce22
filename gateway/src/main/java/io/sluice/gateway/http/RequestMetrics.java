package io.sluice.gateway.http;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;

/**
 * Request count, errors and latency for one route, by method and status: the golden signals
 * ({@code sluice_http_server_requests_seconds{route,method,status}}); saturation is the connection gauge.
 */
public final class RequestMetrics {

    private final MeterRegistry registry;
    private final String route;
    private final ConcurrentMap<Long, Timer> timers = new ConcurrentHashMap<>();
    /** The timer recorded last, with its key; any thread may replace it (each is a complete pair). */
    private volatile Last last;

    public RequestMetrics(MeterRegistry registry, String route) {
        this.registry = registry;
        this.route = route;
    }

    /** The route's name (its path template), or what answered without a route ({@code unmatched}, {@code shutdown}). */
    String route() {
        return route;
    }

    void record(HttpMethod method, HttpResponseStatus status, long nanos) {
        long key = ((long) method.name().hashCode() << 32) | status.code();
        Last last = this.last;
        if (last != null && last.key == key) { // a route mostly answers one method with one status
            last.timer.record(nanos, TimeUnit.NANOSECONDS);
            return;
        }
        Timer timer = timers.get(key);
        if (timer == null) {
            timer = timers.computeIfAbsent(key, k -> Timer.builder("sluice_http_server_requests")
                    .description("HTTP requests served, by route, method and status")
                    .tag("route", route)
                    .tag("method", method.name())
                    .tag("status", Integer.toString(status.code()))
                    .register(registry));
        }
        this.last = new Last(key, timer);
        timer.record(nanos, TimeUnit.NANOSECONDS);
    }

    private record Last(long key, Timer timer) {
    }
}
