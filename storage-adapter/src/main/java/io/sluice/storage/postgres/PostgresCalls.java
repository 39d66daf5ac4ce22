package io.sluice.storage.postgres;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.R2dbcException;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.R2dbcTimeoutException;
import io.r2dbc.spi.R2dbcTransientResourceException;
import io.sluice.config.Settings;
import reactor.core.publisher.Mono;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The one rule for every PostgreSQL call made while serving a request: it has a deadline
 * ({@code postgres.call-timeout} unless the caller names another), a call that passes it is cancelled and fails
 * with {@link PostgresUnavailableException}, and every failure is counted in
 * {@code sluice_postgres_call_failures_total{operation,reason}} ({@code deadline}, {@code unreachable} or
 * {@code error}). It also remembers whether PostgreSQL answered its last call ({@link #unreachable()},
 * {@code sluice_postgres_reachable}), so that callers with a fallback (stale verdicts) need not wait for a deadline
 * each time during an outage.
 *
 * <p>The deadline runs on Reactor's parallel scheduler; nothing here blocks.
 */
public final class PostgresCalls {

    /** What a caller tells its client to wait before trying again after a failure here. */
    public static final Duration RETRY_AFTER = Duration.ofSeconds(5);

    /** Context key: set inside a call, so that nested calls leave the counting to the outermost one. */
    private static final Object NESTED = PostgresCalls.class.getName() + ".nested";

    private final ConnectionFactory connections;
    private final Duration deadline;
    private final MeterRegistry registry;
    private final AtomicBoolean unreachable = new AtomicBoolean();

    /**
     * @param connections the pool every call takes its connection from
     * @param deadline    {@code postgres.call-timeout}
     */
    public PostgresCalls(ConnectionFactory connections, Duration deadline, MeterRegistry registry) {
        this.connections = connections;
        this.deadline = deadline;
        this.registry = registry;
        Gauge.builder("sluice_postgres_reachable", unreachable, u -> u.get() ? 0 : 1)
                .description("1 when PostgreSQL answered the gateway's last call, 0 when that call failed to reach it "
                        + "or passed its deadline").strongReference(true).register(registry);
    }

    /** Calls with the default {@code postgres.call-timeout}, counted in a registry of their own (commands, tests). */
    public static PostgresCalls withDefaultDeadline(ConnectionFactory connections) {
        Duration deadline = Settings.POSTGRES_CALL_TIMEOUT.parse(Settings.POSTGRES_CALL_TIMEOUT.defaultValue());
        return new PostgresCalls(connections, deadline, new SimpleMeterRegistry());
    }

    public ConnectionFactory connections() {
        return connections;
    }

    /** {@code postgres.call-timeout}. */
    public Duration deadline() {
        return deadline;
    }

    /** {@code work} within {@code postgres.call-timeout}. */
    public <T> Mono<T> call(String operation, Mono<T> work) {
        return call(operation, deadline, work);
    }

    /**
     * {@code work} within {@code deadline}: cancelled when it passes (so its connection goes back to the pool), and
     * then failing with {@link PostgresUnavailableException}. Calls may nest (an operation made of several calls
     * bounded as a whole); a failure is counted once, under the outermost call's operation.
     */
    public <T> Mono<T> call(String operation, Duration deadline, Mono<T> work) {
        return Mono.deferContextual(context -> {
            boolean outermost = !context.hasKey(NESTED);
            return work.contextWrite(c -> c.put(NESTED, Boolean.TRUE))
                    .timeout(deadline)
                    .onErrorMap(TimeoutException.class, e -> PostgresUnavailableException.deadline(operation, deadline))
                    .doOnSuccess(v -> unreachable.set(false))
                    .doOnError(e -> failed(operation, e, outermost));
        });
    }

    /** Whether the last call that ended failed to reach PostgreSQL (or passed its deadline). */
    public boolean unreachable() {
        return unreachable.get();
    }

    private void failed(String operation, Throwable e, boolean count) {
        boolean down = isUnreachable(e);
        if (down) {
            unreachable.set(true);
        } else if (e instanceof R2dbcException) {
            unreachable.set(false); // it answered, with an error
        }
        if (!count) {
            return;
        }
        String reason = e instanceof PostgresUnavailableException && e.getCause() == null ? "deadline"
                : down ? "unreachable" : "error";
        Counter.builder("sluice_postgres_call_failures")
                .description("PostgreSQL calls made while serving requests that failed, by operation and reason "
                        + "(deadline: no answer within the call's deadline; unreachable: no connection; error: "
                        + "PostgreSQL refused the statement)")
                .tag("operation", operation).tag("reason", reason).register(registry).increment();
    }

    /**
     * Whether a failure means PostgreSQL could not be asked or did not answer (as opposed to answering with an
     * error): a passed deadline, a connection that could not be opened or broke, a server shutting down.
     */
    public static boolean isUnreachable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof PostgresUnavailableException || t instanceof TimeoutException || t instanceof IOException) {
                return true;
            }
            if (t instanceof R2dbcException r) {
                String state = r.getSqlState();
                if (state != null && !state.isEmpty()) {
                    // 08: connection exception; 57P01-57P03: shutting down, crashed, cannot connect now
                    return state.startsWith("08") || state.startsWith("57P");
                }
                if (r instanceof R2dbcNonTransientResourceException || r instanceof R2dbcTransientResourceException
                        || r instanceof R2dbcTimeoutException) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Whether a failure is worth retrying later as it is: PostgreSQL unreachable or too slow, or a transient
     * refusal ({@link PostgresFailures#isTransient}). Anything else is a fault in the request or in Sluice.
     */
    public static boolean isUnavailable(Throwable e) {
        return PostgresFailures.isTransient(e) || isUnreachable(e);
    }
}
