package io.sluice.gateway.http;

import io.sluice.storage.postgres.PostgresCalls;
import io.sluice.storage.postgres.PostgresUnavailableException;
import org.junit.jupiter.api.Test;
import reactor.core.Exceptions;

import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;

class DependencyErrorsTest {

    @Test
    void theFailureInsideAFuturesWrapperOrReactorsJoinedFailuresIsTheOneMapped() {
        PostgresUnavailableException first = new PostgresUnavailableException("select samples",
                "PostgreSQL did not answer within 2000 ms", null);
        PostgresUnavailableException second = new PostgresUnavailableException("select rollups",
                "PostgreSQL did not answer within 2000 ms", null);
        RuntimeException joined = Exceptions.multiple(first, second);
        assertThat(DependencyErrors.unwrap(joined)).isSameAs(first);
        assertThat(PostgresCalls.isUnavailable(DependencyErrors.unwrap(new CompletionException(joined)))).isTrue();
        assertThat(DependencyErrors.unwrap(new CompletionException(first))).isSameAs(first);
        IllegalStateException fault = new IllegalStateException("a fault");
        assertThat(DependencyErrors.unwrap(fault)).isSameAs(fault);
        RuntimeException empty = Exceptions.multiple();
        assertThat(DependencyErrors.unwrap(empty)).isSameAs(empty);
    }
}
