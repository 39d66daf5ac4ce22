package io.sluice.storage.postgres;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.r2dbc.spi.R2dbcBadGrammarException;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.R2dbcTransientResourceException;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

import java.net.ConnectException;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The deadline rule itself, on calls that never answer or fail in the ways PostgreSQL calls fail. */
class PostgresCallsTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    /** No connection is needed: each call here is given its work. */
    private final PostgresCalls calls = new PostgresCalls(null, Duration.ofMillis(200), registry);

    @Test
    void aCallThatNeverAnswersFailsAtItsDeadlineAndIsCounted() {
        long start = System.nanoTime();
        assertThatThrownBy(() -> calls.call("links.get", Mono.never()).block(Duration.ofSeconds(10)))
                .isInstanceOf(PostgresUnavailableException.class)
                .hasMessage("links.get: PostgreSQL did not answer within 200 ms");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        assertThat(calls.unreachable()).isTrue();
        assertThat(gauge()).isZero();
        assertThat(count("links.get", "deadline")).isEqualTo(1);

        assertThat(calls.call("links.get", Mono.just(1)).block(Duration.ofSeconds(10))).isEqualTo(1);
        assertThat(calls.unreachable()).as("a call that succeeds clears it").isFalse();
        assertThat(gauge()).isEqualTo(1);
    }

    @Test
    void nestedCallsAreBoundedAsAWholeAndCountedOnceUnderTheOutermost() {
        Mono<Object> inner = calls.call("links.insert", Duration.ofSeconds(30), Mono.never());
        assertThatThrownBy(() -> calls.call("links.create", inner).block(Duration.ofSeconds(10)))
                .isInstanceOf(PostgresUnavailableException.class)
                .hasMessageStartingWith("links.create: ");
        assertThat(count("links.create", "deadline")).isEqualTo(1);
        assertThat(registry.find("sluice_postgres_call_failures").tag("operation", "links.insert").counter()).isNull();
    }

    @Test
    void failuresAreToldApartByWhetherPostgresAnswered() {
        R2dbcNonTransientResourceException refused = new R2dbcNonTransientResourceException("connection refused",
                new ConnectException("Connection refused"));
        assertThatThrownBy(() -> calls.call("auth.find", Mono.error(refused)).block()).isSameAs(refused);
        assertThat(calls.unreachable()).isTrue();
        assertThat(count("auth.find", "unreachable")).isEqualTo(1);

        R2dbcBadGrammarException answered = new R2dbcBadGrammarException("syntax error", "42601");
        assertThatThrownBy(() -> calls.call("query.series", Mono.error(answered)).block()).isSameAs(answered);
        assertThat(calls.unreachable()).as("PostgreSQL answered, with an error").isFalse();
        assertThat(count("query.series", "error")).isEqualTo(1);

        assertThat(PostgresCalls.isUnavailable(refused)).isTrue();
        assertThat(PostgresCalls.isUnavailable(new R2dbcTransientResourceException("too many connections", "53300")))
                .isTrue();
        assertThat(PostgresCalls.isUnavailable(new R2dbcNonTransientResourceException("shutting down", "57P01")))
                .isTrue();
        assertThat(PostgresCalls.isUnavailable(answered)).isFalse();
        assertThat(PostgresCalls.isUnavailable(new IllegalStateException("a bug"))).isFalse();
    }

    private double count(String operation, String reason) {
        var counter = registry.find("sluice_postgres_call_failures").tag("operation", operation).tag("reason", reason)
                .counter();
        return counter == null ? 0 : counter.count();
    }

    private double gauge() {
        return registry.get("sluice_postgres_reachable").gauge().value();
    }
}
