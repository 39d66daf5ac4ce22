package io.sluice.storage.health;

import reactor.core.publisher.Mono;

/**
 * Something an operator must look at that does not stop this process from serving: {@code /health/ready} stays
 * 200 but says {@code "degraded"} and shows the notice. Checked without blocking, like a {@link DependencyCheck}.
 */
public interface HealthNotice {

    /** Short name shown in {@code /health/ready}: {@code dead_letters}. */
    String name();

    /** Completes with what is wrong, or empty when nothing is; the caller applies the timeout. */
    Mono<String> notice();
}
