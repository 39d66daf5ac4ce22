package io.sluice.storage.health;

import reactor.core.publisher.Mono;

/** One dependency the gateway needs, checked without blocking: completes empty when healthy, errors otherwise. */
public interface DependencyCheck {

    /** Short name shown in {@code /health/ready}: {@code kafka}, {@code postgres}. */
    String name();

    /** Runs the check; the caller applies the timeout. */
    Mono<Void> check();
}
