package io.sluice.storage.health;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/** Exports a circuit breaker's state as a gauge: 0 closed, 1 half-open, 2 open (or any other state). */
public final class BreakerGauge {

    private BreakerGauge() {
    }

    public static void register(MeterRegistry registry, String name, String what, CircuitBreaker breaker) {
        Gauge.builder(name, breaker, b -> switch (b.getState()) {
                    case CLOSED -> 0;
                    case HALF_OPEN -> 1;
                    default -> 2;
                }).description(what + " circuit breaker: 0 closed, 1 half-open, 2 open").register(registry);
    }
}
