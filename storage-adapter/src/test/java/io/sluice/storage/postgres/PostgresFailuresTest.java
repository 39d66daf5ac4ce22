package io.sluice.storage.postgres;

import io.r2dbc.spi.R2dbcBadGrammarException;
import io.r2dbc.spi.R2dbcDataIntegrityViolationException;
import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.R2dbcPermissionDeniedException;
import io.r2dbc.spi.R2dbcRollbackException;
import io.r2dbc.spi.R2dbcTimeoutException;
import io.r2dbc.spi.R2dbcTransientResourceException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

/** Which PostgreSQL failures are worth retrying, by SQLSTATE class and by exception type. */
class PostgresFailuresTest {

    @ParameterizedTest(name = "{0} permanent: {1}")
    @CsvSource({"22003,true", "22P02,true", "23505,true", "23514,true", "42P01,true", "54000,true",
            "08006,false", "08001,false", "53300,false", "57P01,false", "57014,false", "40001,false", "40P01,false",
            "55P03,false", "58030,false", "XX000,false"})
    void bySqlState(String state, boolean permanent) {
        R2dbcBadGrammarException e = new R2dbcBadGrammarException("refused", state);
        assertThat(PostgresFailures.isPermanent(e)).isEqualTo(permanent);
        assertThat(PostgresFailures.isPermanent(new CompletionException(e))).isEqualTo(permanent);
        assertThat(PostgresFailures.sqlState(e)).isEqualTo(state);
    }

    @Test
    void transientKindsAndErrorsWithoutAStateAreRetried() {
        assertThat(PostgresFailures.isPermanent(new R2dbcTransientResourceException("busy", "23505"))).isFalse();
        assertThat(PostgresFailures.isPermanent(new R2dbcTimeoutException("slow"))).isFalse();
        assertThat(PostgresFailures.isPermanent(new R2dbcRollbackException("serialization", "40001"))).isFalse();
        assertThat(PostgresFailures.isPermanent(new R2dbcNonTransientResourceException("connection lost"))).isFalse();
        assertThat(PostgresFailures.isPermanent(new R2dbcPermissionDeniedException("no"))).isFalse();
        assertThat(PostgresFailures.isPermanent(new TimeoutException())).isFalse();
        assertThat(PostgresFailures.isPermanent(new IOException("reset"))).isFalse();
        assertThat(PostgresFailures.isPermanent(new IllegalStateException("?"))).isFalse();
        assertThat(PostgresFailures.isPermanent(new R2dbcDataIntegrityViolationException("dup", "23505"))).isTrue();
    }
}
