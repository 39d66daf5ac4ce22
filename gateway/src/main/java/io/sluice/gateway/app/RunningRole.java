package io.sluice.gateway.app;

import io.sluice.storage.health.DependencyCheck;
import io.sluice.storage.health.HealthNotice;

import java.util.List;

/**
 * One role running in a process ({@code roles=}): it starts in its factory, serves until {@link #close()}, and closes
 * gracefully (finishing what it accepted) and idempotently. {@link SluiceProcess} starts the configured roles and
 * stops them; a new role (the alert evaluator) is one more {@link io.sluice.config.Role} and one more case there.
 */
public interface RunningRole extends AutoCloseable {

    /** The role's name as {@code roles=} spells it. */
    String name();

    /** What this role needs to do its work; a process's {@code /health/ready} runs every role's checks. */
    List<DependencyCheck> readiness();

    /** What an operator should look at without the role being unready ({@code "degraded"}). */
    default List<HealthNotice> notices() {
        return List.of();
    }

    /** Graceful stop; safe to call more than once. */
    @Override
    void close();
}
